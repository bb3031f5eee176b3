// End to end on loopback: gateway caller → development relay → real hub → real A2A agents
// (@a2a-js/sdk, both dialects) → hub → relay → caller.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { startTestAgent } from "../support/a2a-agents.ts";
import { chunkText, roomOf } from "../support/events.ts";
import { type Stack, startStack, textOf, userMessage } from "../support/stack.ts";

type TestAgent = Awaited<ReturnType<typeof startTestAgent>>;

async function until<T>(
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Every turn: task_submitted first (unless refused up front), exactly one terminal group, last. */
function expectWellFormedTurn(events: PublishedEvent[]): void {
  const terminals = events.filter((event) => event.type === "processing_status");
  expect(terminals).toHaveLength(1);
  expect(events.at(-1)?.type).toBe("processing_status");
  const groupHeads = events.filter((event) =>
    ["agent_response", "agent_error", "task_interactive"].includes(event.type),
  );
  expect(groupHeads.length).toBeLessThanOrEqual(1);
  if (events[0]?.type !== "agent_error") expect(events[0]?.type).toBe("task_submitted");
}

describe("hub end to end", () => {
  const agents: TestAgent[] = [];
  let stack: Stack;
  let v1: TestAgent;
  let v03: TestAgent;
  let asker: TestAgent;
  let failing: TestAgent;
  let slow: TestAgent;

  beforeAll(async () => {
    v1 = await startTestAgent({
      dialect: "1.0",
      streaming: true,
      behaviour: "chunks",
      name: "Streamer",
      chunkCount: 5,
    });
    v03 = await startTestAgent({
      dialect: "0.3",
      streaming: false,
      behaviour: "echo",
      name: "Echo03",
    });
    asker = await startTestAgent({
      dialect: "1.0",
      streaming: false,
      behaviour: "input-required",
      name: "Asker",
    });
    failing = await startTestAgent({
      dialect: "0.3",
      streaming: true,
      behaviour: "fail",
      name: "Failing",
    });
    slow = await startTestAgent({
      dialect: "1.0",
      streaming: true,
      behaviour: "slow",
      name: "Slow",
      delayMs: 30_000,
    });
    agents.push(v1, v03, asker, failing, slow);
    stack = await startStack({
      agents: [
        { name: "Streamer", url: v1.url },
        { name: "Echo03", url: v03.url, maxConcurrency: 8 },
        { name: "Asker", url: asker.url },
        { name: "Failing", url: failing.url },
        { name: "Slow", url: slow.url },
      ],
    });
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all(agents.map((agent) => agent.close()));
  });

  it("a streaming v1.0 agent answers through the gateway, events in order", async () => {
    const id = await stack.agentId("Streamer");
    const reply = await stack.send(id, "hello streamer");
    expect(reply.status).toBe(200);
    expect(reply.body.result?.status.state).toBe("completed");
    expect(textOf(reply).length).toBeGreaterThan(0);
    const agentMessageId = String(reply.body.result?.metadata?.agent_message_id);
    const events = stack.relay.eventsFor(agentMessageId);
    expectWellFormedTurn(events);
    expect(
      events.filter((event) => event.type === "artifact_update").length,
    ).toBeGreaterThanOrEqual(5);
    // The streamed artifacts carried the text; the agent_response only names them.
    const response = events.find((event) => event.type === "agent_response");
    expect(response?.data).toMatchObject({ content: "", append: true });
    expect(chunkText(response)).toBe("");
    expect(textOf(reply)).toBe(roomOf(events).text);
  });

  it("a pure v0.3 blocking agent answers with its own text", async () => {
    const id = await stack.agentId("Echo03");
    const ended: Array<{ agentName: string; outcome: string }> = [];
    stack.daemon.on("turnEnd", (end) => ended.push(end));
    const reply = await stack.send(id, "ping 0.3");
    expect(reply.body.result?.status.state).toBe("completed");
    expect(textOf(reply)).toContain("ping 0.3");
    const events = stack.relay.eventsFor(String(reply.body.result?.metadata?.agent_message_id));
    expectWellFormedTurn(events);
    expect(events.find((event) => event.type === "agent_response")).toMatchObject({
      data: { agent_id: expect.any(String) },
    });
    // The metrics hook saw the turn end, with its outcome.
    expect(ended).toContainEqual(
      expect.objectContaining({ agentName: "Echo03", outcome: "completed" }),
    );
  });

  it("50 concurrent messages to one agent each get their own answer", async () => {
    const id = await stack.agentId("Echo03");
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => stack.send(id, `message number ${i}`)),
    );
    replies.forEach((reply, i) => {
      expect(reply.body.result?.status.state).toBe("completed");
      expect(textOf(reply)).toContain(`message number ${i}`);
      expect(textOf(reply)).not.toContain(`message number ${i}0`);
    });
  });

  it("input-required, then the user's reply completes the same task", async () => {
    const id = await stack.agentId("Asker");
    const first = await stack.send(id, "book a table");
    expect(first.body.result?.status.state).toBe("input-required");
    const taskId = first.body.result!.id;
    const events = stack.relay.eventsFor(String(first.body.result?.metadata?.agent_message_id));
    expect(events.find((event) => event.type === "task_interactive")).toMatchObject({
      data: { state: "input-required", task_id: taskId },
    });
    const second = await stack.send(
      id,
      userMessage("for two", { taskId, contextId: first.body.result!.contextId }),
    );
    expect(second.body.result?.status.state).toBe("completed");
    expect(textOf(second)).toContain("for two");
  });

  it("a failing agent's turn ends as failed with its message", async () => {
    const id = await stack.agentId("Failing");
    const reply = await stack.send(id, "please fail");
    expect(reply.body.result?.status.state).toBe("failed");
    const events = stack.relay.eventsFor(String(reply.body.result?.metadata?.agent_message_id));
    expectWellFormedTurn(events);
    expect(events.find((event) => event.type === "agent_error")).toMatchObject({
      data: { error_type: "AgentTaskFailed", state: "failed" },
    });
  });

  it("a stream caller that goes away cancels the turn on the agent", async () => {
    const id = await stack.agentId("Slow");
    const controller = new AbortController();
    const response = await fetch(`${stack.relay.url}/api/v1/gateway/agents/${id}/message/stream`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": stack.key },
      body: JSON.stringify({ message: userMessage("take your time") }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    // Wait until the agent has the task (a task_status arrives), then hang up.
    let seen = "";
    while (!seen.includes("task_status")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    controller.abort();
    await until(() => slow.cancels.length > 0, "the agent to receive the cancel");
    expect(slow.cancels.length).toBe(1);
  });

  it("a duplicate user_message (same agent_message_id) is not run twice", async () => {
    const localAgentId = stack.daemon.registry
      .list()
      .find((agent) => agent.name === "Echo03")!.localAgentId;
    const before = v03.received.length;
    const command = {
      type: "user_message" as const,
      room_id: "room-dup",
      local_agent_id: localAgentId,
      agent_message_id: "amsg-dup-1",
      user_message_id: "umsg-dup-1",
      message: userMessage("only once"),
    };
    stack.relay.sendCommand(stack.hubId, command);
    stack.relay.sendCommand(stack.hubId, command);
    await until(
      () => stack.relay.eventsFor("amsg-dup-1").some((event) => event.type === "processing_status"),
      "the turn to end",
    );
    await sleep(200);
    expect(v03.received.length - before).toBe(1);
    expectWellFormedTurn(stack.relay.eventsFor("amsg-dup-1"));
  });

  it("malformed commands are answered, never left waiting", async () => {
    stack.relay.sendCommand(stack.hubId, {
      type: "user_message",
      room_id: "room-bad",
      agent_message_id: "amsg-bad-1",
      user_message_id: "umsg-bad-1",
    } as never);
    stack.relay.sendCommand(stack.hubId, {
      type: "user_message",
      room_id: "room-bad",
      local_agent_id: "000000000000",
      agent_message_id: "amsg-bad-2",
      message: userMessage("anyone?"),
    });
    const invalid = await until(() => {
      const events = stack.relay.eventsFor("amsg-bad-1");
      return events.length >= 2 ? events : null;
    }, "the InvalidEvent answer");
    expect(invalid.map((event) => event.type)).toEqual(["agent_error", "processing_status"]);
    expect(invalid[0]).toMatchObject({ data: { error_type: "InvalidEvent" } });
    expect(invalid[1]).toMatchObject({ data: { status: "failed", user_message_id: "umsg-bad-1" } });
    const notFound = await until(() => {
      const events = stack.relay.eventsFor("amsg-bad-2");
      return events.length >= 2 ? events : null;
    }, "the AgentNotFound answer");
    expect(notFound[0]).toMatchObject({ data: { error_type: "AgentNotFound" } });
  });
});

describe("hub end to end: roster changes and outages", () => {
  let stack: Stack | undefined;
  const agents: TestAgent[] = [];
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
    await Promise.all(agents.splice(0).map((agent) => agent.close()));
  });

  it("editing agents.json adds and removes an agent while running", async () => {
    const first = await startTestAgent({
      dialect: "1.0",
      streaming: false,
      behaviour: "echo",
      name: "First",
    });
    const second = await startTestAgent({
      dialect: "0.3",
      streaming: true,
      behaviour: "echo",
      name: "Second",
    });
    agents.push(first, second);
    stack = await startStack({ agents: [{ name: "First", url: first.url }] });
    const s = stack;
    s.writeAgents([
      { name: "First", url: first.url },
      { name: "Second", url: second.url },
    ]);
    const secondId = await s.agentId("Second");
    expect(textOf(await s.send(secondId, "new here"))).toContain("new here");
    s.writeAgents([{ name: "Second", url: second.url }]);
    await until(
      () =>
        s.relay
          .hubs()
          .find((hub) => hub.hubId === s.hubId)
          ?.agents.every((a) => a.name !== "First"),
      "First to leave the synced roster",
    );
    expect(s.daemon.registry.list().map((agent) => agent.name)).toEqual(["Second"]);
  });

  it("an agent that dies fails its turn as unreachable and leaves the roster", async () => {
    const doomed = await startTestAgent({
      dialect: "1.0",
      streaming: false,
      behaviour: "echo",
      name: "Doomed",
    });
    stack = await startStack({
      agents: [{ name: "Doomed", url: doomed.url }],
      registry: { unhealthyRemoveAfter: 1 },
    });
    const s = stack;
    const id = await s.agentId("Doomed");
    await doomed.close();
    const reply = await s.send(id, "are you there?");
    expect(reply.body.result?.status.state).toBe("failed");
    const events = s.relay.eventsFor(String(reply.body.result?.metadata?.agent_message_id));
    expect(events.find((event) => event.type === "agent_error")).toMatchObject({
      data: { error_type: "ConnectError" },
    });
    await until(
      () => s.daemon.registry.list().every((agent) => !agent.healthy),
      "the agent to be unhealthy",
    );
  });

  it("a relay restart mid-run: the hub reconnects and every turn still ends", async () => {
    const worker = await startTestAgent({
      dialect: "1.0",
      streaming: true,
      behaviour: "slow",
      name: "Worker",
      delayMs: 600,
    });
    agents.push(worker);
    const relayDir = mkdtempSync(join(tmpdir(), "hybro-relay-"));
    stack = await startStack({
      agents: [{ name: "Worker", url: worker.url }],
      relay: { memory: false, dataDir: relayDir },
    });
    const s = stack;
    const localAgentId = s.daemon.registry.list()[0]!.localAgentId;
    const ids = Array.from({ length: 5 }, (_, i) => `amsg-restart-${i}`);
    for (const [i, agentMessageId] of ids.entries()) {
      s.relay.sendCommand(s.hubId, {
        type: "user_message",
        room_id: `room-restart-${i}`,
        local_agent_id: localAgentId,
        agent_message_id: agentMessageId,
        user_message_id: `u-${i}`,
        message: userMessage(`work ${i}`),
      });
    }
    await until(() => worker.received.length === 5, "the agent to have all five turns");
    const relay = await s.restartRelay();
    // The turns finish while the relay is back; their terminal groups reach the new relay.
    const finished = await Promise.all(ids.map((id) => relay.waitForTurn(id, 15_000)));
    for (const events of finished) {
      expect(events.at(-1)).toMatchObject({
        type: "processing_status",
        data: { status: "completed" },
      });
    }
    await relay.waitForHubOnline(s.hubId);
    const id = await s.agentId("Worker");
    expect(textOf(await s.send(id, "after the restart"))).toContain("after the restart");
    rmSync(relayDir, { recursive: true, force: true });
  });
});
