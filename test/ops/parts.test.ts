// The operations pieces in-process: control socket, log rotation, metrics, formatting.
import { EventEmitter } from "node:events";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentHeading, curlLine, devBanner } from "../../src/cli/dev.ts";
import { agentsNotAtRelay } from "../../src/cli/doctor.ts";
import { checkGatewayUrl } from "../../src/cli/gateway-url.ts";
import { tail } from "../../src/cli/logs.ts";
import { formatAgents, formatDuration, formatStatus } from "../../src/cli/status-text.ts";
import {
  askDaemon,
  ControlRequestError,
  DaemonNotRunningError,
  isSocketLive,
} from "../../src/control/client.ts";
import type { DaemonStatus } from "../../src/control/protocol.ts";
import {
  type ControlHandlers,
  ControlServer,
  ControlSocketInUseError,
} from "../../src/control/server.ts";
import type { TurnEndReport as TurnEnd } from "../../src/hub/hub.ts";
import type { HubSnapshot } from "../../src/hub/snapshot.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { RotatingFile } from "../../src/log/rotating-file.ts";
import { createHubMetrics } from "../../src/metrics/hub-metrics.ts";
import { parseListenAddress } from "../../src/system/listen-address.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hybro-parts-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function snapshot(overrides: Partial<HubSnapshot> = {}): HubSnapshot {
  return {
    hubId: "0123456789abcdef0123456789abcdef",
    gatewayUrl: "http://127.0.0.1:8787",
    agentsFile: "/tmp/agents.json",
    startedAt: new Date(0).toISOString(),
    uptimeMs: 65_000,
    relay: { connection: "open", lastEventId: "r-7", reconnects: 2, lastError: null },
    outboxDepth: 3,
    outbox: { durable: true, file: "/tmp/data/outbox.sqlite", dropped: 2, failure: null },
    activeTurns: 1,
    agents: [
      {
        localAgentId: "aaaaaaaaaaaa",
        name: "Echo",
        kind: "http",
        healthy: true,
        lastError: null,
        notKeptByRelay: null,
        turns: { running: 1, queued: 0, completed: 5, failed: 2, inputRequired: 1 },
      },
      {
        localAgentId: "bbbbbbbbbbbb",
        name: "Down",
        kind: "stdio",
        healthy: false,
        lastError: "the agent is down (exit 1)",
        notKeptByRelay:
          'the relay left it out of its sync answer: its card has no "version" string',
        turns: { running: 0, queued: 0, completed: 0, failed: 0, inputRequired: 0 },
      },
    ],
    ...overrides,
  };
}

describe("control socket", () => {
  const status = (): DaemonStatus => ({
    ...snapshot(),
    state: "ready",
    pid: process.pid,
    version: "0.0.0",
    nodeVersion: process.version,
    logFile: null,
    managedBy: null,
    metricsUrl: null,
    launch: [],
  });

  it("answers status, agents, stop and reload-key; the socket is private; bad requests get errors", async () => {
    const socketPath = join(dir, "run", "control.sock");
    let stops = 0;
    const handlers: ControlHandlers = {
      status,
      agents: () => status().agents,
      stop: () => {
        stops++;
        return { pid: process.pid, stopping: true };
      },
      "reload-key": () => {
        throw new Error("no key in config.json");
      },
    };
    const server = new ControlServer({ socketPath, logger: silentLogger(), handlers });
    await expect(askDaemon(socketPath, "status")).rejects.toBeInstanceOf(DaemonNotRunningError);
    await server.listen();
    try {
      expect(statSync(socketPath).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, "run")).mode & 0o777).toBe(0o700);
      expect((await askDaemon(socketPath, "status")).agents[0]?.name).toBe("Echo");
      expect(await askDaemon(socketPath, "agents")).toHaveLength(2);
      expect(await askDaemon(socketPath, "stop")).toEqual({ pid: process.pid, stopping: true });
      expect(stops).toBe(1);
      const failure = await askDaemon(socketPath, "reload-key").catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ControlRequestError);
      expect((failure as ControlRequestError).kind).toBe("failed");

      const { connect } = await import("node:net");
      const raw = (line: string) =>
        new Promise<string>((resolve) => {
          const socket = connect(socketPath, () => socket.write(line));
          socket.setEncoding("utf8");
          socket.once("data", (data: string) => {
            socket.destroy();
            resolve(data);
          });
        });
      expect(JSON.parse(await raw("not json\n"))).toMatchObject({
        ok: false,
        error: { kind: "bad-request" },
      });
      expect(JSON.parse(await raw('{"command":"rm -rf"}\n'))).toMatchObject({
        ok: false,
        error: { kind: "unknown-command" },
      });

      // A second server on the same path is refused while the first answers.
      const second = new ControlServer({ socketPath, logger: silentLogger(), handlers });
      await expect(second.listen()).rejects.toBeInstanceOf(ControlSocketInUseError);
    } finally {
      await server.close();
    }
    expect(existsSync(socketPath)).toBe(false);
    expect(await isSocketLive(socketPath)).toBe(false);
  });

  it("replaces a socket file left by a killed daemon", async () => {
    const socketPath = join(dir, "control.sock");
    writeFileSync(socketPath, ""); // not a socket: nothing answers
    const server = new ControlServer({
      socketPath,
      logger: silentLogger(),
      handlers: {
        status,
        agents: () => [],
        stop: () => ({ pid: 1, stopping: true }),
        "reload-key": () => ({ changed: false, source: "x", fingerprint: "0" }),
      },
    });
    await server.listen();
    expect((await askDaemon(socketPath, "status")).pid).toBe(process.pid);
    await server.close();
  });
});

describe("rotating log file", () => {
  it("rotates by size into a bounded number of files and keeps the live path", () => {
    const path = join(dir, "log", "hub.log");
    const file = new RotatingFile(path, { maxFileBytes: 100, keepFiles: 2 });
    for (let index = 0; index < 20; index++)
      file.write(`${JSON.stringify({ n: index, pad: "x".repeat(20) })}\n`);
    file.close();
    expect(readdirSync(join(dir, "log")).sort()).toEqual(["hub.log", "hub.log.1", "hub.log.2"]);
    for (const name of ["hub.log", "hub.log.1", "hub.log.2"]) {
      expect(statSync(join(dir, "log", name)).size).toBeLessThanOrEqual(100);
      expect(statSync(join(dir, "log", name)).mode & 0o777).toBe(0o600);
    }
    const last = readFileSync(path, "utf8").trim().split("\n").at(-1) ?? "";
    expect(JSON.parse(last).n).toBe(19);
    expect(tail(path, 1).text).toEqual([last]);
  });
});

describe("tail", () => {
  it("returns the last lines of a file larger than one read block", () => {
    const path = join(dir, "big.log");
    const lines = Array.from({ length: 5000 }, (_, index) => `line ${index} ${"y".repeat(40)}`);
    writeFileSync(path, `${lines.join("\n")}\n`);
    expect(tail(path, 3).text).toEqual(lines.slice(-3));
    expect(tail(path, 0).text).toEqual([]);
    expect(tail(path, 10_000).text).toHaveLength(5000);
  });
});

describe("metrics", () => {
  it("exposes turns, durations, relay state, reconnects, outbox depth and publish batches", async () => {
    const events = new EventEmitter<{ turnEnd: [TurnEnd] }>();
    let current = snapshot();
    const metrics = createHubMetrics({
      snapshot: () => current,
      on: (event, listener) => events.on(event, listener),
      off: (event, listener) => events.off(event, listener),
      publishStats: () => ({ batches: 12, eventsSent: 40, retries: 1, dropped: 0 }),
    });
    events.emit("turnEnd", {
      localAgentId: "aaaaaaaaaaaa",
      agentName: "Echo",
      outcome: "completed",
      durationMs: 300,
    });
    let text = await metrics.registry.metrics();
    const labels = 'agent="Echo",local_agent_id="aaaaaaaaaaaa"';
    expect(text).toContain(`hybro_hub_turns_total{${labels},outcome="completed"} 5`);
    expect(text).toContain(`hybro_hub_turns_total{${labels},outcome="failed"} 2`);
    expect(text).toContain(`hybro_hub_turns_active{${labels},state="running"} 1`);
    expect(text).toContain(
      `hybro_hub_turn_duration_seconds_bucket{le="0.5",${labels},outcome="completed"} 1`,
    );
    expect(text).toContain(
      `hybro_hub_turn_duration_seconds_bucket{le="0.25",${labels},outcome="completed"} 0`,
    );
    expect(text).toContain('hybro_hub_relay_connection_state{state="open"} 1');
    expect(text).toContain('hybro_hub_relay_connection_state{state="backoff"} 0');
    expect(text).toContain("hybro_hub_relay_reconnects_total 2");
    expect(text).toContain("hybro_hub_outbox_depth 3");
    expect(text).toContain("hybro_hub_publish_batches_total 12");
    expect(text).toContain('hybro_hub_agents{health="unhealthy"} 1');
    expect(text).toContain("hybro_hub_process_resident_memory_bytes");

    current = snapshot({
      relay: { connection: "backoff", lastEventId: null, reconnects: 3, lastError: "x" },
    });
    text = await metrics.registry.metrics();
    expect(text).toContain('hybro_hub_relay_connection_state{state="open"} 0');
    expect(text).toContain('hybro_hub_relay_connection_state{state="backoff"} 1');
    expect(text).toContain("hybro_hub_relay_reconnects_total 3");
    metrics.close();
    expect(events.listenerCount("turnEnd")).toBe(0);
  });

  it("counts the privacy guard's findings by kind and action, and the turns it blocked", async () => {
    const events = new EventEmitter<{ turnEnd: [TurnEnd] }>();
    let counts = {
      detections: [
        { kind: "email" as const, action: "redact" as const, count: 3 },
        { kind: "api_key" as const, action: "block" as const, count: 1 },
      ],
      blockedTurns: 1,
    };
    const metrics = createHubMetrics({
      snapshot: () => snapshot(),
      on: (event, listener) => events.on(event, listener),
      off: (event, listener) => events.off(event, listener),
      publishStats: () => ({ batches: 0, eventsSent: 0, retries: 0, dropped: 0 }),
      privacyStats: () => counts,
    });
    let text = await metrics.registry.metrics();
    expect(text).toContain('hybro_hub_privacy_detections_total{kind="email",action="redact"} 3');
    expect(text).toContain('hybro_hub_privacy_detections_total{kind="api_key",action="block"} 1');
    expect(text).toContain("hybro_hub_privacy_blocked_turns_total 1");
    // Each scrape reads the guard's running totals (no double counting between scrapes).
    counts = {
      detections: [{ kind: "email", action: "redact", count: 5 }],
      blockedTurns: 2,
    };
    text = await metrics.registry.metrics();
    expect(text).toContain('hybro_hub_privacy_detections_total{kind="email",action="redact"} 5');
    expect(text).toContain("hybro_hub_privacy_blocked_turns_total 2");
    metrics.close();
  });

  it("parses listen addresses", () => {
    expect(parseListenAddress("127.0.0.1:9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseListenAddress("[::1]:9464")).toEqual({ host: "::1", port: 9464 });
    expect(parseListenAddress(":9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseListenAddress("9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseListenAddress("localhost")).toBeNull();
    expect(parseListenAddress("1.2.3.4:70000")).toBeNull();
  });
});

describe("printed text", () => {
  it("agents with none ready says where to look, not only that there are none", () => {
    const text = formatAgents([]);
    expect(text).toContain("no agents ready");
    expect(text).toContain("hybro-hub logs");
    expect(text).toContain("hybro-hub doctor");
  });

  it("status shows state, relay, outbox and each agent with its counts", () => {
    const text = formatStatus({
      ...snapshot(),
      state: "ready",
      pid: 42,
      version: "1.2.3",
      nodeVersion: "v24.0.0",
      logFile: "/l/hub.log",
      managedBy: "systemd",
      metricsUrl: "http://127.0.0.1:9464/metrics",
      launch: [],
    });
    expect(text).toContain("hybro-hub is running (pid 42, up 1m 5s): ready");
    expect(text).toContain(
      "relay     open · http://127.0.0.1:8787 · 2 reconnects · last event r-7",
    );
    expect(text).toContain(
      "outbox    3 events waiting for the relay · /tmp/data/outbox.sqlite · 2 dropped",
    );
    expect(text).toContain("run by systemd");
    expect(text).toMatch(
      /✓ Echo {2}aaaaaaaaaaaa {2}http {3}running 1 · queued 0 · completed 5 · failed 2/,
    );
    expect(text).toContain("✗ Down");
    expect(text).toContain("last error: the agent is down (exit 1)");
    expect(text).toContain(
      'not at the relay: the relay left it out of its sync answer: its card has no "version" string',
    );
    expect(formatDuration(90_061_000)).toBe("1d 1h");
    expect(text).not.toContain("problem");
  });

  it("status shows the relay's last error only while the stream is not open", () => {
    const withRelay = (connection: string) =>
      formatStatus({
        ...snapshot({
          relay: { connection, lastEventId: null, reconnects: 1, lastError: "HTTP 503" },
        }),
        state: "ready",
        pid: 42,
        version: "1.2.3",
        nodeVersion: "v24.0.0",
        logFile: null,
        managedBy: null,
        metricsUrl: null,
        launch: [],
      });
    expect(withRelay("open")).not.toContain("last error: HTTP 503");
    expect(withRelay("backoff")).toContain("            last error: HTTP 503\n");
  });

  it("status shows a setup problem of the command stream", () => {
    const message =
      "another hub is using hub id 0123 — is hybro-hub running twice, or was the data directory copied? …";
    const text = formatStatus({
      ...snapshot({
        relay: {
          connection: "backoff",
          lastEventId: null,
          reconnects: 9,
          lastError: null,
          problem: {
            kind: "duplicate_hub",
            message,
            since: "2030-01-01T00:00:00.000Z",
            sessions: 4,
          },
        },
      }),
      state: "ready",
      pid: 42,
      version: "1.2.3",
      nodeVersion: "v24.0.0",
      logFile: null,
      managedBy: null,
      metricsUrl: null,
      launch: [],
    });
    expect(text).toContain(`            problem (since 2030-01-01T00:00:00.000Z): ${message}\n`);
  });

  it("doctor fails each agent the relay did not keep, with the reason", () => {
    expect(agentsNotAtRelay(snapshot().agents)).toEqual([
      {
        result: "FAIL",
        name: "agent at the relay",
        detail:
          '"Down" (bbbbbbbbbbbb): the relay left it out of its sync answer: its card has no "version" string',
        fix: expect.stringContaining("correct the agent's card"),
      },
    ]);
  });

  it("dev prints a shell-safe curl line per agent", () => {
    const line = curlLine("http://127.0.0.1:8787", "agent-1", "hybro_abc", "it's");
    expect(line).toBe(
      "curl -s http://127.0.0.1:8787/api/v1/gateway/agents/agent-1/message/send \\\n" +
        "  -H 'X-API-Key: hybro_abc' -H 'Content-Type: application/json' \\\n" +
        `  -d '{"message":{"role":"user","parts":[{"kind":"text","text":"it'\\''s"}]}}'`,
    );
    const banner = devBanner("http://r", "hybro_k", "/a.json", "hi", [
      { name: "Echo", id: "e1", healthy: true, kind: "http" },
    ]);
    expect(banner).toContain(
      "# Echo (http)\ncurl -s http://r/api/v1/gateway/agents/e1/message/send",
    );
  });

  it("dev names each agent once in its heading, and says why one is missing", () => {
    expect(agentHeading("Echo", "stdio")).toBe("# Echo (stdio)");
    expect(agentHeading("Echo (stdio)", "stdio")).toBe("# Echo (stdio)");
    expect(agentHeading("Echo (STDIO)", "stdio", "not answering yet")).toBe(
      "# Echo (STDIO) (not answering yet)",
    );
    expect(agentHeading("Echo", "http", "not answering yet")).toBe(
      "# Echo (http, not answering yet)",
    );
    const banner = devBanner("http://r", "hybro_k", "/a.json", "hi", [
      { name: "Up", id: "u1", healthy: true, kind: "stdio" },
      { name: "Down", id: null, healthy: false, kind: "stdio", problem: "exited with code 1" },
    ]);
    expect(banner).toContain("hub ready with 1 agent from /a.json");
    expect(banner).toContain("# Down (stdio, not available)\n#   exited with code 1\n");
    expect(banner).not.toContain("agents/null");
  });

  it("a gateway URL is saved only as a plain http(s) base, without trailing slashes", () => {
    expect(checkGatewayUrl(" https://relay.example/ ")).toEqual({
      ok: true,
      url: "https://relay.example",
    });
    expect(checkGatewayUrl("http://127.0.0.1:8787//")).toEqual({
      ok: true,
      url: "http://127.0.0.1:8787",
    });
    for (const bad of ["relay.example", "ftp://relay", "https://u:p@relay", "https://r/?a=1"]) {
      expect(checkGatewayUrl(bad).ok, bad).toBe(false);
    }
  });
});
