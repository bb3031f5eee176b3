// Two real hubs with one hub id (a copied data directory) against the development relay, which
// ends a hub's stream when another opens for the same id, as hybro.ai does. Each hub must say
// so clearly, in its log once and in its status, and slow its reconnects down. No assertion here
// depends on the machine's speed: the delays are lower bounds the hub chose, checked on the
// times between its own stream opens (a slower machine only makes them longer).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HubDaemon } from "../../src/daemon/daemon.ts";
import type { RelayLinkSettings } from "../../src/relay/settings.ts";
import { capturingLogger, waitUntil } from "../relay/scripted-server.ts";
import { FAST_REGISTRY, FAST_RELAY_LINK, type Stack, startStack } from "../support/stack.ts";

const SLOW_BASE_MS = 400;
const LINK: Partial<RelayLinkSettings> = {
  ...FAST_RELAY_LINK,
  slowReconnectBaseMs: SLOW_BASE_MS,
  slowReconnectMaxMs: 4 * SLOW_BASE_MS,
  duplicateHubCloses: 3,
  duplicateHubWindowMs: 120_000, // the suspicion must not wear off during the test
};

let stack: Stack | null = null;
let twin: HubDaemon | null = null;
const dirs: string[] = [];

afterEach(async () => {
  await twin?.stop({ graceMs: 0, flushTimeoutMs: 100 });
  await stack?.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  twin = null;
  stack = null;
});

/** Times of the daemon's stream opens. */
function opens(daemon: HubDaemon): number[] {
  const times: number[] = [];
  daemon.link.on("connected", () => times.push(Date.now()));
  return times;
}

describe("another process with the same hub id", () => {
  it("both hubs say so once, show it in status, and reconnect no faster than the slow delay", async () => {
    const firstLogs = capturingLogger("debug");
    stack = await startStack({ agents: [], link: LINK, logger: firstLogs.logger });
    const first = stack.daemon;
    const firstOpens = opens(first);

    // The copy: same hub id and key, its own data directory, started while the first runs.
    const twinLogs = capturingLogger("debug");
    const dataDir = mkdtempSync(join(tmpdir(), "hybro-twin-"));
    dirs.push(dataDir);
    twin = new HubDaemon({
      hubId: stack.hubId,
      gatewayUrl: stack.relay.url,
      apiKey: () => stack!.key,
      keySource: "the test",
      agentsFile: stack.agentsFile,
      logger: twinLogs.logger,
      dataDir,
      relay: LINK,
      registry: FAST_REGISTRY,
    });
    const twinOpens = opens(twin);
    await twin.start();

    const daemons = [
      { daemon: first, logs: firstLogs, times: firstOpens },
      { daemon: twin, logs: twinLogs, times: twinOpens },
    ];
    const problemOf = (daemon: HubDaemon) => daemon.snapshot().relay.problem;
    await waitUntil(
      () => daemons.every(({ daemon }) => problemOf(daemon)?.kind === "duplicate_hub"),
      30_000,
      "both hubs to see the other",
    );
    const detectedAt = daemons.map(({ daemon }) => Date.parse(problemOf(daemon)!.since));

    // Then each makes at least three more stream opens (each after a slow wait).
    await waitUntil(
      () => daemons.every(({ times }, i) => times.filter((t) => t > detectedAt[i]!).length >= 4),
      60_000,
      "four opens of each hub after it saw the other",
    );

    for (const [i, { daemon, logs, times }] of daemons.entries()) {
      const problem = problemOf(daemon)!;
      expect(problem.message).toContain(
        `another hub is using hub id ${stack.hubId} — is hybro-hub running twice, or was the data directory copied?`,
      );
      // Said once, loudly; the repeats are quiet.
      const loud = logs
        .lines()
        .filter((line) => String(line.msg).startsWith("another hub is using"));
      expect(loud.map((line) => line.level)).toEqual([50]);
      // Every delay chosen after it noticed is at least the slow floor (equal jitter: ≥ base/2)…
      const chosen = logs
        .lines()
        .filter(
          (line) =>
            Number(line.time) >= detectedAt[i]! &&
            /reconnecting in \d+ ms|next try in \d+ ms/.test(String(line.msg)),
        )
        .map((line) => Number(/in (\d+) ms/.exec(String(line.msg))![1]));
      expect(chosen.length).toBeGreaterThanOrEqual(3);
      for (const ms of chosen) expect(ms).toBeGreaterThanOrEqual(SLOW_BASE_MS / 2);
      // …and the opens really are that far apart: no flood of the relay.
      const after = times.filter((t) => t > detectedAt[i]!);
      for (let k = 1; k < after.length; k++) {
        expect(after[k]! - after[k - 1]!).toBeGreaterThanOrEqual(SLOW_BASE_MS / 2 - 5);
      }
    }
  });
});
