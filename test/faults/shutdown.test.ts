// Stopping the real daemon (`hybro-hub start --foreground`, a child process) with real signals.
// SIGTERM: no new turns, running ones get the grace period, the rest are cancelled at the agent
// (A2A cancel) and answered HubShutdown, the outbox is flushed, exit 0. A second signal exits at
// once (130) and the outbox finishes on the next start, where turns the forced exit cut short
// are resumed from the agent.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { DevRelay } from "../../src/devrelay/index.ts";
import type { TestAgent } from "../support/a2a-agents.ts";
import { roomOf } from "../support/events.ts";
import { FaultProxy } from "./fault-proxy.ts";
import {
  budgetMs,
  faultSuite,
  faultTurns,
  presetHubId,
  settle,
  startChunksAgent,
  startSlowAgent,
  turnCommand,
  waitForTerminals,
} from "./harness.ts";

const TURNS = faultTurns(20);

async function until(probe: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The local ids of a hub's synced agents by name (waits until all are synced). */
async function agentIds(relay: DevRelay, hubId: string, names: string[]) {
  const ids = new Map<string, string>();
  await until(() => {
    for (const agent of relay.hubs().find((h) => h.hubId === hubId)?.agents ?? []) {
      ids.set(agent.name, agent.local_agent_id);
    }
    return names.every((name) => ids.has(name));
  }, "the agents to be synced");
  return ids;
}

describe("fault suite: stopping the daemon with signals", () => {
  const suite = faultSuite("hybro-faults-stop-");

  it(
    "SIGTERM: quick turns finish, slow ones are cancelled and answered, new ones refused, exit 0",
    async () => {
      const { relay, ledger, key } = await suite.relay(1_000);
      const quick = await startChunksAgent("Quick", 10);
      const slow: TestAgent = await startSlowAgent("Slow", 60_000);
      suite.defer(
        () => quick.close(),
        () => slow.close(),
      );
      const home = join(suite.dir, "graceful");
      const hubId = presetHubId(home);
      const agentsFile = suite.agentsFile("graceful-agents.json", [
        { name: "Quick", url: quick.url, maxConcurrency: 256 },
        { name: "Slow", url: slow.url, maxConcurrency: 256 },
      ]);
      const hub = suite.launchHub({
        home,
        gatewayUrl: relay.url,
        key,
        agentsFile,
        args: ["--shutdown-grace-ms", "1500"],
      });
      await relay.waitForHubOnline(hubId, 30_000);
      const ids = await agentIds(relay, hubId, ["Quick", "Slow"]);
      const startedAt = Date.now();

      const quickIds: string[] = [];
      const slowIds: string[] = [];
      for (let i = 0; i < TURNS; i++) {
        const slowTurn = i % 2 === 1;
        const command = turnCommand(ids.get(slowTurn ? "Slow" : "Quick") as string, i, `stop ${i}`);
        (slowTurn ? slowIds : quickIds).push(command.agent_message_id);
        relay.sendCommand(hubId, command);
      }
      // Quick turns done; slow ones running at the agent (their task ids known to the hub).
      await waitForTerminals(ledger, quickIds, budgetMs(TURNS));
      await until(
        () => slowIds.every((id) => ledger.events(id).some((e) => e.type === "task_status")),
        "the slow turns to be working",
      );

      hub.signal("SIGTERM");
      // During the grace period the hub still listens, but takes no new turn.
      await sleep(200);
      const late = turnCommand(ids.get("Quick") as string, TURNS, "too late");
      relay.sendCommand(hubId, late);
      const exit = await hub.exited;
      expect(exit, hub.stderr.slice(-3_000)).toEqual({ code: 0, signal: null });

      const all = [...quickIds, ...slowIds, late.agent_message_id];
      // Everything was flushed before the exit: no waiting here.
      const verdict = suite.judge(
        "graceful shutdown (SIGTERM)",
        ledger,
        all,
        startedAt,
        "SIGTERM, grace 1.5 s",
      );
      expect(verdict.problems).toEqual([]);
      expect(verdict.result).toMatchObject({ lost: 0, duplicated: 0, disordered: 0 });
      expect(verdict.result.completed).toBe(quickIds.length);
      expect(verdict.result.failed).toEqual({ HubShutdown: slowIds.length + 1 });
      // The slow turns were cancelled at the agent, each of them.
      expect(slow.cancels).toHaveLength(slowIds.length);
      expect(quick.received).toHaveLength(quickIds.length);
    },
    budgetMs(TURNS) * 2,
  );

  it(
    "a second signal exits at once; the outbox and cut-short turns finish on the next start",
    async () => {
      const { relay, ledger, key } = await suite.relay(1_000);
      const proxy = await FaultProxy.start(relay.url);
      suite.defer(() => proxy.close());
      const quick = await startChunksAgent("Quick", 5);
      // Slow enough to be still working at the second signal however long the quick turns take
      // to reach their agent on a loaded machine (it finishes while the hub is down).
      const medium = await startSlowAgent("Medium", 4_000);
      suite.defer(
        () => quick.close(),
        () => medium.close(),
      );
      const home = join(suite.dir, "forced");
      const hubId = presetHubId(home);
      const agentsFile = suite.agentsFile("forced-agents.json", [
        { name: "Quick", url: quick.url, maxConcurrency: 256 },
        { name: "Medium", url: medium.url, maxConcurrency: 256 },
      ]);
      const launch = () => suite.launchHub({ home, gatewayUrl: proxy.url, key, agentsFile });
      const first = launch();
      await relay.waitForHubOnline(hubId, 30_000);
      const ids = await agentIds(relay, hubId, ["Quick", "Medium"]);
      const startedAt = Date.now();

      // The relay stops taking events: everything the hub publishes stays in its outbox.
      let refused = 0;
      proxy.script = (request) => {
        if (request.kind !== "publish") return { do: "forward" };
        refused++;
        return { do: "respond", status: 503 };
      };
      const quickIds: string[] = [];
      for (let i = 0; i < TURNS; i++) {
        const command = turnCommand(ids.get("Quick") as string, i, `forced ${i}`);
        quickIds.push(command.agent_message_id);
        relay.sendCommand(hubId, command);
      }
      const mediumIds: string[] = [];
      for (let i = 0; i < 2; i++) {
        const command = turnCommand(ids.get("Medium") as string, TURNS + i, `medium ${i}`);
        mediumIds.push(command.agent_message_id);
        relay.sendCommand(hubId, command);
      }
      await until(
        () => quick.received.length === TURNS && medium.received.length === 2,
        "every turn to reach its agent",
      );
      await sleep(300); // the quick turns end; their events wait in the outbox

      first.signal("SIGTERM");
      await sleep(300); // draining: the medium turns have the grace period, the flush fails
      first.signal("SIGTERM");
      const exit = await first.exited;
      expect(exit, first.stderr.slice(-3_000)).toEqual({ code: 130, signal: null });
      expect(refused).toBeGreaterThan(0);
      const all = [...quickIds, ...mediumIds];
      expect(all.filter((id) => ledger.hasTerminal(id))).toEqual([]);

      // The relay works again; the next start sends the outbox and answers the medium turns.
      proxy.script = () => ({ do: "forward" });
      launch();
      await waitForTerminals(ledger, all, budgetMs(TURNS, 200, 30_000));
      await settle(() => relay.publishStats().events);
      const verdict = suite.judge(
        "second signal + restart",
        ledger,
        all,
        startedAt,
        `${refused} publishes refused, 2 SIGTERMs, restart`,
      );
      expect(verdict.problems).toEqual([]);
      expect(verdict.result).toMatchObject({ lost: 0, duplicated: 0, disordered: 0 });
      // The medium turns' agent tasks finished meanwhile: their answers, not an error.
      expect(verdict.result.completed).toBe(all.length);
      for (const id of mediumIds) {
        expect(roomOf(ledger.events(id))).toMatchObject({
          state: "completed",
          text: expect.stringContaining("slow: medium"),
        });
      }
      expect(quick.received).toHaveLength(TURNS);
      expect(medium.received).toHaveLength(2);
    },
    budgetMs(TURNS, 200, 40_000) * 2,
  );
});
