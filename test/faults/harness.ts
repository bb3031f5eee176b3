// The fault suite's shared parts: turns sent through the development relay, a ledger of what
// every relay instance applied (it outlives relay restarts), the per-turn verdict (exactly one
// terminal group, order, no doubles), hubs in-process or as real child processes, and the
// summary table (stdout + bench/results/faults.json), and the setup every scenario shares (a suite
// file's scope, relays, agents, hubs).
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { HubDaemon, type HubDaemonOptions } from "../../src/daemon/daemon.ts";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { createLogger, type Logger, silentLogger } from "../../src/log/logger.ts";
import type { RelayLinkSettings } from "../../src/relay/settings.ts";
import type { PublishedEvent, UserMessageCommand } from "../../src/wire/relay.ts";
import { textOfArtifacts } from "../../src/wire/room-answer.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { roomOf } from "../support/events.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = join(REPO_ROOT, "src/cli/main.ts");
export const RESULTS_FILE = join(REPO_ROOT, "bench/results/faults.json");

/** Turns per scenario: `HYBRO_FAULT_TURNS` (the long form), else the short form's default. */
export function faultTurns(shortDefault = 30): number {
  const fromEnv = Number(process.env.HYBRO_FAULT_TURNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : shortDefault;
}

/** Enough time for `turns` turns under faults (the long form gets proportionally more). */
export function budgetMs(turns: number, perTurnMs = 150, baseMs = 20_000): number {
  return baseMs + turns * perTurnMs;
}

export function testLogger(): Logger {
  return process.env.HYBRO_TEST_LOGS ? createLogger({ level: "debug" }) : silentLogger();
}

/** The pause between two turns a scenario sends. */
export const TURN_PACING_MS = 30;

/** A small seeded PRNG (mulberry32), so a scenario's faults are the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Timers shortened for in-process hubs, so faults are recovered from in tens of ms. */
export const FAST_LINK: Partial<RelayLinkSettings> = {
  heartbeatIntervalMs: 500,
  streamReadTimeoutMs: 2_000,
  reconnectBaseDelayMs: 50,
  reconnectMaxDelayMs: 400,
  publishCoalesceMs: 10,
  publishRetryBaseDelayMs: 50,
  publishRetryMaxDelayMs: 400,
  requestTimeoutMs: 5_000,
  connectTimeoutMs: 2_000,
};

// ---------------------------------------------------------------------------------------------
// A suite file's scope

export interface FaultSuite {
  /** The file's scenario rows, reported after its last test. */
  readonly results: ScenarioResult[];
  /** A fresh temp dir, removed after all. */
  readonly dir: string;
  /** Runs `cleanups` after all (after the report), the last deferred first. */
  defer(...cleanups: Array<() => unknown>): void;
  /** `judge`, and the result recorded among the file's rows. */
  judge(...args: Parameters<typeof judge>): Verdict;
  /** A relay in memory recording into a fresh ledger (closed after all), and a hub key for it. */
  relay(sseHeartbeatMs: number): Promise<{ relay: DevRelay; ledger: RelayLedger; key: string }>;
  /** Writes `agents` to the agents file `name` in `dir`; returns its path. */
  agentsFile(name: string, agents: Array<Record<string, unknown>>): string;
  /** A child hub (`hybro-hub start --foreground`), killed after all. */
  launchHub(options: ConstructorParameters<typeof HubProcess>[0]): HubProcess;
}

/**
 * The scope of one suite file (call it in its `describe`): after all, its results are reported
 * (stdout + faults.json), then everything deferred is cleaned up and its temp dir removed.
 */
export function faultSuite(dirPrefix: string): FaultSuite {
  const results: ScenarioResult[] = [];
  const cleanups: Array<() => unknown> = [];
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  afterAll(async () => {
    report(results);
    for (const cleanup of cleanups.reverse()) await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const defer = (...more: Array<() => unknown>) => {
    cleanups.push(...more);
  };
  return {
    results,
    dir,
    defer,
    judge: (...args) => {
      const verdict = judge(...args);
      results.push(verdict.result);
      return verdict;
    },
    relay: async (sseHeartbeatMs) => {
      const ledger = new RelayLedger();
      const relay = await startRelay({ sseHeartbeatMs, ledger });
      defer(() => relay.close());
      return { relay, ledger, key: hubKey(relay) };
    },
    agentsFile: (name, agents) => {
      const file = join(dir, name);
      writeAgentsFile(file, agents);
      return file;
    },
    launchHub: (options) => {
      const hub = new HubProcess(options);
      defer(() => hub.kill());
      return hub;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Relays and agents

/**
 * The development relay on a free loopback port, in memory or (with `dataDir`) persisted there;
 * with `ledger`, what it applies is recorded.
 */
export async function startRelay(options: {
  sseHeartbeatMs: number;
  dataDir?: string;
  ledger?: RelayLedger;
}): Promise<DevRelay> {
  const { sseHeartbeatMs, dataDir } = options;
  const relay = await startDevRelay(
    dataDir === undefined
      ? { port: 0, memory: true, sseHeartbeatMs }
      : { port: 0, dataDir, sseHeartbeatMs },
  );
  options.ledger?.attach(relay);
  return relay;
}

/** A new key (all scopes) for a hub of the user "alice". */
export function hubKey(relay: DevRelay): string {
  return relay.createKey({ userId: "alice", name: "hub", scopes: ["*"] }).key;
}

/** The local id of the agent `name` (else the first) the hub `hubId` synced; throws if none. */
export function syncedAgentId(relay: DevRelay, hubId: string, name?: string): string {
  const agents = relay.hubs().find((hub) => hub.hubId === hubId)?.agents ?? [];
  const agent = name === undefined ? agents[0] : agents.find((a) => a.name === name);
  if (!agent) throw new Error(`the agent ${name ?? ""} was not synced`);
  return agent.local_agent_id;
}

/** A streaming v1.0 agent answering each turn in 5 chunks, `delayMs` apart. */
export function startChunksAgent(name: string, delayMs: number): Promise<TestAgent> {
  return startTestAgent({
    dialect: "1.0",
    streaming: true,
    behaviour: "chunks",
    chunkCount: 5,
    delayMs,
    name,
  });
}

/** A streaming v1.0 agent that answers each turn after `delayMs` (cancellable meanwhile). */
export function startSlowAgent(name: string, delayMs: number): Promise<TestAgent> {
  return startTestAgent({ dialect: "1.0", streaming: true, behaviour: "slow", delayMs, name });
}

// ---------------------------------------------------------------------------------------------
// What the relay applied

/**
 * Every event any relay instance stored, per turn, in order: what the room holds. The relay is
 * strict (hybro.ai's rules): it recognises a retried event only by (task_id, response_seq). An
 * event the room holds twice under different keys (a retry that was not recognised) is counted
 * by content: the same type and data, `response_seq` aside.
 */
export class RelayLedger {
  readonly #turns = new Map<string, PublishedEvent[]>();
  readonly #contents = new Map<string, Map<string, number>>();
  /** Per turn: events the room stored a second (third, …) time. */
  readonly storedTwice = new Map<string, number>();
  /** Per turn: retried events the relay recognised by their key and dropped. */
  readonly relayDropped = new Map<string, number>();
  /** Per turn: events the relay dropped silently (lineage, cancel, foreign user message id). */
  readonly silentlyDropped = new Map<string, number>();

  attach(relay: DevRelay): void {
    relay.on("published", (event) => {
      const turn = event.agent_message_id;
      let contents = this.#contents.get(turn);
      if (!contents) {
        contents = new Map();
        this.#contents.set(turn, contents);
      }
      const content = contentOf(event);
      const seen = contents.get(content) ?? 0;
      contents.set(content, seen + 1);
      if (seen > 0) bump(this.storedTwice, turn);
      let events = this.#turns.get(turn);
      if (!events) {
        events = [];
        this.#turns.set(turn, events);
      }
      events.push(event);
    });
    relay.on("duplicate", (event) => bump(this.relayDropped, event.agent_message_id));
    relay.on("dropped", (event) => bump(this.silentlyDropped, event.agent_message_id));
  }

  events(agentMessageId: string): PublishedEvent[] {
    return this.#turns.get(agentMessageId) ?? [];
  }

  hasTerminal(agentMessageId: string): boolean {
    return this.events(agentMessageId).some((event) => event.type === "processing_status");
  }
}

/** An event as the room shows it: type and data without the relay key's `response_seq`. */
function contentOf(event: PublishedEvent): string {
  const { response_seq: _, ...data } = event.data as unknown as Record<string, unknown>;
  return JSON.stringify([event.type, data]);
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Sum of `counts` over `ids`. */
function total(counts: Map<string, number>, ids: readonly string[]): number {
  return ids.reduce((sum, id) => sum + (counts.get(id) ?? 0), 0);
}

// ---------------------------------------------------------------------------------------------
// Sending turns

export interface SentTurn {
  agentMessageId: string;
  command: UserMessageCommand;
}

export function turnCommand(
  localAgentId: string,
  index: number,
  text: string,
  rooms = 5,
): UserMessageCommand {
  const tag = randomBytes(6).toString("hex");
  return {
    type: "user_message",
    room_id: `room-${index % rooms}`,
    local_agent_id: localAgentId,
    agent_message_id: `amsg-${tag}-${index}`,
    user_message_id: `umsg-${tag}-${index}`,
    message: {
      kind: "message",
      role: "user",
      messageId: `m-${tag}-${index}`,
      parts: [{ kind: "text", text }],
    },
  };
}

/** Sends `count` turns to the hub's agent, `TURN_PACING_MS` apart; resolves to their ids. */
export async function sendPacedTurns(
  to: { relay: DevRelay; hubId: string; localAgentId: string },
  count: number,
  text: (i: number) => string,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const command = turnCommand(to.localAgentId, i, text(i));
    ids.push(command.agent_message_id);
    to.relay.sendCommand(to.hubId, command);
    await sleep(TURN_PACING_MS);
  }
  return ids;
}

/** Resolves once every turn has its `processing_status` at the ledger, or the time is up. */
export async function waitForTerminals(
  ledger: RelayLedger,
  ids: readonly string[],
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ids.every((id) => ledger.hasTerminal(id))) return true;
    await sleep(50);
  }
  return ids.every((id) => ledger.hasTerminal(id));
}

/** Resolves once `count()` has not changed for `quietMs` (late events, doubles, stragglers). */
export async function settle(count: () => number, quietMs = 400, maxMs = 5_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = count();
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(50);
    const now = count();
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= quietMs) {
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The verdict

export interface ScenarioResult {
  scenario: string;
  turns: number;
  completed: number;
  /** error_type → turns that ended failed with it. */
  failed: Record<string, number>;
  inputRequired: number;
  /** No terminal group at the relay. */
  lost: number;
  /** Turns with more than one terminal group or task_submitted. */
  duplicated: number;
  /** Events the room stored twice (a retry the relay did not recognise). */
  storedTwice: number;
  /** Events of a turn out of order (or after its terminal group, or a chunk missing). */
  disordered: number;
  /** Retried events the relay recognised by (task_id, response_seq) and dropped (expected under faults). */
  relayDroppedDuplicates: number;
  /** Events the relay dropped silently (must stay 0: the hub only publishes what it may). */
  silentlyDropped: number;
  /** What was injected, in words (e.g. proxy counters). */
  faults: string;
  seconds: number;
  recordedAt?: string;
  /** "short" or the HYBRO_FAULT_TURNS value: rows of one form are shown together. */
  form?: string;
}

export interface Verdict {
  result: ScenarioResult;
  /** The first few problems, in words (for the assertion message). */
  problems: string[];
}

const GROUP_HEADS = new Set(["agent_response", "agent_error", "task_interactive"]);

/** Checks every turn at the ledger: what the room stored, across relay restarts. */
export function judge(
  scenario: string,
  ledger: RelayLedger,
  ids: readonly string[],
  startedAt: number,
  faults = "",
): Verdict {
  const result: ScenarioResult = {
    scenario,
    turns: ids.length,
    completed: 0,
    failed: {},
    inputRequired: 0,
    lost: 0,
    duplicated: 0,
    storedTwice: total(ledger.storedTwice, ids),
    disordered: 0,
    relayDroppedDuplicates: total(ledger.relayDropped, ids),
    silentlyDropped: total(ledger.silentlyDropped, ids),
    faults,
    seconds: Math.round((Date.now() - startedAt) / 100) / 10,
  };
  const problems: string[] = [];
  const note = (id: string, what: string, events: PublishedEvent[]) => {
    if (problems.length < 8) {
      problems.push(`${id}: ${what} [${events.map((e) => e.type).join(", ")}]`);
    }
  };
  for (const id of ids) {
    const events = ledger.events(id);
    const terminals = events.filter((e) => e.type === "processing_status");
    const submitted = events.filter((e) => e.type === "task_submitted");
    if (terminals.length === 0) {
      result.lost++;
      note(id, "no terminal group", events);
      continue;
    }
    if (terminals.length > 1 || submitted.length > 1) {
      result.duplicated++;
      note(id, "doubled", events);
    }
    if ((ledger.storedTwice.get(id) ?? 0) > 0) {
      note(id, `${ledger.storedTwice.get(id)} event(s) stored twice`, events);
    }
    if (!inOrder(events)) {
      result.disordered++;
      note(id, "out of order", events);
    }
    const terminal = terminals[0] as Extract<PublishedEvent, { type: "processing_status" }>;
    if (terminal.data.status === "completed") result.completed++;
    else if (terminal.data.status === "input_required") result.inputRequired++;
    else {
      const error = events.find((e) => e.type === "agent_error") as
        | Extract<PublishedEvent, { type: "agent_error" }>
        | undefined;
      const reason = error?.data.error_type ?? "unknown";
      result.failed[reason] = (result.failed[reason] ?? 0) + 1;
    }
  }
  if (result.silentlyDropped > 0) {
    problems.push(`the relay dropped ${result.silentlyDropped} event(s) silently`);
  }
  return { result, problems };
}

/**
 * task_submitted first (unless the turn was refused before it started: then the group comes
 * alone), the terminal group last and once, streamed chunks `chunk i` consecutive from 0.
 */
export function inOrder(events: readonly PublishedEvent[]): boolean {
  const last = events.at(-1);
  if (last?.type !== "processing_status") return false;
  const first = events[0];
  if (first?.type !== "task_submitted" && !(first?.type === "agent_error" && events.length === 2))
    return false;
  const heads = events.filter((e) => GROUP_HEADS.has(e.type));
  if (heads.length > 1) return false;
  if (heads.length === 1 && events.at(-2) !== heads[0]) return false;
  // The streamed chunks as the room holds them (a fetched task may add several at once, or
  // replace what a cut stream left): `chunk 0 chunk 1 …`, none missing, none twice.
  const streamed = textOfArtifacts(roomOf(events).artifacts);
  const chunks = [...streamed.matchAll(/chunk (\d+) /g)].map((match) => Number(match[1]));
  if (chunks.join(" ") !== chunks.map((_, i) => i).join(" ")) return false;
  return chunks.length === 0 || streamed === chunks.map((n) => `chunk ${n} `).join("");
}

// ---------------------------------------------------------------------------------------------
// The summary: stdout and bench/results/faults.json (merged across the suite's files)

const STALE_RESULT_MS = 20 * 60_000;

export function recordResults(results: readonly ScenarioResult[]): ScenarioResult[] {
  mkdirSync(join(REPO_ROOT, "bench/results"), { recursive: true });
  const lock = `${RESULTS_FILE}.lock`;
  let fd: number | null = null;
  for (let i = 0; i < 200 && fd === null; i++) {
    try {
      fd = openSync(lock, "wx");
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    let merged: Record<string, ScenarioResult> = {};
    try {
      const old = JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as {
        scenarios?: Record<string, ScenarioResult>;
      };
      merged = old.scenarios ?? {};
    } catch {
      // first file of the run, or an unreadable leftover
    }
    // Rows of an earlier run (older than this run can be, or of the other form) are left out.
    const cutoff = Date.now() - STALE_RESULT_MS;
    const form = process.env.HYBRO_FAULT_TURNS || "short";
    for (const [name, old] of Object.entries(merged)) {
      const stale = !old.recordedAt || Date.parse(old.recordedAt) < cutoff;
      if (stale || old.form !== form) delete merged[name];
    }
    const now = new Date().toISOString();
    for (const result of results) merged[result.scenario] = { ...result, recordedAt: now, form };
    const all = Object.values(merged);
    const tmp = `${RESULTS_FILE}.${process.pid}.tmp`;
    writeFileSync(
      tmp,
      `${JSON.stringify({ updatedAt: new Date().toISOString(), scenarios: merged }, null, 2)}\n`,
    );
    renameSync(tmp, RESULTS_FILE);
    return all;
  } finally {
    if (fd !== null) {
      closeSync(fd);
      try {
        unlinkSync(lock);
      } catch {
        // gone already
      }
    }
  }
}

export function formatTable(results: readonly ScenarioResult[]): string {
  const header = [
    "scenario",
    "turns",
    "completed",
    "failed (reason)",
    "lost",
    "duplicated",
    "stored twice",
    "disordered",
    "retries dropped",
    "s",
    "faults injected",
  ];
  const rows = results.map((r) => [
    r.scenario,
    String(r.turns),
    String(r.completed),
    Object.entries(r.failed)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(", ") || (r.inputRequired > 0 ? `${r.inputRequired} input_required` : "0"),
    String(r.lost),
    String(r.duplicated),
    String(r.storedTwice ?? 0),
    String(r.disordered),
    String(r.relayDroppedDuplicates),
    String(r.seconds),
    r.faults,
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 || i === 3 || i === 10 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}

/** Records this file's scenarios and prints the table of everything recorded so far. */
export function report(results: readonly ScenarioResult[]): void {
  if (results.length === 0) return;
  const all = recordResults(results);
  const order = new Map(all.map((r, i) => [r.scenario, i]));
  all.sort((a, b) => (order.get(a.scenario) ?? 0) - (order.get(b.scenario) ?? 0));
  process.stdout.write(
    `\nfault suite (${results.map((r) => r.scenario).join(", ")} just ran; all recorded in bench/results/faults.json):\n${formatTable(all)}\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// Hubs

export function writeAgentsFile(file: string, agents: Array<Record<string, unknown>>): void {
  writeFileSync(file, JSON.stringify({ agents }, null, 2));
}

/** An in-process HubDaemon with a durable outbox in `dataDir` and fast timers. */
export async function startHubInProcess(
  options: Pick<HubDaemonOptions, "gatewayUrl" | "agentsFile"> & {
    key: string;
    dataDir: string;
    hubId?: string;
    link?: Partial<RelayLinkSettings>;
    extra?: Partial<HubDaemonOptions>;
  },
): Promise<HubDaemon> {
  const daemon = new HubDaemon({
    hubId: options.hubId ?? randomBytes(16).toString("hex"),
    gatewayUrl: options.gatewayUrl,
    apiKey: () => options.key,
    keySource: "the fault suite",
    agentsFile: options.agentsFile,
    logger: testLogger(),
    dataDir: options.dataDir,
    relay: { ...FAST_LINK, ...options.link },
    registry: { debounceMs: 50, healthCheckIntervalMs: 500, reprobeIntervalMs: 300 },
    hub: { shutdownGraceMs: 2_000 },
    ...options.extra,
  });
  const ready = once(daemon, "ready");
  await daemon.start();
  await ready;
  return daemon;
}

/** `hybro-hub start --foreground` as a real child process with its own HYBRO_HUB_HOME. */
export class HubProcess {
  readonly child: ChildProcess;
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(options: {
    home: string;
    gatewayUrl: string;
    key: string;
    agentsFile: string;
    args?: string[];
  }) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HYBRO_HUB_HOME: options.home,
      HYBRO_API_KEY: options.key,
      HYBRO_GATEWAY_URL: options.gatewayUrl,
    };
    delete env.NOTIFY_SOCKET;
    delete env.CREDENTIALS_DIRECTORY;
    this.child = spawn(
      process.execPath,
      [
        CLI,
        "start",
        "--foreground",
        "--agents",
        options.agentsFile,
        "--log-level",
        process.env.HYBRO_TEST_LOGS ? "debug" : "info",
        ...(options.args ?? []),
      ],
      { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "pipe"] },
    );
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
      if (this.stderr.length > 2_000_000) this.stderr = this.stderr.slice(-1_000_000);
      if (process.env.HYBRO_TEST_LOGS) process.stderr.write(chunk);
    });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL (if still running) and wait for the exit. */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
  }
}

/** Writes the hub id a child hub will use (so the test knows it before the hub starts). */
export function presetHubId(home: string): string {
  const hubId = randomBytes(16).toString("hex");
  mkdirSync(join(home, "data"), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, "data", "hub_id"), `${hubId}\n`, { mode: 0o600 });
  return hubId;
}
