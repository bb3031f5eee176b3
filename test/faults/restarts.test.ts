// Restarts: the relay restarted (same data directory, so keys and hubs persist; its turn history
// and queues do not) while turns run, and the hub killed with SIGKILL and started again (a real
// child process, same HYBRO_HUB_HOME). After a hub kill, unsent events go out from the outbox,
// turns the dead hub had accepted are answered (the agent's finished result, or HubRestarted),
// commands it received but never handled are replayed after the persisted Last-Event-ID, and
// commands it had handled are not run twice.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { HubDaemon } from "../../src/daemon/daemon.ts";
import type { DevRelay } from "../../src/devrelay/index.ts";
import type { UserMessageCommand } from "../../src/wire/relay.ts";
import type { TestAgent } from "../support/a2a-agents.ts";
import { FaultProxy } from "./fault-proxy.ts";
import {
  budgetMs,
  faultSuite,
  faultTurns,
  hubKey,
  presetHubId,
  RelayLedger,
  settle,
  startChunksAgent,
  startHubInProcess,
  startRelay,
  syncedAgentId,
  TURN_PACING_MS,
  turnCommand,
  waitForTerminals,
} from "./harness.ts";

const TURNS = faultTurns(30);

describe("fault suite: restarts", () => {
  const suite = faultSuite("hybro-faults-restart-");

  it(
    "the relay restarts twice while turns run",
    async () => {
      const relayDir = join(suite.dir, "relay");
      const ledger = new RelayLedger();
      let relay: DevRelay = await startRelay({ dataDir: relayDir, sseHeartbeatMs: 250, ledger });
      // The relay running at the end (it is replaced on each restart).
      suite.defer(() => relay.close());
      const key = hubKey(relay);
      const agent = await startChunksAgent("Chunks", 20);
      suite.defer(() => agent.close());
      const proxy = await FaultProxy.start(relay.url);
      suite.defer(() => proxy.close());
      const agentsFile = suite.agentsFile("relay-agents.json", [
        { name: "Chunks", url: agent.url, maxConcurrency: 64 },
      ]);
      const daemon: HubDaemon = await startHubInProcess({
        gatewayUrl: proxy.url,
        agentsFile,
        key,
        dataDir: join(suite.dir, "relay-hub-data"),
      });
      suite.defer(() => daemon.stop({ graceMs: 0, flushTimeoutMs: 500 }));
      const hubId = daemon.link.hubId;
      const localAgentId = syncedAgentId(relay, hubId);

      const sent = new Map<string, UserMessageCommand>();
      const startedAt = Date.now();
      let restarts = 0;
      for (let i = 0; i < TURNS; i++) {
        if (i > 0 && i % Math.ceil(TURNS / 3) === 0) {
          await relay.close();
          await sleep(200);
          relay = await startRelay({ dataDir: relayDir, sseHeartbeatMs: 250, ledger });
          proxy.target = relay.url;
          restarts++;
          // What the old relay had not delivered died with it; a relay with durable queues
          // would deliver it again: send every unanswered command again. The hub must run
          // none of them twice.
          for (const [id, command] of sent) {
            if (!ledger.hasTerminal(id)) relay.sendCommand(hubId, command);
          }
        }
        const command = turnCommand(localAgentId, i, `relay restarts ${i}`);
        sent.set(command.agent_message_id, command);
        relay.sendCommand(hubId, command);
        await sleep(TURN_PACING_MS);
      }
      const ids = [...sent.keys()];
      await waitForTerminals(ledger, ids, budgetMs(TURNS));
      await daemon.link.flush(5_000);
      await settle(() => relay.publishStats().events);
      const verdict = suite.judge(
        "relay restarted",
        ledger,
        ids,
        startedAt,
        `${restarts} relay restarts`,
      );
      expect(verdict.problems).toEqual([]);
      expect(verdict.result).toMatchObject({ lost: 0, duplicated: 0, disordered: 0 });
      expect(verdict.result.completed).toBe(TURNS);
      // The agent ran each turn once, although many commands were delivered twice.
      expect(agent.received).toHaveLength(TURNS);
    },
    budgetMs(TURNS) * 2,
  );

  it(
    "the hub is killed (SIGKILL) twice and started again",
    async () => {
      const { relay, ledger, key } = await suite.relay(1_000);
      const agent: TestAgent = await startChunksAgent("Chunks", 60);
      suite.defer(() => agent.close());
      const home = join(suite.dir, "hub-home");
      const hubId = presetHubId(home);
      const agentsFile = suite.agentsFile("kill-agents.json", [
        { name: "Chunks", url: agent.url, maxConcurrency: 64 },
      ]);
      const launch = () => suite.launchHub({ home, gatewayUrl: relay.url, key, agentsFile });
      let hub = launch();
      await relay.waitForHubOnline(hubId, 30_000);
      let localAgentId: string | undefined;
      for (let i = 0; i < 200 && !localAgentId; i++) {
        localAgentId = relay.hubs().find((h) => h.hubId === hubId)?.agents[0]?.local_agent_id;
        if (!localAgentId) await sleep(50);
      }
      if (!localAgentId) throw new Error(`the agent was not synced\n${hub.stderr}`);

      const ids: string[] = [];
      const startedAt = Date.now();
      let kills = 0;
      const killAt = new Set([Math.floor(TURNS / 3), Math.floor((2 * TURNS) / 3)]);
      for (let i = 0; i < TURNS; i++) {
        if (killAt.has(i)) {
          await hub.kill();
          kills++;
        }
        const command = turnCommand(localAgentId, i, `hub killed ${i}`);
        ids.push(command.agent_message_id);
        relay.sendCommand(hubId, command);
        await sleep(TURN_PACING_MS);
        // A few turns wait at the relay while the hub is down; then it comes back.
        if (!hub.running && i % Math.floor(TURNS / 3) >= 3) hub = launch();
      }
      if (!hub.running) hub = launch();
      const done = await waitForTerminals(ledger, ids, budgetMs(TURNS, 200, 40_000));
      await settle(() => relay.publishStats().events, 1_000);
      const verdict = suite.judge(
        "hub SIGKILL + restart",
        ledger,
        ids,
        startedAt,
        `${kills} hub kills`,
      );
      expect(verdict.problems, done ? "" : hub.stderr.slice(-4_000)).toEqual([]);
      expect(verdict.result).toMatchObject({ lost: 0, duplicated: 0, disordered: 0 });
      // Every failure is the honest one for a turn the dead hub could not finish.
      expect(Object.keys(verdict.result.failed).every((reason) => reason === "HubRestarted")).toBe(
        true,
      );
      // No message reached the agent twice (a replayed command already handled is recognised).
      const texts = agent.received.map((message) => JSON.stringify(message));
      expect(new Set(texts).size).toBe(texts.length);
    },
    budgetMs(TURNS, 200, 40_000) * 2,
  );
});
