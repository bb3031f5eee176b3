// The real relay's contract, end to end against the strict development relay (hybro.ai's ingest
// rules: retries recognised only by (task_id, response_seq), the 7 event types, silent drops):
// a turn that continues an agent task (input-required, then the reply) has every event of both
// turns stored exactly once; cancel and user_reply reach the agent's task whatever task id the
// relay names; the relay's placeholders never reach an agent; run_id is echoed; and every kind
// of event the hub produces is one the relay stores.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PUBLISHED_EVENT_TYPES,
  type PublishedEvent,
  type UserMessageCommand,
} from "../../src/wire/relay.ts";
import { startTestAgent } from "../support/a2a-agents.ts";
import { type Stack, startStack, userMessage } from "../support/stack.ts";

type TestAgent = Awaited<ReturnType<typeof startTestAgent>>;

async function until<T>(probe: () => T | null | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("the real relay's contract, end to end", () => {
  const agents: Record<string, TestAgent> = {};
  let stack: Stack;
  /** Events the relay recognised as retries, or dropped silently, per agent message. */
  const notStored = new Map<string, string[]>();
  let counter = 0;

  beforeAll(async () => {
    const make = async (name: string, options: Parameters<typeof startTestAgent>[0]) => {
      agents[name] = await startTestAgent({ ...options, name });
    };
    await make("Asker", { dialect: "1.0", streaming: false, behaviour: "input-required" });
    await make("AskerStreaming", { dialect: "0.3", streaming: true, behaviour: "input-required" });
    await make("Chunks", { dialect: "1.0", streaming: true, behaviour: "chunks", chunkCount: 4 });
    await make("Echo", { dialect: "0.3", streaming: false, behaviour: "echo" });
    await make("Failing", { dialect: "1.0", streaming: true, behaviour: "fail" });
    await make("Slow", { dialect: "1.0", streaming: true, behaviour: "slow", delayMs: 30_000 });
    stack = await startStack({
      agents: Object.entries(agents).map(([name, agent]) => ({
        name,
        url: agent.url,
        ...(name === "Slow" ? { timeoutMs: 60_000 } : {}),
      })),
    });
    for (const kind of ["duplicate", "dropped"] as const) {
      stack.relay.on(kind, (event: PublishedEvent) => {
        const list = notStored.get(event.agent_message_id) ?? [];
        list.push(`${kind}:${event.type}`);
        notStored.set(event.agent_message_id, list);
      });
    }
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all(Object.values(agents).map((agent) => agent.close()));
  });

  const localId = (name: string) =>
    stack.daemon.registry.list().find((agent) => agent.name === name)!.localAgentId;

  /** Sends a user_message as hybro.ai does (run id, its agent id, a placeholder task id). */
  function userMessageTo(name: string, text: string, extra: Record<string, unknown> = {}) {
    counter++;
    const amid = `amsg-contract-${counter}`;
    const command: UserMessageCommand = {
      type: "user_message",
      room_id: "room-contract",
      local_agent_id: localId(name),
      agent_message_id: amid,
      user_message_id: `umsg-contract-${counter}`,
      run_id: `run-contract-${counter}`,
      agent_id: "agt_cloud",
      task_id: `relay-pending-${amid.slice(0, 12)}`,
      message: userMessage(text, extra),
    };
    stack.relay.sendCommand(stack.hubId, command);
    return command;
  }

  const finished = (amid: string) => stack.relay.waitForTurn(amid, 15_000);

  function expectStoredOnce(amids: readonly string[]): PublishedEvent[] {
    for (const amid of amids) expect(notStored.get(amid) ?? [], amid).toEqual([]);
    const events = amids.flatMap((amid) => stack.relay.eventsFor(amid));
    const keys = events.map((event) => `${event.data.task_id}:${event.data.response_seq}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const amid of amids) {
      const turn = stack.relay.eventsFor(amid);
      expect(turn[0]?.type).toBe("task_submitted");
      expect(turn.filter((event) => event.type === "processing_status")).toHaveLength(1);
      expect(turn.at(-1)?.type).toBe("processing_status");
    }
    return events;
  }

  it.each(["Asker", "AskerStreaming"])(
    "%s: input-required, then the reply on the same agent task: every event of both turns stored once",
    async (name) => {
      const id = await stack.agentId(name);
      const first = await stack.send(id, "book a table");
      expect(first.body.result?.status.state).toBe("input-required");
      const agentTaskId = first.body.result!.id;
      // The gateway turns this into a user_reply naming the agent's task (hybro.ai's HITL).
      const second = await stack.send(
        id,
        userMessage("for two", { taskId: agentTaskId, contextId: first.body.result!.contextId }),
      );
      expect(second.body.result?.status.state).toBe("completed");
      const amids = [first, second].map((reply) =>
        String(reply.body.result?.metadata?.agent_message_id),
      );
      const events = expectStoredOnce(amids);
      // Both turns published under the agent's task id: the case a per-turn numbering breaks.
      const underTask = (amid: string) =>
        events.filter(
          (event) => event.agent_message_id === amid && event.data.task_id === agentTaskId,
        );
      expect(underTask(amids[0]!).length).toBeGreaterThan(0);
      expect(underTask(amids[1]!).length).toBeGreaterThan(0);
    },
  );

  it("a user_reply naming the hub's own task id, or a placeholder, reaches the agent's task", async () => {
    const asker = agents.Asker!;
    const first = userMessageTo("Asker", "book");
    const firstEvents = await finished(first.agent_message_id);
    const hubTaskId = firstEvents[0]?.data.task_id as string;
    const agentTaskId = firstEvents.find((event) => event.type === "task_interactive")?.data
      .task_id as string;
    expect(hubTaskId).toMatch(/^[0-9a-f]{32}$/);
    expect(agentTaskId).not.toBe(hubTaskId);

    const before = asker.received.length;
    stack.relay.sendCommand(stack.hubId, {
      type: "user_reply",
      room_id: "room-contract",
      local_agent_id: localId("Asker"),
      agent_message_id: "amsg-contract-reply-hub-id",
      reply_text: "Ada",
      task_id: hubTaskId,
    });
    const reply = await finished("amsg-contract-reply-hub-id");
    expect(reply.at(-1)).toMatchObject({ data: { status: "completed" } });
    expect(asker.received[before]).toMatchObject({ taskId: agentTaskId });

    // A placeholder names no agent task: the reply goes without one (a new task at the agent).
    stack.relay.sendCommand(stack.hubId, {
      type: "user_reply",
      room_id: "room-contract",
      local_agent_id: localId("Asker"),
      agent_message_id: "amsg-contract-reply-placeholder",
      reply_text: "Bob",
      task_id: "relay-pending-amsg-contrac",
    });
    await finished("amsg-contract-reply-placeholder");
    expect(JSON.stringify(asker.received.slice(before))).not.toContain("relay-pending");
    expectStoredOnce([first.agent_message_id, "amsg-contract-reply-hub-id"]);
  });

  it("cancel_task reaches the agent's task by agent message or by the hub's task id, never a placeholder", async () => {
    const asker = agents.Asker!;
    const first = userMessageTo("Asker", "book");
    const events = await finished(first.agent_message_id);
    const hubTaskId = events[0]?.data.task_id as string;
    const agentTaskId = events.find((event) => event.type === "task_interactive")?.data
      .task_id as string;
    const cancels = asker.cancels.length;
    stack.relay.sendCommand(stack.hubId, {
      type: "cancel_task",
      local_agent_id: localId("Asker"),
      task_id: first.task_id ?? "",
      agent_message_id: first.agent_message_id,
    });
    await until(() => asker.cancels.length > cancels, "the agent's cancel");
    expect(asker.cancels.at(-1)).toBe(agentTaskId);

    const second = userMessageTo("Asker", "again");
    const secondEvents = await finished(second.agent_message_id);
    const secondHubTask = secondEvents[0]?.data.task_id as string;
    const secondAgentTask = secondEvents.find((event) => event.type === "task_interactive")?.data
      .task_id as string;
    stack.relay.sendCommand(stack.hubId, {
      type: "cancel_task",
      local_agent_id: localId("Asker"),
      task_id: secondHubTask,
    });
    await until(() => asker.cancels.at(-1) === secondAgentTask, "the cancel by hub task id");

    // Only a placeholder, no agent message: nothing goes to the agent. (A turn sent after it
    // and answered shows the hub has handled the cancel by then: commands are in order.)
    const count = asker.cancels.length;
    stack.relay.sendCommand(stack.hubId, {
      type: "cancel_task",
      local_agent_id: localId("Asker"),
      task_id: "relay-pending-nothing",
    });
    const after = userMessageTo("Echo", "after the cancel");
    await finished(after.agent_message_id);
    expect(asker.cancels).toHaveLength(count);
    expect(asker.cancels).not.toContain(hubTaskId);
  });

  it("echoes run_id in every event, keeps the turn's own user_message_id, and never passes a placeholder", async () => {
    const echo = agents.Echo!;
    const command = userMessageTo("Echo", "hello", { taskId: "relay-pending-amsg-contrac" });
    const events = await finished(command.agent_message_id);
    for (const event of events) expect(event.data.run_id).toBe(command.run_id);
    expect(events.at(-1)).toMatchObject({
      data: { status: "completed", user_message_id: command.user_message_id },
    });
    expect(JSON.stringify(echo.received.at(-1))).not.toContain("relay-pending");
  });

  it("every kind of event the hub produces is one of the 7 and is stored (no 422, no silent drop)", async () => {
    const sent = [
      userMessageTo("Chunks", "count"),
      userMessageTo("Echo", "echo"),
      userMessageTo("Asker", "ask"),
      userMessageTo("AskerStreaming", "ask"),
      userMessageTo("Failing", "fail"),
    ];
    // Refused before a turn: unknown agent, malformed command.
    stack.relay.sendCommand(stack.hubId, {
      type: "user_message",
      room_id: "room-contract",
      local_agent_id: "000000000000",
      agent_message_id: "amsg-contract-unknown",
      user_message_id: "umsg-contract-unknown",
      run_id: "run-unknown",
      message: userMessage("anyone?"),
    });
    stack.relay.sendCommand(stack.hubId, {
      type: "user_message",
      room_id: "room-contract",
      agent_message_id: "amsg-contract-invalid",
      user_message_id: "umsg-contract-invalid",
    } as never);
    const amids = [
      ...sent.map((command) => command.agent_message_id),
      "amsg-contract-unknown",
      "amsg-contract-invalid",
    ];
    const turns = await Promise.all(amids.map(finished));
    const events = turns.flat();
    const types = new Set(events.map((event) => event.type));
    expect([...types].sort()).toEqual([...PUBLISHED_EVENT_TYPES].sort());
    for (const event of events) {
      expect(PUBLISHED_EVENT_TYPES).toContain(event.type);
      expect(typeof event.data.task_id).toBe("string");
      expect(event.data.task_id).not.toBe("");
      expect(Number.isSafeInteger(event.data.response_seq)).toBe(true);
    }
    for (const amid of amids) expect(notStored.get(amid) ?? [], amid).toEqual([]);
    expect(stack.daemon.link.state().publish.dropped).toBe(0);
    expect(stack.relay.publishStats().dropped).toMatchObject({
      not_routed: 0,
      foreign_user_message_id: 0,
    });
  });
});
