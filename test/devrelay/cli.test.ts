import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { call, ScriptedHub } from "./support.ts";

const MAIN = join(import.meta.dirname, "../../src/cli/main.ts");
const ADMIN = `hybro_${"Zz9".repeat(12)}`;
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, HYBRO_RELAY_ADMIN_KEY: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

async function readyUrl(relay: Run): Promise<string> {
  const deadline = Date.now() + 15_000;
  while (!relay.stdout().includes("\n")) {
    if (relay.child.exitCode !== null) throw new Error(`relay exited: ${relay.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no ready line; stderr: ${relay.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const match = /^relay listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(relay.stdout());
  if (!match?.[1]) throw new Error(`unexpected stdout: ${JSON.stringify(relay.stdout())}`);
  return match[1];
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "devrelay-cli-"));
  dirs.push(dir);
  return dir;
}

/** A relay in memory on any free port. */
const MEMORY_RELAY = ["relay", "--port", "0", "--memory"];

describe("hybro-hub relay", () => {
  it("takes rate-limit windows by flag, and refuses one it cannot read", async () => {
    const relay = run([
      ...MEMORY_RELAY,
      "--admin-key",
      ADMIN,
      "--rate-limit",
      "discovery=1/1d",
      "--rate-limit",
      "discovery.user=5/1h",
    ]);
    const url = await readyUrl(relay);
    const discover = () =>
      call({ url }, "POST", "/api/v1/discovery/agents", { key: ADMIN, body: { query: "x" } });
    expect((await discover()).status).toBe(200);
    const refused = await discover();
    expect([refused.status, refused.body.detail.message]).toEqual([
      429,
      "Rate limit exceeded: 1 request per day",
    ]);
    relay.child.kill("SIGTERM");
    expect(await relay.exit).toBe(0);

    const bad = run([...MEMORY_RELAY, "--rate-limit", "gateway=100"]);
    expect(await bad.exit).toBe(2);
    expect(bad.stderr()).toContain('cannot read the rate-limit window "100"');
  });

  it("prints one ready line, serves, and stops cleanly on SIGTERM with a hub connected", async () => {
    const relay = run([...MEMORY_RELAY, "--admin-key", ADMIN, "--sse-heartbeat-ms", "100"]);
    const url = await readyUrl(relay);
    const verify = await call({ url }, "GET", "/api/v1/auth/verify", { key: ADMIN });
    expect(verify.body).toMatchObject({ valid: true, user_id: "admin", scopes: ["*"] });
    const hub = new ScriptedHub({ url }, ADMIN);
    expect((await hub.register()).status).toBe(200);
    const stream = await hub.connect();
    await stream.until(
      () => stream.data().some((item) => item.type === "heartbeat"),
      "a heartbeat",
    );
    relay.child.kill("SIGTERM");
    expect(await relay.exit).toBe(0);
    await stream.done;
    expect(stream.closed).toBe(true);
    expect(relay.stdout()).toBe(`relay listening on ${url}\n`);
    expect(relay.stderr()).not.toContain(ADMIN);
  });

  it("takes the admin key from HYBRO_RELAY_ADMIN_KEY and refuses a malformed one", async () => {
    const fromEnv = run(MEMORY_RELAY, { HYBRO_RELAY_ADMIN_KEY: ADMIN });
    const url = await readyUrl(fromEnv);
    expect((await call({ url }, "GET", "/api/v1/auth/verify", { key: ADMIN })).status).toBe(200);
    fromEnv.child.kill("SIGINT");
    expect(await fromEnv.exit).toBe(0);

    const bad = run([...MEMORY_RELAY, "--admin-key", "hybro_tooshort"]);
    expect(await bad.exit).toBe(2);
    expect(bad.stdout()).toBe("");
    expect(bad.stderr()).toMatch(/at least 32/);
  });

  it("manages keys in the relay's sqlite file: create shows the key once, list never, revoke works", async () => {
    const data = tempDir();
    // independent commands run side by side (each is a Node start-up); sqlite's WAL copes
    const created = run([
      "relay",
      "keys",
      "create",
      "--name",
      "ci",
      "--scope",
      "gateway:*",
      "--scope",
      "relay:hub",
      "--user",
      "alice",
      "--data",
      data,
    ]);
    const keep = run([
      "relay",
      "keys",
      "create",
      "--name",
      "keep",
      "--scope",
      "*",
      "--data",
      data,
      "--json",
    ]);
    const badScope = run([
      "relay",
      "keys",
      "create",
      "--name",
      "x",
      "--scope",
      "root",
      "--data",
      data,
    ]);
    const noScope = run(["relay", "keys", "create", "--name", "x", "--data", data]);
    const help = run(["relay", "keys", "create", "--help"]);
    const unknown = run(["relay", "keys", "revoke", "key_0000000000000000", "--data", data]);
    // The help and the error agree: at least one scope, no default.
    expect(await noScope.exit).toBe(2);
    expect(noScope.stderr()).toMatch(/give at least one --scope, e\.g\. --scope '\*'/);
    expect(await help.exit).toBe(0);
    expect(help.stdout()).toMatch(/--scope <scope> +what the key may do, at least one/);
    expect(help.stdout()).not.toContain("(default: [])");
    expect(await created.exit).toBe(0);
    expect(await keep.exit).toBe(0);
    expect(await badScope.exit).toBe(2);
    expect(badScope.stderr()).toMatch(/unknown scope/);
    expect(await unknown.exit).toBe(1);
    const key = /^key: (hybro_[0-9A-Za-z]{40})$/m.exec(created.stdout())?.[1];
    const id = /^id: (key_[0-9a-f]{16})$/m.exec(created.stdout())?.[1];
    expect(key).toBeDefined();
    expect(id).toBeDefined();
    const kept = JSON.parse(keep.stdout());
    expect(kept).toMatchObject({
      name: "keep",
      user_id: "local",
      scopes: ["*"],
      key: expect.stringMatching(/^hybro_/),
    });

    const listed = run(["relay", "keys", "list", "--data", data]);
    const listedJson = run(["relay", "keys", "list", "--data", data, "--json", "--user", "alice"]);
    const revoked = run(["relay", "keys", "revoke", id!, "--data", data]);
    expect(await listed.exit).toBe(0);
    expect(listed.stdout()).toContain(id);
    expect(listed.stdout()).toContain("gateway:*,relay:hub");
    expect(listed.stdout()).not.toContain(key);
    expect(listed.stdout()).not.toContain(kept.key);
    expect(await listedJson.exit).toBe(0);
    expect(JSON.parse(listedJson.stdout()).map((info: { id: string }) => info.id)).toEqual([id]);
    expect(await revoked.exit).toBe(0);
    expect(revoked.stdout()).toBe(`revoked ${id}\n`);

    const relay = run(["relay", "--port", "0", "--data", data]);
    const url = await readyUrl(relay);
    expect((await call({ url }, "GET", "/api/v1/auth/verify", { key })).body.detail.error).toBe(
      "revoked_api_key",
    );
    expect((await call({ url }, "GET", "/api/v1/auth/verify", { key: kept.key })).status).toBe(200);
    relay.child.kill("SIGTERM");
    expect(await relay.exit).toBe(0);
  });
});
