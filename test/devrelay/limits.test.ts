import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DevRelay } from "../../src/devrelay/index.ts";
import { ADMIN_KEY, agentForTest, call, relayForTest, ScriptedHub } from "./support.ts";

let relay: DevRelay | undefined;

afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

describe("rate limits", () => {
  it("counts per key and family, with headers, Retry-After and the seed's 429 body", async () => {
    relay = await relayForTest({
      rateLimits: {
        gateway: { key: [{ limit: 2, windowMs: HOUR_MS }] },
        discovery: { key: [{ limit: 3, windowMs: HOUR_MS }] },
      },
    });
    const a = relay.createKey({ userId: "alice", name: "a", scopes: ["*"] }).key;
    const b = relay.createKey({ userId: "bob", name: "b", scopes: ["*"] }).key;
    const discover = (key: string) =>
      call(relay!, "POST", "/api/v1/gateway/agents/discover", { key, body: { query: "x" } });
    const first = await discover(a);
    expect(first.headers.get("x-ratelimit-limit")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining")).toBe("1");
    const reset = Number(first.headers.get("x-ratelimit-reset"));
    expect(reset).toBeGreaterThan(Date.now() / 1000);
    expect(reset).toBeLessThanOrEqual(Date.now() / 1000 + 3600 + 1);
    expect((await discover(a)).headers.get("x-ratelimit-remaining")).toBe("0");
    const refused = await discover(a);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      detail: { error: "rate_limit_exceeded", message: "Rate limit exceeded: 2 requests per hour" },
    });
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(3599);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    // another user's key, and another family, have their own counters
    expect((await discover(b)).status).toBe(200);
    const discovery = await call(relay, "POST", "/api/v1/discovery/agents", {
      key: a,
      body: { query: "x" },
    });
    expect([discovery.status, discovery.headers.get("x-ratelimit-limit")]).toEqual([200, "3"]);
    // even errors after authentication carry the headers
    const invalid = await call(relay, "POST", "/api/v1/discovery/agents", {
      key: a,
      body: { query: 1 },
    });
    expect([invalid.status, invalid.headers.get("x-ratelimit-remaining")]).toEqual([422, "1"]);
  });

  it("several windows: the headers show the one closest to refusing, the 429 names the one that refused", async () => {
    relay = await relayForTest({
      rateLimits: {
        gateway: {
          key: [
            { limit: 5, windowMs: HOUR_MS },
            { limit: 3, windowMs: DAY_MS },
          ],
        },
      },
    });
    const key = relay.createKey({ userId: "alice", name: "a", scopes: ["*"] }).key;
    const discover = () =>
      call(relay!, "POST", "/api/v1/gateway/agents/discover", { key, body: { query: "x" } });
    const limits: Array<[string | null, string | null]> = [];
    for (let i = 0; i < 3; i++) {
      const answer = await discover();
      expect(answer.status).toBe(200);
      limits.push([
        answer.headers.get("x-ratelimit-limit"),
        answer.headers.get("x-ratelimit-remaining"),
      ]);
    }
    expect(limits).toEqual([
      ["3", "2"],
      ["3", "1"],
      ["3", "0"],
    ]);
    const refused = await discover();
    expect(refused.status).toBe(429);
    expect(refused.body.detail.message).toBe("Rate limit exceeded: 3 requests per day");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(86_000);
  });

  it("making more keys does not get around a user's limit", async () => {
    relay = await relayForTest({
      rateLimits: { gateway: { key: [{ limit: 2, windowMs: HOUR_MS }] } },
    });
    const admin = relay.createKey({
      userId: "alice",
      name: "admin",
      scopes: ["keys:admin", "gateway:*"],
    }).key;
    const discover = (key: string) =>
      call(relay!, "POST", "/api/v1/gateway/agents/discover", { key, body: { query: "x" } });
    const first = relay.createKey({ userId: "alice", name: "k1", scopes: ["gateway:*"] }).key;
    expect((await discover(first)).status).toBe(200);
    expect((await discover(first)).status).toBe(200);
    // A fresh key of the same user, made through the API, finds the user's window full.
    const minted = await call(relay, "POST", "/api/v1/api-keys", {
      key: admin,
      body: { name: "k2", scopes: ["gateway:read"] },
    });
    expect(minted.status).toBe(201);
    const refused = await discover(minted.body.key);
    expect([refused.status, refused.body.detail.message]).toEqual([
      429,
      "Rate limit exceeded: 2 requests per hour",
    ]);
    const other = relay.createKey({ userId: "bob", name: "b", scopes: ["gateway:*"] }).key;
    expect((await discover(other)).status).toBe(200);
  });

  it("throttles failed authentications per source address", async () => {
    relay = await relayForTest({ authFailureLimits: [{ limit: 3, windowMs: HOUR_MS }] });
    const good = relay.createKey({ userId: "alice", name: "a", scopes: ["*"] }).key;
    const verify = (key: string | null) => call(relay!, "GET", "/api/v1/auth/verify", { key });
    expect((await verify(good)).status).toBe(200); // successes do not count
    const statuses: number[] = [];
    for (const key of [`hybro_${"x".repeat(40)}`, null, "nonsense", `hybro_${"y".repeat(40)}`]) {
      statuses.push((await verify(key)).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const blocked = await verify(good); // while it waits, no key is even looked at
    expect(blocked.status).toBe(429);
    expect(blocked.body.detail.error).toBe("too_many_failed_authentications");
    expect(blocked.body.detail.message).toContain("at most 3 per hour");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(3500);
  });

  it("applies the global limit across keys", async () => {
    relay = await relayForTest({
      rateLimits: {
        discovery: {
          key: [{ limit: 100, windowMs: HOUR_MS }],
          global: [{ limit: 2, windowMs: HOUR_MS }],
        },
      },
    });
    const keys = [1, 2, 3].map(
      (n) => relay!.createKey({ userId: `u${n}`, name: "k", scopes: ["*"] }).key,
    );
    const statuses: number[] = [];
    for (const key of keys) {
      statuses.push(
        (await call(relay, "POST", "/api/v1/discovery/agents", { key, body: { query: "" } }))
          .status,
      );
    }
    expect(statuses).toEqual([200, 200, 429]);
    const refused = await call(relay, "POST", "/api/v1/discovery/agents", {
      key: keys[0],
      body: { query: "" },
    });
    expect(refused.body.detail.message).toBe("Rate limit exceeded: 2 requests per hour");
  });
});

describe("hostile input", () => {
  it("answers bad JSON, wrong types, huge bodies, unknown paths and methods with clean 4xx", async () => {
    relay = await relayForTest({ maxBodyBytes: 1024 });
    const hub = new ScriptedHub(
      relay,
      relay.createKey({ userId: "alice", name: "h", scopes: ["*"] }).key,
    );
    await hub.register();
    // As on hybro.ai the body is read first; someone else's hub is then refused with 403
    const foreign = await call(relay, "POST", `${hub.base}/publish`, { rawBody: "{" });
    expect([foreign.status, foreign.body.detail.error]).toEqual([400, "invalid_json"]);
    const refused = await call(relay, "POST", `${hub.base}/publish`, {
      body: {
        room_id: "r",
        events: [{ type: "task_status", agent_message_id: "a", data: { state: "working" } }],
      },
    });
    expect([refused.status, refused.body.detail.error]).toEqual([403, "hub_not_owned"]);
    const cases: Array<[string, string, Parameters<typeof call>[3], number, string]> = [
      ["POST", "/api/v1/relay/hub/register", { rawBody: "{not json" }, 400, "invalid_json"],
      ["POST", "/api/v1/relay/hub/register", { rawBody: "" }, 422, "validation_error"],
      ["POST", "/api/v1/relay/hub/register", { rawBody: "null" }, 422, "validation_error"],
      ["POST", "/api/v1/relay/hub/register", { rawBody: '"hub"' }, 422, "validation_error"],
      ["POST", "/api/v1/relay/hub/register", { body: { hub_id: ["a"] } }, 422, "validation_error"],
      [
        "POST",
        "/api/v1/relay/hub/register",
        { rawBody: JSON.stringify({ hub_id: "a".repeat(5000) }) },
        413,
        "payload_too_large",
      ],
      [
        "POST",
        `${hub.base}/publish`,
        { key: hub.key, rawBody: Buffer.alloc(200_000, "x") },
        413,
        "payload_too_large",
      ],
      [
        "POST",
        `${hub.base}/agents/sync`,
        { key: hub.key, body: { agents: "all" } },
        422,
        "validation_error",
      ],
      ["GET", "/api/v1/relay/hub/register", {}, 405, "method_not_allowed"],
      ["DELETE", "/api/v1/relay/hub/status", {}, 405, "method_not_allowed"],
      ["GET", "/api/v1/nothing", {}, 404, "not_found"],
      ["GET", "/", {}, 404, "not_found"],
      [
        "POST",
        `/api/v1/relay/hub/${hub.hubId}%2f..%2fx/publish`,
        { body: {} },
        400,
        "invalid_path",
      ],
      ["POST", `/api/v1/relay/hub/..%5c..%5cetc/heartbeat`, {}, 400, "invalid_path"],
      ["POST", "/api/v1/relay/hub/%00/heartbeat", {}, 400, "invalid_path"],
      ["POST", "/api/v1/relay/hub/%E0%A4%A/heartbeat", {}, 400, "invalid_path"],
      ["POST", `/api/v1/relay/hub/${"f".repeat(3000)}/heartbeat`, {}, 414, "uri_too_long"],
    ];
    for (const [method, path, options, status, code] of cases) {
      const answer = await call(relay, method, path, options);
      expect(answer.status, `${method} ${path}`).toBe(status);
      expect(answer.body.detail.error, `${method} ${path}`).toBe(code);
    }
    const allow = await call(relay, "GET", "/api/v1/relay/hub/register");
    expect(allow.headers.get("allow")).toBe("POST");
    // still serving
    expect((await call(relay, "GET", "/api/v1/auth/verify")).status).toBe(200);
  });

  it("survives malformed HTTP and abrupt disconnects", async () => {
    relay = await relayForTest();
    const port = relay.port;
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const socket = connect(port, "127.0.0.1", () => socket.write(text));
        let data = "";
        socket.on("data", (chunk) => {
          data += chunk.toString();
        });
        socket.on("close", () => resolve(data));
        socket.on("error", () => resolve(data));
      });
    expect(await raw("NOT HTTP AT ALL\r\n\r\n")).toMatch(/^HTTP\/1\.1 400/);
    // dot segments as sent (fetch would normalise them away)
    for (const path of [
      "/api/v1/relay/hub/../hub/status",
      "/api/v1/relay/hub/%2e%2e/status",
      "/api/v1/api-keys/%2E%2e",
    ]) {
      const answer = await raw(
        `GET ${path} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${ADMIN_KEY}\r\nConnection: close\r\n\r\n`,
      );
      expect(answer, path).toMatch(/^HTTP\/1\.1 400/);
      expect(answer, path).toContain('"error":"invalid_path"');
    }
    // a body that stops halfway, then the socket closes
    const socket = connect(port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(
      'POST /api/v1/relay/hub/register HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nX-API-Key: x\r\n\r\n{"hub',
    );
    socket.destroy();
    const hub = new ScriptedHub(
      relay,
      relay.createKey({ userId: "alice", name: "h", scopes: ["*"] }).key,
    );
    expect((await hub.register()).status).toBe(200);
    expect((await hub.sync([agentForTest("aaaaaaaaaaaa", "A")])).status).toBe(200);
  });
});

describe("admin key", () => {
  it("is restored to an unrevoked * key at start, even if it was changed before", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "devrelay-admin-"));
    try {
      relay = await relayForTest({ dataDir });
      const verify = await call(relay, "GET", "/api/v1/auth/verify");
      expect(verify.body).toMatchObject({ user_id: "admin", scopes: ["*"] });
      const keyId = verify.body.key_id;
      await call(relay, "PATCH", `/api/v1/api-keys/${keyId}`, {
        body: { scopes: ["gateway:read"] },
      });
      relay.revokeKey(keyId);
      expect((await call(relay, "GET", "/api/v1/auth/verify")).status).toBe(401);
      await relay.close();
      relay = await relayForTest({ dataDir });
      expect((await call(relay, "GET", "/api/v1/auth/verify")).body).toMatchObject({
        key_id: keyId,
        scopes: ["*"],
      });
    } finally {
      await relay?.close();
      relay = undefined;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
