// Footprint benchmark: the built hub (`start --foreground`, production settings) against the
// development relay with one HTTP echo agent. Prints one JSON object: resident size idle and
// after 2,000 / 10,000 turns at concurrency 64, the heap after a forced GC, the median time from
// process start to `hub ready` of 10 starts, and the same for a bare `node -e` process.
//
//   npm run bench:footprint                      # (npm run bench runs it too)
//   FOOTPRINT_TURNS=100000 npm run bench:footprint   # the long run: RSS every 10,000 turns
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { NO_RATE_LIMITS, startDevRelay } from "../src/devrelay/index.ts";
import { silentLogger } from "../src/log/logger.ts";
import { DAEMON_ENV, daemonNodeFlags } from "../src/system/daemon-settings.ts";
import { startTestAgent } from "../test/support/a2a-agents.ts";
import {
  benchHubEnv,
  cpuSeconds,
  procStatusKb,
  relayTurn,
  startHubProcess,
} from "./hub-process.ts";
import { round } from "./stats.ts";

const CONCURRENCY = 64;
const IDLE_WAIT_MS = 8_000;
const STARTS = Number(process.env.FOOTPRINT_STARTS ?? 10);
// Extra Node flags for the measured hub, to try V8 settings (e.g. "--max-semi-space-size=1").
const extraFlags = (process.env.FOOTPRINT_NODE_FLAGS ?? "").split(" ").filter(Boolean);
const SETTLE_S = Number(process.env.FOOTPRINT_SETTLE_S ?? 30);
const totalTurns = Number(process.env.FOOTPRINT_TURNS ?? 10_000);
const mb = (kb: number) => round(kb / 1024, 1);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};

/** Resident size of a bare Node process 8 s after it is up, and its start-to-ready median. */
async function bareNode() {
  const startOnce = async (holdMs: number) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      ["-e", "process.stdout.write('ready\\n'); setInterval(() => {}, 1 << 30)"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    const readyMs = performance.now() - started;
    await sleep(holdMs);
    const rssKb = procStatusKb(child.pid!, "VmRSS");
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
    return { readyMs, rssKb };
  };
  const { rssKb } = await startOnce(IDLE_WAIT_MS);
  const starts: number[] = [];
  for (let i = 0; i < STARTS; i++) starts.push((await startOnce(0)).readyMs);
  return { idle_rss_mb: mb(rssKb), start_to_ready_ms_median: round(median(starts), 1) };
}

async function main() {
  const logger = silentLogger();
  const relay = await startDevRelay({ port: 0, memory: true, logger, rateLimits: NO_RATE_LIMITS });
  const { key } = relay.createKey({ userId: "bench", name: "bench", scopes: ["*"] });
  const echo = await startTestAgent({
    dialect: "1.0",
    streaming: false,
    behaviour: "echo",
    name: "FootprintEcho",
  });
  const home = mkdtempSync(join(tmpdir(), "hybro-footprint-"));
  const agentsFile = join(home, "agents.json");
  writeFileSync(
    agentsFile,
    JSON.stringify({
      agents: [{ name: "FootprintEcho", url: echo.url, maxConcurrency: CONCURRENCY }],
    }),
  );
  const options = { home, agentsFile, relayUrl: relay.url, key };

  // Start to ready: from spawn until the hub prints `hub ready`, 10 starts, each stopped.
  const starts: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const started = performance.now();
    const hub = await startHubProcess(options);
    starts.push(performance.now() - started);
    await hub.stop();
  }

  // The measured hub: --expose-gc and a tiny preload that reports the heap on SIGUSR2.
  const heapFile = join(home, "heap.json");
  const hub = await startHubProcess({
    ...options,
    nodeFlags: [
      ...extraFlags,
      "--expose-gc",
      "--import",
      join(import.meta.dirname, "heap-on-signal.mjs"),
    ],
    env: { HYBRO_BENCH_HEAP: heapFile },
  });
  const rss = () => mb(hub.statusKb("VmRSS"));
  const heapAfterGc = async () => {
    rmSync(heapFile, { force: true });
    hub.child.kill("SIGUSR2");
    while (!existsSync(heapFile)) await sleep(20);
    await sleep(20);
    const heap = JSON.parse(readFileSync(heapFile, "utf8")) as {
      heapUsed: number;
      heapTotal: number;
      external: number;
    };
    return {
      heap_used_mb: round(heap.heapUsed / 2 ** 20, 1),
      heap_total_mb: round(heap.heapTotal / 2 ** 20, 1),
      external_mb: round(heap.external / 2 ** 20, 1),
    };
  };
  await sleep(IDLE_WAIT_MS);
  const idle = rss();
  const idleHeap = await heapAfterGc();

  const hubId = readFileSync(join(home, "data", "hub_id"), "utf8").trim();
  const localId = relay
    .hubs()
    .find((h) => h.hubId === hubId)!
    .agents.find((a) => a.name === "FootprintEcho")!.local_agent_id;
  let done = 0;
  const runTurns = async (upTo: number) => {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (done < upTo) {
          const i = done++;
          const { events } = await relayTurn(relay, hubId, localId, `turn ${i}`, 60_000);
          if (events.at(-1)?.type !== "processing_status") throw new Error(`turn ${i} unfinished`);
        }
      }),
    );
  };
  const checkpoints: Record<string, number> = {};
  const settled: Record<string, number> = {};
  // Turns per second over each stretch, to see a V8 flag's cost in speed in the same run.
  const turnsPerS: Record<string, number> = {};
  // The hub's CPU per turn over each stretch: less sensitive than turns/s to a busy machine.
  const cpuMsPerTurn: Record<string, number> = {};
  const marks = [2_000, 10_000, ...Array.from({ length: 9 }, (_, i) => (i + 2) * 10_000)].filter(
    (n) => n <= totalTurns,
  );
  for (const mark of marks) {
    const from = done;
    const started = performance.now();
    const cpuBefore = cpuSeconds(hub.child.pid as number);
    await runTurns(mark);
    cpuMsPerTurn[String(mark)] = round(
      ((cpuSeconds(hub.child.pid as number) - cpuBefore) * 1000) / (mark - from),
      2,
    );
    turnsPerS[String(mark)] = round(((mark - from) * 1000) / (performance.now() - started), 1);
    checkpoints[String(mark)] = rss();
    if (mark === marks[0] || mark === marks.at(-1)) {
      // V8 gives heap back only once the allocation rate falls: the figure a daemon holds
      // between bursts, SETTLE_S after the last turn.
      await sleep(SETTLE_S * 1000);
      settled[String(mark)] = rss();
    }
  }
  const loadedHeap = await heapAfterGc();
  // Where the resident size is: anonymous memory (heaps, malloc) or mapped files (code, sqlite).
  const loadedRssParts = {
    anon_mb: mb(hub.statusKb("RssAnon")),
    file_mb: mb(hub.statusKb("RssFile")),
    shmem_mb: mb(hub.statusKb("RssShmem")),
  };
  const peak = mb(hub.statusKb("VmHWM"));
  await hub.stop();
  await echo.close();
  await relay.close();
  rmSync(home, { recursive: true, force: true });

  const result = {
    date: new Date().toISOString(),
    node: process.version,
    hub: {
      idle_rss_mb: idle,
      rss_mb_after_turns: checkpoints,
      [`rss_mb_${SETTLE_S}s_after_turns`]: settled,
      turns_per_s: turnsPerS,
      cpu_ms_per_turn: cpuMsPerTurn,
      node_flags: [
        ...(process.env.BENCH_NO_DAEMON_FLAGS ? [] : daemonNodeFlags(extraFlags)),
        ...extraFlags,
      ],
      env: { ...(process.env.BENCH_NO_DAEMON_FLAGS ? {} : DAEMON_ENV), ...benchHubEnv() },
      peak_rss_mb: peak,
      heap_after_gc_idle: idleHeap,
      heap_after_gc_loaded: loadedHeap,
      rss_parts_loaded: loadedRssParts,
      start_to_ready_ms_median: round(median(starts), 1),
      start_to_ready_ms: starts.map((ms) => round(ms, 1)),
    },
    bare_node: await bareNode(),
    targets: {
      idle_at_most_63mb: idle <= 63,
      after_2000_at_most_95mb: (checkpoints["2000"] ?? Number.NaN) <= 95,
    },
  };
  process.stdout.write(`${JSON.stringify({ footprint: result }, null, 2)}\n`);
}

await main();
