// Benchmark (issue 15, finding 4): a full outbox while the relay answers 503 and turns keep
// arriving. The real hub (`start --foreground`, a child process) with a real outbox.sqlite
// filled with 100,000 unsent events from an earlier run, a relay on loopback that streams
// user_message commands and answers every publish with 503, and two copies of the example stdio
// echo agent: one quick, one that takes a minute per turn (so turns queue behind it and are
// cancelled at shutdown). Prints JSON: the hub's CPU share while full (turns arriving), its RSS,
// how soon it handles a SIGTERM, how long it takes to stop after one SIGTERM, and after a second
// one sent just after the grace period (when the cancelled turns' answers pour into the outbox).
//
//   node bench/outbox-flood.ts                  # 100,000 queued events, 20 turns/s
//   FLOOD_EVENTS=50000 FLOOD_TURNS_PER_S=50 node bench/outbox-flood.ts
//   BENCH_HUB_ROOT=/path/to/other/checkout node bench/outbox-flood.ts   # the same on another tree
//
// One run on a shared machine: compare with another commit run the same way, not with
// absolute numbers.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { prefillOutbox, startRefusingRelay } from "../test/support/refusing-relay.ts";
import { cpuSeconds, memoryMiB, spawnHub, waitFor } from "./hub-process.ts";

const HERE = fileURLToPath(new URL("..", import.meta.url));
const ROOT = resolve(process.env.BENCH_HUB_ROOT ?? HERE);
const EVENTS = Number(process.env.FLOOD_EVENTS ?? 100_000);
const TURNS_PER_S = Number(process.env.FLOOD_TURNS_PER_S ?? 20);
const MEASURE_S = Number(process.env.FLOOD_MEASURE_S ?? 20);
const GRACE_MS = 2_000;
const ROOMS = 200;
const KEY = `hybro_${randomBytes(24).toString("hex")}`;

const round1 = (n: number) => Math.round(n * 10) / 10;

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "hybro-bench-outbox-"));
  const relay = await startRefusingRelay();
  const agentsFile = join(home, "agents.json");
  const echoAgent = join(HERE, "examples/echo-stdio-agent.mjs");
  writeFileSync(
    agentsFile,
    JSON.stringify({
      agents: [
        { name: "Echo", command: process.execPath, args: [echoAgent] },
        {
          name: "Slow",
          command: process.execPath,
          args: [echoAgent],
          env: { ECHO_NAME: "Slow", ECHO_DELAY_MS: "30000" },
          maxConcurrency: 8,
        },
      ],
    }),
  );
  const results: Record<string, unknown> = {
    tree: ROOT,
    queuedEventsAtStart: EVENTS,
    turnsPerS: TURNS_PER_S,
    rooms: ROOMS,
    graceMs: GRACE_MS,
  };
  const launch = () =>
    spawnHub({
      root: ROOT,
      home,
      key: KEY,
      args: [
        "--gateway-url",
        relay.url,
        "--agents",
        agentsFile,
        "--shutdown-grace-ms",
        String(GRACE_MS),
      ],
    });
  const started: Array<ReturnType<typeof launch>> = [];
  try {
    prefillOutbox(join(home, "data"), EVENTS, ROOMS);

    // 1. Full outbox, relay answering 503, turns arriving: the hub's CPU share.
    let hub = launch();
    started.push(hub);
    await waitFor("the hub's agents synced", () => relay.agents.size === 2, 120_000);
    relay.feed(TURNS_PER_S, ["Echo", "Slow"], ROOMS);
    await sleep(5_000); // warm-up: the backlog is loaded, retries are backing off
    const pid = hub.child.pid as number;
    const cpu0 = cpuSeconds(pid);
    const publishes0 = relay.publishes;
    const t0 = performance.now();
    await sleep(MEASURE_S * 1000);
    const seconds = (performance.now() - t0) / 1000;
    results.cpuPercentWhileFull = round1(((cpuSeconds(pid) - cpu0) / seconds) * 100);
    results.publishPostsPerS = round1((relay.publishes - publishes0) / seconds);
    results.rssMiBWhileFull = memoryMiB(pid, "VmRSS");
    results.peakRssMiB = memoryMiB(pid, "VmHWM");

    // 2. One SIGTERM: handled how soon, and stopped within grace + the flush bound?
    let sentAt = performance.now();
    hub.child.kill("SIGTERM");
    results.firstSignalHandledMs = await hub.logged(/SIGTERM: finishing running turns/, 600_000);
    const stopped = await Promise.race([hub.exited, sleep(600_000).then(() => null)]);
    results.stopAfterOneSignalMs = stopped ? Math.round(stopped.atMs - sentAt) : ">600000";
    results.exitAfterOneSignal = stopped?.code ?? null;

    // 3. Restarted on the same outbox: SIGTERM, then a second SIGTERM just after the grace
    // period, while the turns it cancelled are being answered.
    relay.agents.clear();
    hub = launch();
    started.push(hub);
    await waitFor("the restarted hub's agents synced", () => relay.agents.size === 2, 120_000);
    await sleep(MEASURE_S * 1000);
    hub.child.kill("SIGTERM");
    await sleep(GRACE_MS + 500);
    sentAt = performance.now();
    hub.child.kill("SIGTERM");
    const forced = await Promise.race([hub.exited, sleep(600_000).then(() => null)]);
    results.exitAfterSecondSignalMs = forced ? Math.round(forced.atMs - sentAt) : ">600000";
    results.exitCodeAfterSecondSignal = forced?.code ?? null;
  } finally {
    relay.feed(0, [], 1);
    for (const hub of started) if (hub.child.exitCode === null) hub.child.kill("SIGKILL");
    await relay.close();
    rmSync(home, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`outbox-flood: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
// The refusing relay's feed and sockets may outlive the run; the figures are printed by now.
process.exit();
