// The pace of `tasks/get` polling, on a fake clock: a turn following a task (blocking send) and
// recovery after a restart both wait pollIntervalMs, growing by half, between polls. Counting
// the calls an in-memory agent receives in 10 s of fake time pins the schedule exactly.
import { describe, expect, it } from "vitest";
import { A2AClient } from "../../src/a2a/client.ts";
import type { RosterAgent } from "../../src/hub/hub.ts";
import { newHubTaskId } from "../../src/hub/mapping.ts";
import { DEFAULT_RECOVERY_SETTINGS, recoverTurns } from "../../src/hub/recovery.ts";
import { runTurn, TurnAbort } from "../../src/hub/turn.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { ManualClock } from "../support/manual-clock.ts";

type AgentTransport = A2AClient["transport"];

/** An agent whose one task stays "working" forever; it counts the calls per method. */
function workingAgent() {
  const calls: string[] = [];
  const task = { kind: "task", id: "task-1", contextId: "ctx", status: { state: "working" } };
  const transport: AgentTransport = {
    kind: "http",
    call: async (method) => {
      calls.push(method);
      return method === "tasks/cancel" ? { ...task, status: { state: "canceled" } } : task;
    },
    stream: () => {
      throw new Error("not a streaming agent");
    },
    fetchCard: async () => null,
    close: async () => {},
  };
  const client = new A2AClient({ transport, primary: "0.3", fallback: null });
  const polls = () => calls.filter((m) => m === "tasks/get").length;
  return { client, calls, polls };
}

describe("tasks/get pacing", () => {
  it("a turn polls after 1 s, then every 1.5× longer: 4 polls in the first 10 s", async () => {
    const clock = new ManualClock();
    const agent = workingAgent();
    const controller = new AbortController();
    const turn = runTurn(
      {
        agentMessageId: "amsg-1",
        localAgentId: "agent-a",
        agentName: "Slow",
        userMessageId: null,
        hubTaskId: newHubTaskId(),
        message: {
          kind: "message",
          role: "user",
          messageId: "m1",
          parts: [{ kind: "text", text: "hi" }],
        },
        streaming: false,
      },
      agent.client,
      () => {},
      {
        signal: controller.signal,
        settings: { pollIntervalMs: 1_000, maxPollIntervalMs: 100_000, turnDeadlineMs: 3_600_000 },
        clock,
      },
    );
    await clock.advance(999);
    expect(agent.calls).toEqual(["message/send"]);
    // Polls at 1000, 2500, 4750 and 8125 ms; the next would be at 13 187 ms.
    await clock.advance(10_000 - 999);
    expect(agent.polls()).toBe(4);
    controller.abort(new TurnAbort("cancel"));
    expect((await turn).status).toBe("failed");
  });

  it("recovery polls at once, then after 1 s, growing by half: 5 polls in the first 10 s", async () => {
    const clock = new ManualClock();
    const agent = workingAgent();
    const rosterAgent: RosterAgent = {
      localAgentId: "agent-a",
      name: "Slow",
      client: agent.client,
      streaming: false,
      maxConcurrency: 1,
    };
    const published: unknown[] = [];
    const controller = new AbortController();
    const recovery = recoverTurns(
      [
        {
          agentMessageId: "amsg-1",
          roomId: "room-1",
          localAgentId: "agent-a",
          userMessageId: null,
          agentTaskId: "task-1",
        },
      ],
      {
        roster: { get: (id) => (id === "agent-a" ? rosterAgent : undefined) },
        sink: { publish: (_room, events) => published.push(...events) },
        logger: silentLogger(),
        settings: {
          ...DEFAULT_RECOVERY_SETTINGS,
          pollIntervalMs: 1_000,
          maxPollIntervalMs: 100_000,
          resumeMaxWaitMs: 3_600_000,
        },
        signal: controller.signal,
        clock,
      },
    );
    await clock.advance(999);
    expect(agent.polls()).toBe(1);
    // Polls at 0, 1000, 2500, 4750 and 8125 ms.
    await clock.advance(10_000 - 999);
    expect(agent.polls()).toBe(5);
    controller.abort();
    expect(await recovery).toEqual({ resumed: 0, failed: 1 });
    expect(agent.calls.at(-1)).toBe("tasks/cancel");
  });
});
