// Faults between the hub and the relay, injected by a proxy in front of the development relay
// (strict: hybro.ai's ingest rules, so a retried event is recognised only by its
// (task_id, response_seq)): connections dropped, publish answers lost after the relay processed
// them (streamed and blocking turns), the event stream stalled (a dead path the read timeout must
// notice; the relay replays after Last-Event-ID), 5xx, 429 with Retry-After, slow answers. A real
// in-process hub with a durable outbox and real agents; N turns per scenario (HYBRO_FAULT_TURNS for
// the long form). None of these faults may cost a turn, store an event twice, or reorder one.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { HubDaemon } from "../../src/daemon/daemon.ts";
import type { DevRelay } from "../../src/devrelay/index.ts";
import { startTestAgent } from "../support/a2a-agents.ts";
import { FaultProxy, type ProxyCounts, type ProxyScript } from "./fault-proxy.ts";
import {
  budgetMs,
  faultSuite,
  faultTurns,
  type RelayLedger,
  seeded,
  sendPacedTurns,
  settle,
  startChunksAgent,
  startHubInProcess,
  syncedAgentId,
  waitForTerminals,
} from "./harness.ts";

const TURNS = faultTurns(30);

describe("fault suite: relay faults", () => {
  const suite = faultSuite("hybro-faults-relay-");
  const { results } = suite;
  let relay: DevRelay;
  let ledger: RelayLedger;
  let proxy: FaultProxy;
  let daemon: HubDaemon;
  let hubId: string;
  let localAgentId: string;
  let blockingAgentId: string;

  beforeAll(async () => {
    let key: string;
    ({ relay, ledger, key } = await suite.relay(250));
    const agent = await startChunksAgent("Chunks", 10);
    suite.defer(() => agent.close());
    const blocking = await startTestAgent({
      dialect: "0.3",
      streaming: false,
      behaviour: "echo",
      name: "Blocking",
    });
    suite.defer(() => blocking.close());
    proxy = await FaultProxy.start(relay.url);
    suite.defer(() => proxy.close());
    const agentsFile = suite.agentsFile("agents.json", [
      { name: "Chunks", url: agent.url, maxConcurrency: 64 },
      { name: "Blocking", url: blocking.url, maxConcurrency: 64 },
    ]);
    daemon = await startHubInProcess({
      gatewayUrl: proxy.url,
      agentsFile,
      key,
      dataDir: join(suite.dir, "data"),
      link: { streamReadTimeoutMs: 1_000 },
    });
    suite.defer(() => daemon.stop({ graceMs: 0, flushTimeoutMs: 500 }));
    hubId = daemon.link.hubId;
    localAgentId = syncedAgentId(relay, hubId, "Chunks");
    blockingAgentId = syncedAgentId(relay, hubId, "Blocking");
  });

  function injectedFaults(before: ProxyCounts, after: ProxyCounts): string {
    const names: Array<[keyof ProxyCounts, string]> = [
      ["resets", "resets"],
      ["connectionsCut", "connections cut"],
      ["lostAnswers", "answers lost"],
      ["responded", "error answers"],
      ["streamsCut", "streams cut"],
      ["streamsStalled", "streams stalled"],
    ];
    const parts = names
      .map(([key, label]) => [after[key] - before[key], label] as const)
      .filter(([n]) => n > 0)
      .map(([n, label]) => `${n} ${label}`);
    return parts.join(", ") || "delays only";
  }

  /** Sends the turns while `faults` runs, then lets the hub finish with a healthy path. */
  async function scenario(
    name: string,
    faults: {
      script?: ProxyScript;
      every?: { ms: number; run: () => void };
      atStart?: () => void;
      delaysOnly?: boolean;
      /** The agent the turns go to (default: the streaming one). */
      agent?: string;
    },
  ): Promise<void> {
    const startedAt = Date.now();
    const before = { ...proxy.counts };
    proxy.script = faults.script ?? (() => ({ do: "forward" }));
    faults.atStart?.();
    const timer = faults.every ? setInterval(faults.every.run, faults.every.ms) : null;
    let ids: string[];
    try {
      const to = { relay, hubId, localAgentId: faults.agent ?? localAgentId };
      ids = await sendPacedTurns(to, TURNS, (i) => `${name} ${i}`);
      // Faults go on while most turns finish; then the path heals so stragglers can land.
      await waitForTerminals(ledger, ids, budgetMs(TURNS) / 2);
    } finally {
      if (timer) clearInterval(timer);
      proxy.script = () => ({ do: "forward" });
    }
    await waitForTerminals(ledger, ids, budgetMs(TURNS) / 2);
    await daemon.link.flush(5_000);
    await settle(() => relay.publishStats().events);
    const injected = injectedFaults(before, proxy.counts);
    const verdict = suite.judge(name, ledger, ids, startedAt, injected);
    expect(verdict.problems, `${name} (${injected})`).toEqual([]);
    if (!faults.delaysOnly) expect(injected).not.toBe("delays only");
    expect(verdict.result).toMatchObject({
      lost: 0,
      duplicated: 0,
      storedTwice: 0,
      disordered: 0,
      silentlyDropped: 0,
    });
    // Nothing was wrong with the agent: every turn must have its answer.
    expect(verdict.result.completed).toBe(TURNS);
  }

  it(
    "connections dropped, and answers lost after the relay applied a publish",
    async () => {
      const random = seeded(1);
      await scenario("relay connections dropped", {
        script: (request) =>
          request.kind === "publish" && random() < 0.15
            ? { do: "forward-then-reset" }
            : { do: "forward" },
        every: { ms: 300, run: () => proxy.dropAll() },
      });
      // The hub retried batches the relay had applied; the relay recognised them by their key.
      expect(results.at(-1)?.relayDroppedDuplicates).toBeGreaterThan(0);
    },
    budgetMs(TURNS) * 2,
  );

  for (const [kind, agent, seed] of [
    ["streamed", () => localAgentId, 11],
    ["blocking", () => blockingAgentId, 12],
  ] as const) {
    it(
      `publish answers lost after the relay processed them (20 %, ${kind} turns)`,
      async () => {
        const random = seeded(seed);
        await scenario(`publish answers lost (${kind})`, {
          agent: agent(),
          script: (request) =>
            request.kind === "publish" && random() < 0.2
              ? { do: "forward-then-reset" }
              : { do: "forward" },
        });
        // Every lost answer made the hub send the batch again; the relay stored none of it twice.
        expect(results.at(-1)?.relayDroppedDuplicates).toBeGreaterThan(0);
      },
      budgetMs(TURNS) * 2,
    );
  }

  it(
    "event stream stalled (dead path: read timeout, reconnect, replay after Last-Event-ID)",
    async () => {
      const replays: number[] = [];
      const onConnect = (info: { replayed: number }) => replays.push(info.replayed);
      relay.on("hubConnected", onConnect);
      try {
        await scenario("event stream stalled", {
          atStart: () => proxy.stallStreams(),
          every: { ms: 1_200, run: () => proxy.stallStreams() },
        });
      } finally {
        relay.off("hubConnected", onConnect);
      }
      // Commands written into the dead stream reached the hub by replay after Last-Event-ID.
      expect(replays.some((replayed) => replayed > 0)).toBe(true);
    },
    budgetMs(TURNS) * 2,
  );

  it(
    "relay answers 5xx (before and after acting on a call)",
    async () => {
      const random = seeded(3);
      await scenario("relay 5xx", {
        script: (request) => {
          const r = random();
          if (request.kind === "publish") {
            if (r < 0.2) return { do: "respond", status: 503 };
            if (r < 0.3) return { do: "forward-then-respond", status: 502 };
          }
          if (["heartbeat", "sync", "events"].includes(request.kind) && r < 0.3) {
            return { do: "respond", status: 500 + Math.floor(random() * 5) };
          }
          return { do: "forward" };
        },
        every: { ms: 700, run: () => proxy.cutStreams() },
      });
    },
    budgetMs(TURNS) * 2,
  );

  it(
    "relay rate-limits with 429 and Retry-After",
    async () => {
      const random = seeded(4);
      const limited = (seconds: string) => ({
        do: "respond" as const,
        status: 429,
        headers: { "retry-after": seconds },
        body: JSON.stringify({
          detail: { error: "rate_limit_exceeded", message: "Rate limit exceeded" },
        }),
      });
      await scenario("relay 429 + Retry-After", {
        script: (request) => {
          if (request.kind === "publish" && random() < 0.3) return limited("0.2");
          if (request.kind === "events" && request.n % 2 === 1) return limited("0.3");
          return { do: "forward" };
        },
        every: { ms: 800, run: () => proxy.cutStreams() },
      });
    },
    budgetMs(TURNS) * 2,
  );

  it(
    "slow relay (requests, answers and the stream delayed)",
    async () => {
      const random = seeded(5);
      await scenario("slow relay", {
        script: () => ({
          do: "forward",
          delayMs: Math.floor(random() * 120),
          responseDelayMs: Math.floor(random() * 120),
          streamDelayMs: 40,
        }),
        delaysOnly: true,
      });
    },
    budgetMs(TURNS) * 2,
  );
});
