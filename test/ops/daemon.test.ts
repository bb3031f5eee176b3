import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { askDaemon } from "../../src/control/client.ts";
import type { DaemonStatus } from "../../src/control/protocol.ts";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { isProcessAlive } from "../../src/system/processes.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { readGatewayReply } from "../support/gateway-reply.ts";
import { cliEnv, daemonPidsFor, readAllFiles, runCli } from "./cli-runner.ts";

const dispatcher = new Agent({ headersTimeout: 20_000, bodyTimeout: 20_000 });

async function gatewaySend(relay: DevRelay, key: string, agentId: string, text: string) {
  const response = await fetch(`${relay.url}/api/v1/gateway/agents/${agentId}/message/send`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify({ message: { role: "user", parts: [{ kind: "text", text }] } }),
    dispatcher,
  });
  return readGatewayReply(response);
}

describe("background daemon", () => {
  let relay: DevRelay;
  let agent: TestAgent;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let firstKey: { id: string; key: string };
  let secondKey: { id: string; key: string };
  let pid = 0;

  /** The daemon's answer on its control socket (the CLI's `status --json` is checked once). */
  const status = (): Promise<DaemonStatus> =>
    askDaemon(join(home, "run", "control.sock"), "status");

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-ops-"));
    relay = await startDevRelay({ port: 0, memory: true });
    firstKey = relay.createKey({ userId: "alice", name: "hub", scopes: ["*"] });
    secondKey = relay.createKey({ userId: "alice", name: "hub, rotated", scopes: ["*"] });
    agent = await startTestAgent({
      dialect: "1.0",
      streaming: false,
      behaviour: "echo",
      name: "Echo",
    });
    writeFileSync(
      join(home, "agents.json"),
      JSON.stringify({ agents: [{ name: "Echo", url: agent.url }] }),
    );
    env = cliEnv(home, { HYBRO_GATEWAY_URL: relay.url });
  });

  afterAll(async () => {
    await runCli(["stop", "--timeout-ms", "5000"], { env }).catch(() => {});
    for (const leftover of daemonPidsFor(home)) process.kill(leftover, "SIGKILL");
    await relay?.close();
    await agent?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("status says when no hub runs, with its own exit code", async () => {
    const result = await runCli(["status"], { env });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("hybro-hub is not running");
  });

  it("start detaches, returns once ready, and status reports it over the control socket", async () => {
    // The key is saved once, piped (never an argument).
    const saved = await runCli(["config", "set-key"], { env, input: `${firstKey.key}\n` });
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stdout).toContain("it uses the new key when it starts");
    const result = await runCli(
      ["start", "--agents", join(home, "agents.json"), "--metrics", "127.0.0.1:0"],
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    const match = /hybro-hub started \(pid (\d+)\): ready, 1 agent synced/.exec(result.stdout);
    expect(match, result.stdout).not.toBeNull();
    pid = Number(match?.[1]);
    expect(isProcessAlive(pid)).toBe(true);
    expect(daemonPidsFor(home)).toEqual([pid]);

    const json = await runCli(["status", "--json"], { env });
    expect(json.code, json.stderr).toBe(0);
    const now = JSON.parse(json.stdout) as DaemonStatus;
    expect(now).toMatchObject({ state: "ready", pid, gatewayUrl: relay.url, managedBy: null });
    expect(now.relay.connection).toBe("open");
    expect(now.hubId).toMatch(/^[0-9a-f]{32}$/);
    expect(now.agents).toEqual([
      expect.objectContaining({ name: "Echo", healthy: true, kind: "http" }),
    ]);
    expect(now.logFile).toBe(join(home, "log", "hub.log"));
    expect(statSync(join(home, "run", "control.sock")).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "config", "config.json")).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "run")).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, "data", "hub.lock")).mode & 0o777).toBe(0o600);

    const text = await runCli(["status"], { env });
    expect(text.stdout).toContain(`hybro-hub is running (pid ${pid}`);
    expect(text.stdout).toContain("✓ Echo");
  });

  it("refuses a second start while one runs, without touching the saved key", async () => {
    const result = await runCli(["start", "--agents", join(home, "agents.json")], {
      env: { ...env, HYBRO_API_KEY: secondKey.key },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`already running (pid ${pid})`);
    expect(daemonPidsFor(home)).toEqual([pid]);
    const config = JSON.parse(readFileSync(join(home, "config", "config.json"), "utf8"));
    expect(config.apiKey).toBe(firstKey.key);
  });

  it("keeps the key off the daemon's command line and out of its environment", async () => {
    const { execFileSync } = await import("node:child_process");
    const args = execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" });
    expect(args).toContain("--daemon-child");
    expect(args).not.toContain(firstKey.key);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(firstKey.key);
    expect(readFileSync(`/proc/${pid}/environ`, "utf8")).not.toContain(firstKey.key);
  });

  it("runs the daemon with the small-daemon settings (system/daemon-settings.ts)", () => {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    for (const flag of ["--max-semi-space-size=4", "--max-old-space-size=512"]) {
      expect(argv.indexOf(flag)).toBeGreaterThan(0);
      expect(argv.indexOf(flag)).toBeLessThan(argv.indexOf("start"));
    }
    const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    expect(environ).toContain("MALLOC_MMAP_THRESHOLD_=131072");
  });

  it("serves gateway calls and counts them in status and metrics", async () => {
    const now = await status();
    const agentId = relay.agentId(now.hubId, now.agents[0]?.localAgentId ?? "");
    const reply = await gatewaySend(relay, firstKey.key, agentId, "hello hub");
    expect(reply).toMatchObject({ status: 200, state: "completed", text: "echo: hello hub" });
    const after = await status();
    expect(after.agents[0]?.turns.completed).toBe(1);
    expect(after.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const metrics = await (await fetch(after.metricsUrl ?? "", { dispatcher })).text();
    expect(metrics).toContain('hybro_hub_relay_connection_state{state="open"} 1');
    expect(metrics).toMatch(
      /hybro_hub_turns_total\{agent="Echo",local_agent_id="[0-9a-f]+",outcome="completed"\} 1/,
    );
    expect(metrics).toMatch(/hybro_hub_publish_batches_total [1-9]/);
    expect(metrics).toContain("hybro_hub_outbox_depth 0");
    const ready = await fetch(after.metricsUrl?.replace("/metrics", "/ready") ?? "", {
      dispatcher,
    });
    expect(ready.status).toBe(200);
  });

  it("switches to a replaced key without a restart and keeps working after the old one is revoked", async () => {
    const result = await runCli(["config", "set-key"], { env, input: `${secondKey.key}\n` });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("the running hub now uses the new key");
    expect(relay.revokeKey(firstKey.id)).toBe(true);

    const now = await status();
    expect(now.pid).toBe(pid);
    const agentId = relay.agentId(now.hubId, now.agents[0]?.localAgentId ?? "");
    // Every hub → relay call from here on must carry the new key: the publish of this turn does.
    const reply = await gatewaySend(relay, secondKey.key, agentId, "after rotation");
    expect(reply).toMatchObject({ status: 200, state: "completed", text: "echo: after rotation" });
    const after = await status();
    expect(after).toMatchObject({ state: "ready", pid });
    expect(after.relay.connection).toBe("open");
  });

  it("restart starts a new daemon with the same options", async () => {
    const result = await runCli(["restart"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`hybro-hub stopped (pid ${pid})`);
    const match = /hybro-hub started \(pid (\d+)\): ready, 1 agent synced/.exec(result.stdout);
    expect(match, result.stdout).not.toBeNull();
    const newPid = Number(match?.[1]);
    expect(newPid).not.toBe(pid);
    expect(isProcessAlive(pid)).toBe(false);
    pid = newPid;
    const now = await status();
    expect(now).toMatchObject({ pid, state: "ready", agentsFile: join(home, "agents.json") });
    expect(now.metricsUrl).not.toBeNull();
    expect(now.launch).toContain("--agents");
  });

  it("logs prints the last lines as JSON when not on a terminal", async () => {
    const result = await runCli(["logs", "-n", "3"], { env });
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty("msg");
  });

  it("stop ends the daemon gracefully and leaves no process, socket or lock holder", async () => {
    const result = await runCli(["stop"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`hybro-hub stopped (pid ${pid})`);
    expect(isProcessAlive(pid)).toBe(false);
    expect(daemonPidsFor(home)).toEqual([]);
    expect(() => statSync(join(home, "run", "control.sock"))).toThrow();
    expect(() => statSync(join(home, "data", "hub.lock.holder"))).toThrow();
    const again = await runCli(["stop"], { env });
    expect(again).toMatchObject({ code: 0, stdout: "hybro-hub is not running\n" });
  });

  it("never writes a key to any log file", async () => {
    const files = readAllFiles(join(home, "log"));
    expect(files.map((file) => file.path)).toContain(join(home, "log", "hub.log"));
    expect(files.find((file) => file.path.endsWith("hub.log"))?.text).toContain(
      "now using the API key",
    );
    for (const file of files) {
      expect(file.text, file.path).not.toContain(firstKey.key);
      expect(file.text, file.path).not.toContain(secondKey.key);
    }
  });
});
