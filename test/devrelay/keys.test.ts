import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { hashApiKey } from "../../src/devrelay/api-key.ts";
import type { DevRelay } from "../../src/devrelay/index.ts";
import { ADMIN_KEY, call, relayForTest } from "./support.ts";

let relay: DevRelay | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await relay?.close();
  relay = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "devrelay-keys-"));
  dirs.push(dir);
  return dir;
}

describe("API keys over HTTP", () => {
  it("creates a key shown once, stores only its hash, and lists it without the value", async () => {
    const dataDir = tempDir();
    relay = await relayForTest({ dataDir });
    const created = await call(relay, "POST", "/api/v1/api-keys", {
      body: { name: "ci", scopes: ["gateway:*"], expires_at: "2099-01-01T00:00:00Z" },
    });
    expect(created.status).toBe(201);
    const { key, id } = created.body;
    expect(key).toMatch(/^hybro_[0-9A-Za-z]{40}$/);
    expect(created.body).toMatchObject({
      name: "ci",
      user_id: "admin",
      scopes: ["gateway:*"],
      expires_at: "2099-01-01T00:00:00.000Z",
      revoked_at: null,
      last_used_at: null,
      prefix: key.slice(0, 10),
    });
    const listed = await call(relay, "GET", "/api/v1/api-keys");
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain(key);
    expect(listed.body.keys.map((k: { id: string }) => k.id)).toContain(id);
    expect((await call(relay, "GET", `/api/v1/api-keys/${id}`)).body).not.toHaveProperty("key");

    // at rest: only the SHA-256, never the key or the admin key
    await relay.close();
    relay = undefined;
    const file = join(dataDir, "relay.sqlite");
    const db = new DatabaseSync(file, { readOnly: true });
    const rows = db.prepare("SELECT * FROM api_keys").all();
    db.close();
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(JSON.stringify(rows)).not.toContain(ADMIN_KEY);
    expect(rows.some((row) => row.key_hash === hashApiKey(key))).toBe(true);
    for (const name of ["relay.sqlite", "relay.sqlite-wal"]) {
      try {
        const bytes = readFileSync(join(dataDir, name)).toString("latin1");
        expect(bytes).not.toContain(key);
        expect(bytes).not.toContain(ADMIN_KEY);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    // and the key still works after a restart on the same file
    relay = await relayForTest({ dataDir });
    expect((await call(relay, "GET", "/api/v1/auth/verify", { key })).body).toMatchObject({
      valid: true,
      key_id: id,
    });
  });

  it("verifies with X-API-Key or Bearer, and says why a key is refused", async () => {
    relay = await relayForTest();
    const { key, id } = relay.createKey({ userId: "alice", name: "gw", scopes: ["gateway:read"] });
    const viaHeader = await call(relay, "GET", "/api/v1/auth/verify", { key });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.body).toEqual({
      valid: true,
      key_id: id,
      user_id: "alice",
      name: "gw",
      scopes: ["gateway:read"],
      expires_at: null,
    });
    const viaBearer = await call(relay, "GET", "/api/v1/auth/verify", {
      key: null,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(viaBearer.body.key_id).toBe(id);

    const missing = await call(relay, "GET", "/api/v1/auth/verify", { key: null });
    expect([missing.status, missing.body.detail.error]).toEqual([401, "missing_api_key"]);
    const basic = await call(relay, "GET", "/api/v1/auth/verify", {
      key: null,
      headers: { authorization: "Basic abc" },
    });
    expect(basic.body.detail.error).toBe("missing_api_key");
    for (const bad of ["nope", `hybro_${"z".repeat(40)}`, `${key}x!`]) {
      const answer = await call(relay, "GET", "/api/v1/auth/verify", { key: bad });
      expect([answer.status, answer.body.detail.error]).toEqual([401, "invalid_api_key"]);
      expect(answer.headers.get("x-ratelimit-limit")).toBeNull();
    }
    expect(relay.revokeKey(id)).toBe(true);
    const revoked = await call(relay, "GET", "/api/v1/auth/verify", { key });
    expect([revoked.status, revoked.body.detail.error]).toEqual([401, "revoked_api_key"]);

    const expiring = relay.createKey({
      userId: "alice",
      name: "short",
      scopes: ["*"],
      expiresAt: "2000-01-01T00:00:00Z",
    });
    const expired = await call(relay, "GET", "/api/v1/auth/verify", { key: expiring.key });
    expect([expired.status, expired.body.detail.error]).toEqual([401, "expired_api_key"]);
  });

  it("checks scopes, with area and * wildcards", async () => {
    relay = await relayForTest();
    const readOnly = relay.createKey({ userId: "alice", name: "r", scopes: ["gateway:read"] }).key;
    const gatewayAll = relay.createKey({ userId: "alice", name: "g", scopes: ["gateway:*"] }).key;
    const denied = await call(relay, "POST", "/api/v1/discovery/agents", {
      key: readOnly,
      body: { query: "x" },
    });
    expect(denied.status).toBe(403);
    expect(denied.body.detail).toMatchObject({
      error: "insufficient_scope",
      required_scope: "discovery:read",
      provided_scopes: ["gateway:read"],
    });
    expect(
      (
        await call(relay, "POST", "/api/v1/gateway/agents/discover", {
          key: readOnly,
          body: { query: "x" },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await call(relay, "POST", "/api/v1/gateway/agents/discover", {
          key: gatewayAll,
          body: { query: "x" },
        })
      ).status,
    ).toBe(200);
    const send = await call(relay, "POST", "/api/v1/gateway/agents/agt_000000000000/message/send", {
      key: readOnly,
      body: { message: { parts: [{ text: "x" }] } },
    });
    expect(send.body.detail).toMatchObject({
      error: "insufficient_scope",
      required_scope: "gateway:send",
    });
    // gateway:* passes the scope check; the agent does not exist
    const sendAll = await call(
      relay,
      "POST",
      "/api/v1/gateway/agents/agt_000000000000/message/send",
      {
        key: gatewayAll,
        body: { message: { parts: [{ text: "x" }] } },
      },
    );
    expect(sendAll.status).toBe(404);
    const hubDenied = await call(relay, "GET", "/api/v1/relay/hub/status", { key: gatewayAll });
    expect(hubDenied.body.detail.required_scope).toBe("relay:hub");
    const keysDenied = await call(relay, "GET", "/api/v1/api-keys", { key: gatewayAll });
    expect(keysDenied.body.detail.required_scope).toBe("keys:admin");
  });

  it("renames, rescopes, expires and revokes via PATCH/DELETE; keys stay within their user", async () => {
    relay = await relayForTest();
    const aliceAdmin = relay.createKey({
      userId: "alice",
      name: "admin",
      scopes: ["keys:admin", "gateway:*"],
    }).key;
    const bobAdmin = relay.createKey({ userId: "bob", name: "admin", scopes: ["keys:admin"] }).key;
    const made = await call(relay, "POST", "/api/v1/api-keys", {
      key: aliceAdmin,
      body: { name: "tool", scopes: ["gateway:read"] },
    });
    expect(made.status).toBe(201);
    expect(made.body.user_id).toBe("alice");
    const { id, key } = made.body;

    const patched = await call(relay, "PATCH", `/api/v1/api-keys/${id}`, {
      key: aliceAdmin,
      body: { name: "tool2", scopes: ["gateway:send"], expires_at: "2098-05-05T00:00:00Z" },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: "tool2",
      scopes: ["gateway:send"],
      expires_at: "2098-05-05T00:00:00.000Z",
    });
    expect((await call(relay, "GET", "/api/v1/auth/verify", { key })).body).toMatchObject({
      name: "tool2",
      scopes: ["gateway:send"],
    });
    const cleared = await call(relay, "PATCH", `/api/v1/api-keys/${id}`, {
      key: aliceAdmin,
      body: { expires_at: null },
    });
    expect(cleared.body.expires_at).toBeNull();

    // escalation and cross-user access are refused
    const escalate = await call(relay, "PATCH", `/api/v1/api-keys/${id}`, {
      key: aliceAdmin,
      body: { scopes: ["*"] },
    });
    expect(escalate.body.detail).toMatchObject({
      error: "insufficient_scope",
      required_scope: "*",
    });
    const otherUser = await call(relay, "POST", "/api/v1/api-keys", {
      key: aliceAdmin,
      body: { name: "x", scopes: ["gateway:read"], user_id: "bob" },
    });
    expect(otherUser.status).toBe(403);
    expect((await call(relay, "DELETE", `/api/v1/api-keys/${id}`, { key: bobAdmin })).status).toBe(
      404,
    );
    expect(
      (await call(relay, "PATCH", `/api/v1/api-keys/${id}`, { key: bobAdmin, body: { name: "x" } }))
        .status,
    ).toBe(404);
    expect(
      (await call(relay, "GET", "/api/v1/api-keys", { key: bobAdmin })).body.keys.map(
        (k: { name: string }) => k.name,
      ),
    ).toEqual(["admin"]);

    // the * admin key may create keys for any user
    const forCarol = await call(relay, "POST", "/api/v1/api-keys", {
      body: { name: "c", scopes: ["relay:hub"], user_id: "carol" },
    });
    expect(forCarol.body.user_id).toBe("carol");

    // validation
    const badScope = await call(relay, "POST", "/api/v1/api-keys", {
      body: { name: "x", scopes: ["root"] },
    });
    expect([badScope.status, badScope.body.detail.field]).toEqual([422, "scopes"]);
    const badExpiry = await call(relay, "POST", "/api/v1/api-keys", {
      body: { name: "x", scopes: ["*"], expires_at: "soon" },
    });
    expect([badExpiry.status, badExpiry.body.detail.field]).toEqual([422, "expires_at"]);
    const emptyPatch = await call(relay, "PATCH", `/api/v1/api-keys/${id}`, {
      key: aliceAdmin,
      body: {},
    });
    expect(emptyPatch.status).toBe(422);

    const revoked = await call(relay, "DELETE", `/api/v1/api-keys/${id}`, { key: aliceAdmin });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    expect((await call(relay, "GET", "/api/v1/auth/verify", { key })).body.detail.error).toBe(
      "revoked_api_key",
    );
    expect(
      (await call(relay, "DELETE", "/api/v1/api-keys/key_..%2f..", { key: aliceAdmin })).status,
    ).toBe(400);
    expect(
      (await call(relay, "DELETE", "/api/v1/api-keys/key_0000000000000000", { key: aliceAdmin }))
        .status,
    ).toBe(404);
  });

  it("records last_used_at at most once per interval", async () => {
    relay = await relayForTest({ lastUsedWriteIntervalMs: 200, keyCacheTtlMs: 0 });
    const { key, id } = relay.createKey({ userId: "alice", name: "x", scopes: ["*"] });
    expect(relay.listKeys().find((k) => k.id === id)?.last_used_at).toBeNull();
    await call(relay, "GET", "/api/v1/auth/verify", { key });
    const first = relay.listKeys().find((k) => k.id === id)?.last_used_at;
    expect(first).toEqual(expect.any(String));
    await call(relay, "GET", "/api/v1/auth/verify", { key });
    expect(relay.listKeys().find((k) => k.id === id)?.last_used_at).toBe(first);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await call(relay, "GET", "/api/v1/auth/verify", { key });
    expect(
      Date.parse(relay.listKeys().find((k) => k.id === id)?.last_used_at ?? ""),
    ).toBeGreaterThan(Date.parse(first ?? ""));
  });

  it("refuses an admin key of the wrong format", async () => {
    await expect(relayForTest({ adminKey: "hybro_short" })).rejects.toThrow(/at least 32/);
  });
});

// Issue 15, finding 2: a `*` key of one user administered every user's keys, and a narrower
// `keys:admin` key could revoke, expire or narrow a wider key of its own user.
describe("key administration stays within the user and within the key's own scopes", () => {
  const verifies = async (key: string) =>
    (await call(relay as DevRelay, "GET", "/api/v1/auth/verify", { key })).body;

  it("alice's * key cannot create, list, change or revoke bob's keys; the operator's can", async () => {
    relay = await relayForTest();
    // What `relay keys create --user alice --scope '*'` makes (the CLI writes the same key ring).
    const alice = relay.createKey({ userId: "alice", name: "alice-all", scopes: ["*"] }).key;
    const bob = relay.createKey({ userId: "bob", name: "bob-own", scopes: ["*"] });

    const forBob = await call(relay, "POST", "/api/v1/api-keys", {
      key: alice,
      body: { name: "planted", scopes: ["*"], user_id: "bob" },
    });
    expect([forBob.status, forBob.body.detail.error]).toEqual([403, "operator_required"]);
    expect(relay.listKeys("bob").map((k) => k.name)).toEqual(["bob-own"]);

    const listed = await call(relay, "GET", "/api/v1/api-keys?user_id=bob", { key: alice });
    expect([listed.status, listed.body.detail.error]).toEqual([403, "operator_required"]);
    const own = await call(relay, "GET", "/api/v1/api-keys", { key: alice });
    expect(own.body.keys.map((k: { user_id: string }) => k.user_id)).toEqual(["alice"]);

    for (const [method, body] of [
      ["GET", undefined],
      ["PATCH", { scopes: ["gateway:read"] }],
      ["DELETE", undefined],
    ] as const) {
      const answer = await call(relay, method, `/api/v1/api-keys/${bob.id}`, { key: alice, body });
      expect(answer.status, method).toBe(404);
    }
    expect(await verifies(bob.key)).toMatchObject({ valid: true, scopes: ["*"] });

    // The relay operator (the admin key the relay was started with) administers every user.
    const made = await call(relay, "POST", "/api/v1/api-keys", {
      body: { name: "by-operator", scopes: ["gateway:read"], user_id: "bob" },
    });
    expect([made.status, made.body.user_id]).toEqual([201, "bob"]);
    const bobs = await call(relay, "GET", "/api/v1/api-keys?user_id=bob");
    expect(bobs.body.keys.map((k: { name: string }) => k.name).sort()).toEqual([
      "bob-own",
      "by-operator",
    ]);
    const all = await call(relay, "GET", "/api/v1/api-keys");
    expect(new Set(all.body.keys.map((k: { user_id: string }) => k.user_id))).toEqual(
      new Set(["admin", "alice", "bob"]),
    );
    expect((await call(relay, "DELETE", `/api/v1/api-keys/${bob.id}`)).status).toBe(200);
    expect((await verifies(bob.key)).detail.error).toBe("revoked_api_key");
  });

  it("a keys:admin key cannot revoke, expire, narrow or rename a wider key of its own user", async () => {
    relay = await relayForTest();
    const wide = relay.createKey({ userId: "alice", name: "wide", scopes: ["*"] });
    const hub = relay.createKey({
      userId: "alice",
      name: "hub",
      scopes: ["relay:hub", "gateway:*"],
    });
    const narrow = relay.createKey({
      userId: "alice",
      name: "keys",
      scopes: ["keys:admin", "gateway:*"],
    });
    const tool = relay.createKey({ userId: "alice", name: "tool", scopes: ["gateway:read"] });

    for (const target of [wide, hub]) {
      for (const [method, body] of [
        ["DELETE", undefined],
        ["PATCH", { scopes: ["gateway:read"] }],
        ["PATCH", { expires_at: "2000-01-01T00:00:00Z" }],
        ["PATCH", { name: "renamed" }],
      ] as const) {
        const answer = await call(relay, method, `/api/v1/api-keys/${target.id}`, {
          key: narrow.key,
          body,
        });
        expect(
          [answer.status, answer.body.detail.error],
          `${method} ${JSON.stringify(body)}`,
        ).toEqual([403, "insufficient_scope"]);
      }
    }
    expect(await verifies(wide.key)).toMatchObject({ valid: true, name: "wide", scopes: ["*"] });
    expect(await verifies(hub.key)).toMatchObject({
      valid: true,
      name: "hub",
      scopes: ["relay:hub", "gateway:*"],
      expires_at: null,
    });

    // Keys within its own scopes it manages, itself included.
    const narrowed = await call(relay, "PATCH", `/api/v1/api-keys/${tool.id}`, {
      key: narrow.key,
      body: { scopes: ["gateway:send"], expires_at: "2099-01-01T00:00:00Z" },
    });
    expect(narrowed.status).toBe(200);
    expect(
      (await call(relay, "DELETE", `/api/v1/api-keys/${tool.id}`, { key: narrow.key })).status,
    ).toBe(200);
    expect(
      (await call(relay, "DELETE", `/api/v1/api-keys/${narrow.id}`, { key: narrow.key })).status,
    ).toBe(200);
  });

  it("no user key touches the operator's key, and a key never makes one that outlives it", async () => {
    relay = await relayForTest();
    const operator = relay.listKeys().find((k) => k.name === "admin");
    expect(operator).toBeDefined();
    // A `*` key of the operator's own user is still a user key.
    const sameUser = relay.createKey({ name: "other", scopes: ["*"] }).key;
    for (const [method, body] of [
      ["DELETE", undefined],
      ["PATCH", { scopes: ["gateway:read"] }],
    ] as const) {
      const answer = await call(relay, method, `/api/v1/api-keys/${operator?.id}`, {
        key: sameUser,
        body,
      });
      expect(answer.status).toBe(403);
    }
    expect((await call(relay, "GET", "/api/v1/auth/verify")).body.valid).toBe(true);

    const expiring = relay.createKey({
      userId: "carol",
      name: "temp",
      scopes: ["*"],
      expiresAt: "2090-01-01T00:00:00Z",
    }).key;
    for (const expires_at of [undefined, null, "2091-01-01T00:00:00Z"]) {
      const answer = await call(relay, "POST", "/api/v1/api-keys", {
        key: expiring,
        body: { name: "longer", scopes: ["gateway:read"], expires_at },
      });
      expect([answer.status, answer.body.detail.error], String(expires_at)).toEqual([
        403,
        "expiry_beyond_key",
      ]);
    }
    const within = await call(relay, "POST", "/api/v1/api-keys", {
      key: expiring,
      body: { name: "shorter", scopes: ["gateway:read"], expires_at: "2089-01-01T00:00:00Z" },
    });
    expect(within.status).toBe(201);
  });

  it("the operator is the admin key the relay runs with now, not a stored record", async () => {
    const dataDir = tempDir();
    relay = await relayForTest({ dataDir });
    await relay.close();
    const nextAdmin = `hybro_${"Z9y8X7w6".repeat(5)}`;
    relay = await relayForTest({ dataDir, adminKey: nextAdmin });
    // The old admin key still exists as admin's `*` key, but no longer administers other users.
    const before = await call(relay, "POST", "/api/v1/api-keys", {
      body: { name: "x", scopes: ["gateway:read"], user_id: "bob" },
    });
    expect([before.status, before.body.detail.error]).toEqual([403, "operator_required"]);
    const now = await call(relay, "POST", "/api/v1/api-keys", {
      key: nextAdmin,
      body: { name: "x", scopes: ["gateway:read"], user_id: "bob" },
    });
    expect(now.status).toBe(201);
  });
});
