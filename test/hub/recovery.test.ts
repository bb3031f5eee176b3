// Recovery of turns an earlier run accepted but never answered, against real @a2a-js/sdk agents:
// a finished task's result is published; an unknown task, no task id, or a task still working
// past the resume window (then cancelled at the agent) gets HubRestarted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RosterAgent } from "../../src/hub/hub.ts";
import {
  DEFAULT_RECOVERY_SETTINGS,
  type RecoverySettings,
  recoverTurns,
  type UnfinishedTurn,
} from "../../src/hub/recovery.ts";
import { silentLogger } from "../../src/log/logger.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import {
  type ConnectedClient,
  connectTestClient,
  startTestAgent,
  type TestAgent,
} from "../support/a2a-agents.ts";
import { roomOf } from "../support/events.ts";

const FAST: RecoverySettings = {
  ...DEFAULT_RECOVERY_SETTINGS,
  resumeMaxWaitMs: 400,
  pollIntervalMs: 50,
  maxPollIntervalMs: 100,
  callTimeoutMs: 2_000,
};

describe("recovering unfinished turns", () => {
  let echo: TestAgent;
  let slow: TestAgent;
  let echoClient: ConnectedClient;
  let slowClient: ConnectedClient;
  const roster = new Map<string, RosterAgent>();

  beforeAll(async () => {
    echo = await startTestAgent({ dialect: "1.0", streaming: false, behaviour: "echo" });
    slow = await startTestAgent({
      dialect: "0.3",
      streaming: false,
      behaviour: "slow",
      delayMs: 30_000,
      ignoreBlocking: true,
    });
    echoClient = await connectTestClient(echo);
    slowClient = await connectTestClient(slow);
    for (const [id, connected] of [
      ["echo", echoClient],
      ["slow", slowClient],
    ] as const) {
      roster.set(id, {
        localAgentId: id,
        name: id,
        client: connected.client,
        streaming: false,
        maxConcurrency: 4,
      });
    }
  });
  afterAll(async () => {
    await echoClient?.transport.close();
    await slowClient?.transport.close();
    await echo?.close();
    await slow?.close();
  });

  async function recover(turn: UnfinishedTurn, signal = new AbortController().signal) {
    const published: Array<{ room: string; events: PublishedEvent[] }> = [];
    const report = await recoverTurns([turn], {
      roster: { get: (id) => roster.get(id) },
      sink: { publish: (room, events) => published.push({ room, events }) },
      logger: silentLogger(),
      settings: FAST,
      signal,
    });
    return {
      report,
      events: published.flatMap((p) => p.events),
      rooms: published.map((p) => p.room),
    };
  }

  const message = (text: string) => ({
    kind: "message",
    role: "user",
    messageId: `m-${text}-${Date.now()}`,
    parts: [{ kind: "text", text }],
  });

  it("publishes the result of a task the agent finished meanwhile", async () => {
    const task = await echoClient.client.send(message("hello"), {
      signal: AbortSignal.timeout(5_000),
    });
    expect(task.kind).toBe("task");
    const { report, events, rooms } = await recover({
      agentMessageId: "t1",
      roomId: "room-1",
      localAgentId: "echo",
      userMessageId: "u1",
      agentTaskId: task.kind === "task" ? task.id : "",
    });
    expect(report).toEqual({ resumed: 1, failed: 0 });
    expect(rooms).toEqual(["room-1"]);
    expect(events.map((e) => e.type)).toEqual([
      "artifact_update",
      "agent_response",
      "processing_status",
    ]);
    expect(roomOf(events)).toMatchObject({ state: "completed", text: "echo: hello" });
    expect(events[1]?.data).toMatchObject({ agent_id: "echo" });
    const taskId = task.kind === "task" ? task.id : "";
    expect(events[2]?.data).toEqual({
      status: "completed",
      user_message_id: "u1",
      task_id: taskId,
    });
    for (const event of events) expect(event.data.task_id).toBe(taskId);
  });

  it.each([
    ["the agent does not know the task", "echo", "no-such-task"],
    ["the agent's task id was never learned", "echo", null],
    ["the agent is gone from the roster", "gone", "task-1"],
  ])("answers HubRestarted when %s", async (_why, localAgentId, agentTaskId) => {
    const { report, events } = await recover({
      agentMessageId: "t2",
      roomId: "room-2",
      localAgentId,
      userMessageId: null,
      agentTaskId,
    });
    expect(report).toEqual({ resumed: 0, failed: 1 });
    expect(events.map((e) => e.type)).toEqual(["agent_error", "processing_status"]);
    expect(events[0]?.data).toMatchObject({ error_type: "HubRestarted" });
    expect(events[1]?.data).toMatchObject({ status: "failed", user_message_id: null });
    // The task id the answer carries: the agent's when known, else a fresh one of the hub's.
    for (const event of events) {
      if (agentTaskId) expect(event.data.task_id).toBe(agentTaskId);
      else expect(event.data.task_id).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it("follows a task still working for a while, then cancels it at the agent", async () => {
    const task = await slowClient.client.send(message("take your time"), {
      signal: AbortSignal.timeout(5_000),
    });
    const taskId = task.kind === "task" ? task.id : "";
    expect(task.kind === "task" && task.status.state).toMatch(/submitted|working/);
    const { events } = await recover({
      agentMessageId: "t3",
      roomId: "room-3",
      localAgentId: "slow",
      userMessageId: "u3",
      agentTaskId: taskId,
    });
    expect(events[0]?.data).toMatchObject({
      error_type: "HubRestarted",
      error: expect.stringMatching(/still working.*canceled/),
    });
    expect(slow.cancels).toContain(taskId);
  });

  it("answers at once when stopped", async () => {
    const task = await slowClient.client.send(message("never mind"), {
      signal: AbortSignal.timeout(5_000),
    });
    const controller = new AbortController();
    controller.abort();
    const { events } = await recover(
      {
        agentMessageId: "t4",
        roomId: "room-4",
        localAgentId: "slow",
        userMessageId: null,
        agentTaskId: task.kind === "task" ? task.id : "",
      },
      controller.signal,
    );
    expect(events[0]?.data).toMatchObject({ error_type: "HubRestarted" });
  });
});
