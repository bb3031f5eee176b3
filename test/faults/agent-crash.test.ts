// Agents that die in the middle of a turn: a stdio agent process that exits mid-stream (the hub
// restarts it), and an HTTP agent whose connections are cut mid-stream (as when it crashes and
// its supervisor brings it back on the same port). Turns may fail, but each with a reason, once,
// in order; none may be lost or doubled.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HubDaemon } from "../../src/daemon/daemon.ts";
import type { DevRelay } from "../../src/devrelay/index.ts";
import type { TestAgent } from "../support/a2a-agents.ts";
import { FaultProxy } from "./fault-proxy.ts";
import {
  budgetMs,
  faultSuite,
  faultTurns,
  hubKey,
  RelayLedger,
  type ScenarioResult,
  sendPacedTurns,
  settle,
  startChunksAgent,
  startHubInProcess,
  startRelay,
  syncedAgentId,
  waitForTerminals,
} from "./harness.ts";

const TURNS = faultTurns(30);
const CRASHY = fileURLToPath(new URL("./fixtures/crashy-stdio-agent.mjs", import.meta.url));

describe("fault suite: agents crash mid-stream", () => {
  const suite = faultSuite("hybro-faults-agent-");
  let relay: DevRelay;
  let key: string;
  let daemon: HubDaemon | null = null;
  /** This test's agents and proxies, closed after it. */
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    // Each scenario records into its own ledger.
    relay = await startRelay({ sseHeartbeatMs: 500 });
    suite.defer(() => relay.close());
    key = hubKey(relay);
  });
  afterEach(async () => {
    await daemon?.stop({ graceMs: 0, flushTimeoutMs: 500 });
    daemon = null;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function run(
    name: string,
    agents: Array<Record<string, unknown>>,
    options: {
      text: (i: number) => string;
      every?: { ms: number; run: () => void };
      faults: () => string;
    },
  ): Promise<ScenarioResult> {
    const ledger = new RelayLedger();
    ledger.attach(relay);
    const agentsFile = suite.agentsFile(`${name.replace(/\W+/g, "-")}.json`, agents);
    daemon = await startHubInProcess({
      gatewayUrl: relay.url,
      agentsFile,
      key,
      dataDir: join(suite.dir, name.replace(/\W+/g, "-")),
    });
    const hubId = daemon.link.hubId;
    const localAgentId = syncedAgentId(relay, hubId);
    const startedAt = Date.now();
    const timer = options.every ? setInterval(options.every.run, options.every.ms) : null;
    let ids: string[];
    try {
      ids = await sendPacedTurns({ relay, hubId, localAgentId }, TURNS, options.text);
      await waitForTerminals(ledger, ids, budgetMs(TURNS));
    } finally {
      if (timer) clearInterval(timer);
    }
    await daemon.link.flush(5_000);
    await settle(() => relay.publishStats().events);
    const verdict = suite.judge(name, ledger, ids, startedAt, options.faults());
    expect(verdict.problems).toEqual([]);
    expect(verdict.result).toMatchObject({ lost: 0, duplicated: 0, disordered: 0 });
    return verdict.result;
  }

  it(
    "a stdio agent that exits mid-stream",
    async () => {
      let crashes = 0;
      const result = await run(
        "stdio agent exits mid-stream",
        [
          {
            name: "Crashy",
            command: process.execPath,
            args: [CRASHY],
            maxConcurrency: 4,
          },
        ],
        {
          text: (i) => {
            if (i % 10 !== 9) return `turn ${i}`;
            crashes++;
            return `turn ${i}: crash`;
          },
          faults: () => `${crashes} agent exits`,
        },
      );
      // The turns that made it exit failed; the agent came back for the ones after.
      expect(result.completed).toBeGreaterThan(0);
      expect(Object.values(result.failed).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    },
    budgetMs(TURNS) * 2,
  );

  it(
    "an HTTP agent whose connections are cut mid-stream",
    async () => {
      const agent: TestAgent = await startChunksAgent("Chunks", 30);
      const proxy = await FaultProxy.start(agent.url, () => "agent");
      cleanups.push(
        () => proxy.close(),
        () => agent.close(),
      );
      const result = await run(
        "HTTP agent cut mid-stream",
        [{ name: "Chunks", url: proxy.url, maxConcurrency: 64 }],
        {
          text: (i) => `turn ${i}`,
          every: { ms: 350, run: () => proxy.dropAll() },
          faults: () => `${proxy.counts.connectionsCut} agent connections cut`,
        },
      );
      expect(proxy.counts.connectionsCut).toBeGreaterThan(0);
      expect(result.completed).toBeGreaterThan(0);
    },
    budgetMs(TURNS) * 2,
  );
});
