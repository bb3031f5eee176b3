// Issue 15, finding 4: a full outbox pinned the CPU and the hub could not be stopped. Each event
// added to a full outbox re-sorted the whole queue to find the oldest turn; at shutdown the turns
// queued behind a slow agent were all cancelled at once, their answers poured into the full
// outbox in one long run of promise callbacks, and no signal got through (76 s after SIGTERM,
// 430 s after a second one, in the review).
//
// Here: the real hub process on a real outbox.sqlite holding 100,000 unsent events, a relay that
// answers every publish with 503, and a slow agent with turns piled up behind it. One SIGTERM
// stops the hub with exit 0 (its cancelled turns answered into the outbox, the flush bounded);
// on the same outbox again, a second SIGTERM right after the grace period exits 130, and the
// outbox is still there for the next start. Times are only awaited here, never asserted: the
// figures are in bench/outbox-flood.ts.
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { OUTBOX_DB_FILE } from "../../src/outbox/database.ts";
import { cliEnv, runCli } from "../ops/cli-runner.ts";
import type { TestAgent } from "../support/a2a-agents.ts";
import { floodTurn, prefillOutbox, startRefusingRelay } from "../support/refusing-relay.ts";
import { faultSuite, presetHubId, startSlowAgent } from "./harness.ts";

const QUEUED_EVENTS = 100_000;
const ROOMS = 200;
const PILED_TURNS = 2_000;
const GRACE_MS = 1_000;
const KEY = `hybro_${"FullOutbox0".repeat(4)}`;
/** Far beyond what a stop takes here, far below what it took before the fix. */
const EXIT_WAIT_MS = 45_000;

async function until(probe: () => Promise<boolean> | boolean, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function exitWithin<T>(exited: Promise<T>, what: string): Promise<T> {
  const timedOut = sleep(EXIT_WAIT_MS).then(() => {
    throw new Error(`${what}: the hub was still running ${EXIT_WAIT_MS / 1000} s later`);
  });
  return Promise.race([exited, timedOut]);
}

function outboxRows(home: string): number {
  return (
    readOutbox(home, "SELECT COUNT(*) AS n FROM outbox_events").map((row) => Number(row.n))[0] ?? 0
  );
}

/** Turns with a HubShutdown answer waiting in the outbox. */
function answeredHubShutdown(home: string): Set<string> {
  const rows = readOutbox(
    home,
    "SELECT DISTINCT agent_message_id AS id FROM outbox_events WHERE event_json LIKE '%HubShutdown%'",
  );
  return new Set(rows.map((row) => String(row.id)));
}

function readOutbox(home: string, sql: string): Array<Record<string, unknown>> {
  const db = new DatabaseSync(join(home, "data", OUTBOX_DB_FILE), { readOnly: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

describe("fault suite: a full outbox, a relay answering 503, turns piled up", () => {
  const suite = faultSuite("hybro-faults-full-");

  it("one SIGTERM stops the hub (exit 0); a second one right after the grace exits at once (130)", async () => {
    const relay = await startRefusingRelay();
    const slow: TestAgent = await startSlowAgent("Slow", 120_000);
    suite.defer(
      () => relay.close(),
      () => slow.close(),
    );
    const home = join(suite.dir, "full");
    presetHubId(home);
    prefillOutbox(join(home, "data"), QUEUED_EVENTS, ROOMS);
    const agentsFile = suite.agentsFile("full-agents.json", [
      { name: "Slow", url: slow.url, maxConcurrency: 4 },
    ]);
    const env = cliEnv(home);
    const activeTurns = async () => {
      const status = await runCli(["status", "--json"], { env });
      return status.code === 0 ? Number(JSON.parse(status.stdout).activeTurns) : 0;
    };

    /** A hub on the full outbox with turns piled up behind the slow agent. */
    const pileUp = async () => {
      relay.agents.clear();
      const hub = suite.launchHub({
        home,
        gatewayUrl: relay.url,
        key: KEY,
        agentsFile,
        args: ["--shutdown-grace-ms", String(GRACE_MS)],
      });
      await until(
        () => relay.agents.has("Slow") && relay.streams.size > 0,
        "the agent to be synced and the command stream open",
        60_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; the hub said:\n${hub.stderr.slice(-2_000)}`);
      });
      const id = relay.agents.get("Slow") as string;
      const reached = slow.received.length;
      const turns = Array.from({ length: PILED_TURNS }, (_, n) => floodTurn(id, n, ROOMS));
      for (const turn of turns) relay.send(turn);
      // Running at the agent and waiting behind it: as many as the hub keeps.
      // A safety net, not a speed bound: on a loaded machine (the whole suite in parallel) the
      // hub takes over a minute to read 300 turns while it also retries a 100,000-event outbox.
      await until(async () => (await activeTurns()) >= 4 + 256, "turns to pile up", 240_000);
      await until(() => slow.received.length >= reached + 4, "the slow agent to be busy", 30_000);
      return { hub, turns };
    };

    // One SIGTERM: the running turns get the grace, the rest are cancelled and answered into
    // the outbox (the relay still refuses them), the flush gives up in time, exit 0.
    const first = await pileUp();
    first.hub.signal("SIGTERM");
    const stopped = await exitWithin(first.hub.exited, "after one SIGTERM");
    expect(stopped, first.hub.stderr.slice(-3_000)).toEqual({ code: 0, signal: null });
    const shutDown = answeredHubShutdown(home);
    const answered = first.turns.filter((turn) => shutDown.has(turn.agent_message_id));
    // The turns that waited and the running ones were answered HubShutdown, kept for the relay.
    expect(answered.length).toBeGreaterThanOrEqual(4 + 256);
    expect(outboxRows(home)).toBeGreaterThan(QUEUED_EVENTS * 0.9);

    // Again on the same outbox; the second SIGTERM lands while the cancelled turns are being
    // answered.
    const second = await pileUp();
    second.hub.signal("SIGTERM");
    await until(
      () => /SIGTERM: finishing running turns/.test(second.hub.stderr),
      "the first SIGTERM to be taken",
      EXIT_WAIT_MS,
    );
    await sleep(GRACE_MS + 300);
    second.hub.signal("SIGTERM");
    const forced = await exitWithin(second.hub.exited, "after a second SIGTERM");
    expect(forced, second.hub.stderr.slice(-3_000)).toEqual({ code: 130, signal: null });
    expect(second.hub.stderr).toContain("second SIGTERM: exiting now");
    // Nothing was lost by the forced exit: the outbox waits for the next start.
    expect(outboxRows(home)).toBeGreaterThan(QUEUED_EVENTS * 0.9);
  }, 600_000);
});
