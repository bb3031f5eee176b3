// `start --foreground` as systemd runs it: the key from $CREDENTIALS_DIRECTORY, readiness through
// `systemd-notify` (a stand-in script on PATH records its arguments), a key replaced by editing
// config.json picked up by the file watch, and a clean exit 0 on SIGTERM.
import { once } from "node:events";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { askDaemon } from "../../src/control/client.ts";
import { keyFingerprint } from "../../src/control/protocol.ts";
import { type HubHome, startHubHome } from "../support/hub-home.ts";
import { cliEnv, runCliUntil } from "./cli-runner.ts";

async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("start --foreground under systemd", () => {
  let fixture: HubHome;

  beforeAll(async () => {
    fixture = await startHubHome("hybro-fg-", [{ name: "Echo", streaming: true }]);
  });
  afterAll(() => fixture?.close());

  it("reads the credential, notifies readiness, reloads an edited key and stops on SIGTERM", async () => {
    const { home, relay } = fixture;
    const credentials = join(home, "credentials");
    const bin = join(home, "bin");
    const notes = join(home, "notify.log");
    mkdirSync(credentials, { recursive: true });
    mkdirSync(bin, { recursive: true });
    const first = relay.createKey({ name: "service", scopes: ["*"] });
    const second = relay.createKey({ name: "service, rotated", scopes: ["*"] });
    writeFileSync(join(credentials, "hybro-api-key"), `${first.key}\n`, { mode: 0o600 });
    writeFileSync(
      join(bin, "systemd-notify"),
      `#!/bin/sh\necho "$NOTIFY_SOCKET $*" >> ${JSON.stringify(notes)}\n`,
    );
    chmodSync(join(bin, "systemd-notify"), 0o755);
    const agentsFile = fixture.writeAgentsFile();

    const env = cliEnv(home, {
      HYBRO_GATEWAY_URL: relay.url,
      CREDENTIALS_DIRECTORY: credentials,
      NOTIFY_SOCKET: "/run/user/0/systemd/notify",
      HYBRO_HUB_SERVICE: "systemd",
      PATH: `${bin}:${process.env.PATH}`,
    });
    const run = await runCliUntil(
      ["start", "--foreground", "--agents", agentsFile],
      env,
      /^hub ready: 1 agent synced$/m, // the stdout line, not the log line on stderr
    );
    const { child, output } = run;
    fixture.own(child);
    expect(run.exited, `the hub exited before ready:\n${output.stderr}`).toBeNull();
    const notified = await until(() => {
      try {
        return readFileSync(notes, "utf8");
      } catch {
        return "";
      }
    }, "systemd-notify");
    expect(notified).toContain("/run/user/0/systemd/notify --ready --status=ready: 1 agent synced");

    const socketPath = join(home, "run", "control.sock");
    const status = await askDaemon(socketPath, "status");
    expect(status).toMatchObject({
      pid: child.pid,
      managedBy: "systemd",
      logFile: null,
      state: "ready",
    });
    // stderr is the journal: JSON lines, the key source named, the key itself never.
    expect(output.stderr).toContain("the systemd credential hybro-api-key");
    expect(output.stderr).not.toContain(first.key);

    // Editing config.json by hand replaces the key (the credential is a copy made at start).
    mkdirSync(join(home, "config"), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "config", "config.json"), JSON.stringify({ apiKey: second.key }), {
      mode: 0o600,
    });
    await until(
      () => output.stderr.includes("now using the API key from the config file"),
      "the key reload",
    );
    relay.revokeKey(first.id);
    const reloaded = await askDaemon(socketPath, "reload-key");
    expect(reloaded).toMatchObject({ changed: false, fingerprint: keyFingerprint(second.key) });
    expect(reloaded.source).toContain("config.json");

    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    for (const key of [first.key, second.key]) expect(output.stderr).not.toContain(key);
    expect(() => readFileSync(join(home, "run", "hub.pid"))).toThrow();
  });
});
