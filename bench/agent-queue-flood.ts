// Benchmark (issue 15, finding 5): 100,000 turns offered to one slow agent. The real hub
// (`start --foreground`, a child process, production settings) behind the development relay,
// the example stdio echo agent slowed to 30 s per turn (8 at a time). Prints JSON: the hub's
// resident memory at its peak, at the end of the flood and once it settled (QUEUE_FLOOD_SETTLE_MS,
// default 30 s, without new turns), the heap it keeps (in use after a full GC, through
// heap-on-signal.mjs and --expose-gc), how many turns were answered AgentBusy at once, how many
// wait or run, and how long the 100,000 took to be taken in or answered. Only the hub's process
// is measured (/proc/<its pid>): the development relay runs in this one.
//
//   node bench/agent-queue-flood.ts
//   QUEUE_FLOOD_TURNS=20000 node bench/agent-queue-flood.ts
//   BENCH_HUB_ROOT=/path/to/other/checkout node bench/agent-queue-flood.ts
//   QUEUE_FLOOD_QUIET_MS=120000 …   # wait longer for a hub that falls behind before answering
//
// QUEUE_FLOOD_RATE=N offers N turns per second (default 0: all at once, as fast as the relay
// writes them). At once, the relay cannot take the 100,000 AgentBusy answers as fast as the hub
// makes them; what it has not taken yet waits in the outbox and is most of the memory.
//
// One run on a shared machine: compare with another commit run the same way.

import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep, setImmediate as yieldNow } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { NO_RATE_LIMITS, startDevRelay } from "../src/devrelay/index.ts";
import { silentLogger } from "../src/log/logger.ts";
import { floodTurn } from "../test/support/refusing-relay.ts";
import { memoryMiB, spawnHub, waitFor } from "./hub-process.ts";

const HERE = fileURLToPath(new URL("..", import.meta.url));
const ROOT = resolve(process.env.BENCH_HUB_ROOT ?? HERE);
const TURNS = Number(process.env.QUEUE_FLOOD_TURNS ?? 100_000);
const ROOMS = 100;
const RATE = Number(process.env.QUEUE_FLOOD_RATE ?? 0);
const SETTLE_MS = Number(process.env.QUEUE_FLOOD_SETTLE_MS ?? 30_000);
/** Nothing answered this long ends the wait: the hub queues (or has fallen behind), not refuses. */
const QUIET_MS = Number(process.env.QUEUE_FLOOD_QUIET_MS ?? 20_000);

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "hybro-bench-queue-"));
  const relay = await startDevRelay({
    port: 0,
    memory: true,
    logger: silentLogger(),
    rateLimits: NO_RATE_LIMITS,
    // Every turn's route kept, so each AgentBusy answer is taken (not dropped as unknown).
    turnHistoryMax: TURNS + 1_000,
  });
  const { key } = relay.createKey({ userId: "bench", name: "bench", scopes: ["*"] });
  const agentsFile = join(home, "agents.json");
  writeFileSync(
    agentsFile,
    JSON.stringify({
      agents: [
        {
          name: "Slow",
          command: process.execPath,
          args: [join(HERE, "examples/echo-stdio-agent.mjs")],
          env: { ECHO_NAME: "Slow", ECHO_DELAY_MS: "30000" },
          maxConcurrency: 8,
        },
      ],
    }),
  );
  const hubId = randomBytes(16).toString("hex");
  mkdirSync(join(home, "data"), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, "data", "hub_id"), `${hubId}\n`, { mode: 0o600 });
  const heapFile = join(home, "heap.json");
  const hub = spawnHub({
    root: ROOT,
    home,
    key,
    args: ["--gateway-url", relay.url, "--agents", agentsFile, "--shutdown-grace-ms", "0"],
    nodeFlags: ["--expose-gc", "--import", join(HERE, "bench/heap-on-signal.mjs")],
    env: { HYBRO_BENCH_HEAP: heapFile },
  });
  let finished = 0;
  relay.on("turnFinished", () => {
    finished++;
  });
  const results: Record<string, unknown> = {
    tree: ROOT,
    turns: TURNS,
    offeredPerS: RATE > 0 ? RATE : "all at once",
  };
  try {
    await relay.waitForHubOnline(hubId, 120_000);
    await waitFor(
      "the agent to be synced",
      () => (relay.hubs().find((h) => h.hubId === hubId)?.agents.length ?? 0) > 0,
      60_000,
    );
    const localAgentId = relay.hubs().find((h) => h.hubId === hubId)?.agents[0]
      ?.local_agent_id as string;
    const pid = hub.child.pid as number;
    results.rssMiBBefore = memoryMiB(pid, "VmRSS");
    const t0 = performance.now();
    for (let n = 0; n < TURNS; n++) {
      relay.sendCommand(hubId, floodTurn(localAgentId, n, ROOMS));
      if (RATE > 0 && n % Math.max(1, RATE / 10) === 0) {
        // Paced: n turns should have gone by now; wait until it is time for the next slice.
        const dueMs = t0 + (n / RATE) * 1000;
        if (dueMs > performance.now()) await sleep(dueMs - performance.now());
      } else if (n % 500 === 499) await yieldNow();
    }
    // Every turn is either answered (refused) or waiting/running at the agent; the rest is
    // what the hub holds. Without a limit nothing is answered, so wait for the stream to drain
    // into the hub instead (its log goes quiet) at most a few minutes.
    const expectedAnswered = Math.max(0, TURNS - 8 - 256);
    const deadline = performance.now() + 600_000;
    let last = -1;
    let quietSince = performance.now();
    while (finished < expectedAnswered && performance.now() < deadline) {
      await sleep(500);
      if (process.env.BENCH_DEBUG) {
        process.stderr.write(
          `${Math.round(performance.now() - t0)} ms: finished ${finished}, rss ${memoryMiB(pid, "VmRSS")}\n`,
        );
      }
      if (finished !== last) {
        last = finished;
        quietSince = performance.now();
      } else if (performance.now() - quietSince > QUIET_MS) {
        break; // nothing answered for a while: the hub is queueing, not refusing
      }
    }
    results.secondsToTakeAll = Math.round((performance.now() - t0) / 100) / 10;
    results.answeredAtOnce = finished;
    results.runningOrWaiting = TURNS - finished;
    results.rssMiBAfter = memoryMiB(pid, "VmRSS");
    await sleep(SETTLE_MS);
    results.rssMiBSettled = memoryMiB(pid, "VmRSS");
    results.peakRssMiB = memoryMiB(pid, "VmHWM");
    results.heapMiBAfterGc = await heapInUseMiB(hub.child, heapFile);
  } finally {
    if (process.env.BENCH_DEBUG) process.stderr.write(hub.stderr().slice(-5_000));
    hub.child.kill("SIGKILL");
    await hub.exited;
    await relay.close();
    rmSync(home, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

/** The hub's heap in use after a full GC (heap-on-signal.mjs writes it on SIGUSR2), in MiB. */
async function heapInUseMiB(child: ChildProcess, file: string): Promise<number> {
  rmSync(file, { force: true });
  child.kill("SIGUSR2");
  await waitFor("the heap figure", () => existsSync(file), 60_000);
  await sleep(50);
  const { heapUsed } = JSON.parse(readFileSync(file, "utf8")) as { heapUsed: number };
  return Math.round(heapUsed / 2 ** 20);
}

await main();
