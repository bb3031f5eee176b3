// `start --foreground` as systemd runs it: the key from $CREDENTIALS_DIRECTORY, readiness through
// `systemd-notify` (a stand-in script on PATH records its arguments), a key replaced by editing
// config.json picked up by the file watch, and a clean exit 0 on SIGTERM.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { askDaemon } from "../../src/control/client.ts";
import { keyFingerprint } from "../../src/control/protocol.ts";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { CLI, cliEnv, REPO_ROOT } from "./cli-runner.ts";

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
  let relay: DevRelay;
  let agent: TestAgent;
  let home: string;
  let child: ChildProcess | null = null;
  let stderr = "";

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-fg-"));
    relay = await startDevRelay({ port: 0, memory: true });
    agent = await startTestAgent({
      dialect: "1.0",
      streaming: true,
      behaviour: "echo",
      name: "Echo",
    });
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    await relay?.close();
    await agent?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("reads the credential, notifies readiness, reloads an edited key and stops on SIGTERM", async () => {
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
    const agentsFile = join(home, "agents.json");
    writeFileSync(agentsFile, JSON.stringify({ agents: [{ name: "Echo", url: agent.url }] }));

    const env = cliEnv(home, {
      HYBRO_GATEWAY_URL: relay.url,
      CREDENTIALS_DIRECTORY: credentials,
      NOTIFY_SOCKET: "/run/user/0/systemd/notify",
      HYBRO_HUB_SERVICE: "systemd",
      PATH: `${bin}:${process.env.PATH}`,
    });
    child = spawn(process.execPath, [CLI, "start", "--foreground", "--agents", agentsFile], {
      cwd: REPO_ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });

    await until(() => stdout.includes("hub ready: 1 agent synced"), `ready\n${stderr}`);
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
    expect(stderr).toContain("the systemd credential hybro-api-key");
    expect(stderr).not.toContain(first.key);

    // Editing config.json by hand replaces the key (the credential is a copy made at start).
    mkdirSync(join(home, "config"), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "config", "config.json"), JSON.stringify({ apiKey: second.key }), {
      mode: 0o600,
    });
    await until(
      () => stderr.includes("now using the API key from the config file"),
      "the key reload",
    );
    relay.revokeKey(first.id);
    const reloaded = await askDaemon(socketPath, "reload-key");
    expect(reloaded).toMatchObject({ changed: false, fingerprint: keyFingerprint(second.key) });
    expect(reloaded.source).toContain("config.json");

    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    for (const key of [first.key, second.key]) expect(stderr).not.toContain(key);
    expect(() => readFileSync(join(home, "run", "hub.pid"))).toThrow();
  });
});
