// The built hub as a child process for the benchmarks (`start --foreground`, production settings:
// the built `dist/`, as installed; run `npm run build` first, which `npm run bench` does), and what
// Linux's /proc says of it: CPU seconds, resident memory.
//   startHubProcess: the hub with agents and a relay, resolved once it says "hub ready".
//   spawnHub: any checkout's hub with any arguments, its log kept (the flood benchmarks).
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { DevRelay } from "../src/devrelay/index.ts";
import { daemonEnv, daemonNodeFlags } from "../src/system/daemon-settings.ts";
import type { PublishedEvent } from "../src/wire/relay.ts";

export interface HubProcess {
  child: ChildProcessWithoutNullStreams;
  /** What the hub printed up to "hub ready" (e.g. its inspector's URL). */
  readyOutput: string;
  /** A field of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`). */
  statusKb(field: string): number;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
}

export async function startHubProcess(options: {
  home: string;
  agentsFile: string;
  relayUrl: string;
  key: string;
  /** Node flags before the script (e.g. heap settings). */
  nodeFlags?: string[];
  env?: Record<string, string>;
  /** More `start` options (e.g. `--inspect`). */
  args?: string[];
}): Promise<HubProcess> {
  mkdirSync(join(options.home, "config"), { recursive: true });
  // BENCH_HUB_CONFIG: a config.json for the hub (e.g. a privacy policy to compare).
  if (process.env.BENCH_HUB_CONFIG) {
    writeFileSync(join(options.home, "config", "config.json"), process.env.BENCH_HUB_CONFIG, {
      mode: 0o600,
    });
  }
  const child = spawn(
    process.execPath,
    [
      ...hubNodeFlags(options.nodeFlags),
      builtCli(join(import.meta.dirname, "..")),
      "start",
      "--foreground",
      "--agents",
      options.agentsFile,
      "--gateway-url",
      options.relayUrl,
      "--log-level",
      "warn",
      ...(options.args ?? []),
    ],
    {
      env: {
        ...hubEnv(process.env),
        HYBRO_HUB_HOME: options.home,
        HYBRO_API_KEY: options.key,
        ...options.env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  ) as unknown as ChildProcessWithoutNullStreams;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("hub ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`hub exited early with ${code}`)));
  });
  return {
    child,
    readyOutput: out,
    statusKb: (field) => procStatusKb(child.pid as number, field),
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A field of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`, `RssAnon`). */
export function procStatusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
}

/**
 * One turn on the hub's own path: a `user_message` on its command stream, resolved with the
 * turn's events once its terminal event is published back (no gateway HTTP in between).
 */
export async function relayTurn(
  relay: DevRelay,
  hubId: string,
  localAgentId: string,
  text: string,
  timeoutMs: number,
): Promise<{ agentMessageId: string; events: PublishedEvent[] }> {
  const agentMessageId = `bench-${randomBytes(6).toString("hex")}`;
  const done = relay.waitForTurn(agentMessageId, timeoutMs);
  relay.sendCommand(hubId, {
    type: "user_message",
    room_id: `room-${agentMessageId}`,
    local_agent_id: localAgentId,
    agent_message_id: agentMessageId,
    user_message_id: `u-${agentMessageId}`,
    message: {
      kind: "message",
      role: "user",
      messageId: randomBytes(8).toString("hex"),
      parts: [{ kind: "text", text }],
    },
  });
  return { agentMessageId, events: await done };
}

export interface BenchHub {
  child: ChildProcess;
  /** The last 200 KB of its log (JSON lines on stderr). */
  stderr(): string;
  /** Its exit, with `performance.now()` at that moment. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
  /** Milliseconds from now until its log matches `marker` (null when it did not in time). */
  logged(marker: RegExp, timeoutMs: number): Promise<number | null>;
}

export function spawnHub(options: {
  /** The checkout whose built `dist/cli/main.js` runs (another commit's, to compare). */
  root: string;
  home: string;
  key: string;
  args: string[];
  /** Node flags before the script (e.g. `--expose-gc` and a preload). */
  nodeFlags?: string[];
  /** More environment for the hub. */
  env?: Record<string, string>;
}): BenchHub {
  const env: NodeJS.ProcessEnv = {
    ...hubEnv(process.env),
    HYBRO_HUB_HOME: options.home,
    HYBRO_API_KEY: options.key,
    ...options.env,
  };
  // BENCH_HUB_NODE_OPTIONS: Node flags for the hub alone (e.g. a heap limit, a profiler).
  if (process.env.BENCH_HUB_NODE_OPTIONS) env.NODE_OPTIONS = process.env.BENCH_HUB_NODE_OPTIONS;
  else delete env.NODE_OPTIONS;
  delete env.HYBRO_GATEWAY_URL;
  delete env.NOTIFY_SOCKET;
  delete env.CREDENTIALS_DIRECTORY;
  const child = spawn(
    process.execPath,
    [
      ...hubNodeFlags(options.nodeFlags),
      builtCli(options.root),
      "start",
      "--foreground",
      ...options.args,
    ],
    { env, cwd: options.root, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-200_000);
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    atMs: performance.now(),
  }));
  return {
    child,
    stderr: () => stderr,
    exited,
    async logged(marker, timeoutMs) {
      const from = performance.now();
      while (performance.now() - from < timeoutMs) {
        if (marker.test(stderr)) return Math.round(performance.now() - from);
        await sleep(5);
      }
      return null;
    },
  };
}

/**
 * The hub's Node flags: those a background start and the service units give the daemon
 * (BENCH_NO_DAEMON_FLAGS=1: without), then the bench's own.
 */
function hubNodeFlags(flags: string[] = []): string[] {
  return [...(process.env.BENCH_NO_DAEMON_FLAGS ? [] : daemonNodeFlags(flags)), ...flags];
}

/**
 * The daemon's environment settings too (BENCH_NO_DAEMON_FLAGS=1: without), then the bench's own:
 * BENCH_HUB_ENV="NAME=value NAME=value" for the hub alone (e.g. to try C library settings).
 */
function hubEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...(process.env.BENCH_NO_DAEMON_FLAGS ? env : daemonEnv(env)),
    ...benchHubEnv(),
  };
}

export function benchHubEnv(): Record<string, string> {
  return Object.fromEntries(
    (process.env.BENCH_HUB_ENV ?? "")
      .split(" ")
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
}

function builtCli(root: string): string {
  const cli = join(root, "dist/cli/main.js");
  if (!existsSync(cli))
    throw new Error(`${cli} is missing: run \`npm run build\` in ${root} first`);
  return cli;
}

/** User + system CPU seconds the process has used (Linux; USER_HZ is 100). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory now (VmRSS) or at its peak (VmHWM), in MiB. */
export function memoryMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  return Math.round(procStatusKb(pid, field) / 1024);
}

export async function waitFor(what: string, probe: () => boolean, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
