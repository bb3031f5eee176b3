// Issue 15, finding 5: an agent's queue had no bound (100,000 turns queued behind a slow agent,
// 447 MB, none refused). Each agent now queues at most `maxQueued` turns (agents.json; the hub's
// default otherwise, 256); a turn beyond that is answered at once with agent_error (AgentBusy) +
// processing_status(failed), while the agent is still busy with the earlier ones.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PublishedEvent, UserMessageCommand } from "../../src/wire/relay.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { type Stack, startStack } from "../support/stack.ts";

async function until(probe: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function turn(localAgentId: string, index: number): UserMessageCommand {
  return {
    type: "user_message",
    room_id: `room-queue-${index % 3}`,
    local_agent_id: localAgentId,
    agent_message_id: `amsg-queue-${localAgentId}-${index}`,
    user_message_id: `umsg-queue-${localAgentId}-${index}`,
    message: {
      kind: "message",
      role: "user",
      messageId: `m-queue-${localAgentId}-${index}`,
      parts: [{ kind: "text", text: `turn ${index}` }],
    },
  };
}

const ended = (events: PublishedEvent[]) => events.some((e) => e.type === "processing_status");

describe("a per-agent queue limit", () => {
  let stack: Stack;
  let slow: TestAgent;
  let slowDefault: TestAgent;

  beforeAll(async () => {
    // Slow enough that no turn finishes while the test runs: what ends was refused.
    slow = await startTestAgent({
      dialect: "1.0",
      streaming: true,
      behaviour: "slow",
      name: "Slow",
      delayMs: 120_000,
    });
    slowDefault = await startTestAgent({
      dialect: "1.0",
      streaming: true,
      behaviour: "slow",
      name: "SlowDefault",
      delayMs: 120_000,
    });
    stack = await startStack({
      agents: [
        { name: "Slow", url: slow.url, maxConcurrency: 2, maxQueued: 3 },
        { name: "SlowDefault", url: slowDefault.url, maxConcurrency: 1 },
      ],
    });
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all([slow?.close(), slowDefault?.close()]);
  });

  const localId = (name: string) =>
    stack.relay
      .hubs()
      .find((hub) => hub.hubId === stack.hubId)
      ?.agents.find((agent) => agent.name === name)?.local_agent_id as string;

  it("turns beyond maxQueued are answered AgentBusy + failed at once; the others wait", async () => {
    const id = localId("Slow");
    const turns = Array.from({ length: 10 }, (_, i) => turn(id, i));
    for (const command of turns) stack.relay.sendCommand(stack.hubId, command);
    const refused = turns.slice(5).map((t) => t.agent_message_id);
    await until(
      () => refused.every((amid) => ended(stack.relay.eventsFor(amid))),
      "the turns over the queue limit to be answered",
    );
    for (const amid of refused) {
      const events = stack.relay.eventsFor(amid);
      expect(events.map((e) => e.type)).toEqual(["agent_error", "processing_status"]);
      expect(events[0]?.data).toMatchObject({
        error_type: "AgentBusy",
        error: expect.stringContaining(
          "Slow is busy: 2 turns are running on it and 3 more are waiting",
        ),
      });
      expect(events[1]?.data).toMatchObject({ status: "failed" });
    }
    // The first two run at the agent, the next three wait: none has ended.
    await until(() => slow.received.length === 2, "two turns to reach the agent");
    for (const t of turns.slice(0, 5))
      expect(ended(stack.relay.eventsFor(t.agent_message_id))).toBe(false);
    expect(stack.daemon.hub.countsFor(id)).toMatchObject({ running: 2, queued: 3, failed: 5 });
  });

  it("without maxQueued in agents.json the hub's default (256) applies", async () => {
    const id = localId("SlowDefault");
    const turns = Array.from({ length: 260 }, (_, i) => turn(id, i));
    for (const command of turns) stack.relay.sendCommand(stack.hubId, command);
    const refused = turns.slice(257).map((t) => t.agent_message_id);
    await until(
      () => refused.every((amid) => ended(stack.relay.eventsFor(amid))),
      "the turns over the default queue limit to be answered",
    );
    expect(stack.daemon.hub.countsFor(id)).toMatchObject({ running: 1, queued: 256, failed: 3 });
    for (const t of turns.slice(0, 257))
      expect(ended(stack.relay.eventsFor(t.agent_message_id))).toBe(false);
  });
});
