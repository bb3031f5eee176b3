import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DevRelay } from "../../src/devrelay/index.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import {
  agentForTest,
  call,
  completedTurn,
  eventually,
  type Json,
  relayForTest,
  ScriptedHub,
  SseReader,
} from "./support.ts";

let relay: DevRelay;
let aliceKey: string;
let hub: ScriptedHub;
let stream: SseReader;
let agentId: string;
const readers: SseReader[] = [];

const message = (text: string, extra: Record<string, unknown> = {}) => ({
  message: { role: "user", messageId: `m-${text}`, parts: [{ kind: "text", text }], ...extra },
});

async function setup(options: Parameters<typeof relayForTest>[0] = {}): Promise<void> {
  relay = await relayForTest({ sseHeartbeatMs: 200, ...options });
  aliceKey = relay.createKey({ userId: "alice", name: "all", scopes: ["*"] }).key;
  hub = new ScriptedHub(relay, aliceKey);
  await hub.register();
  const synced = await hub.sync([
    agentForTest("aaaaaaaaaaaa", "Echo", {
      description: "Repeats what you say",
      agent_card: {
        name: "Echo",
        description: "Repeats what you say",
        url: "http://localhost:9001/",
        version: "1.0.0",
        capabilities: { streaming: true },
        defaultInputModes: ["text/plain"],
        defaultOutputModes: ["text/plain"],
        supportedInterfaces: [{ url: "http://localhost:9001/", protocolBinding: "JSONRPC" }],
        skills: [{ id: "echo", name: "echo", description: "", tags: ["echo", "testing"] }],
      },
    }),
    agentForTest("bbbbbbbbbbbb", "Weather", { description: "Forecasts for Json city" }),
  ]);
  agentId = synced.body.synced[0].agent_id;
}

beforeEach(async () => {
  await setup();
  stream = await hub.connect();
});

afterEach(async () => {
  for (const reader of readers.splice(0)) reader.close();
  hub.disconnect();
  await relay.close();
});

function send(body: unknown, key = aliceKey, id = agentId) {
  return call(relay, "POST", `/api/v1/gateway/agents/${id}/message/send`, { key, body });
}

async function openStream(body: unknown, id = agentId): Promise<SseReader> {
  const reader = new SseReader();
  readers.push(reader);
  await reader.open(`${relay.url}/api/v1/gateway/agents/${id}/message/stream`, {
    method: "POST",
    headers: { "x-api-key": aliceKey, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return reader;
}

function userMessages(): Json[] {
  return stream.data().filter((item) => item.type === "user_message" || item.type === "user_reply");
}

async function nextCommand(
  type: "user_message" | "user_reply" | "cancel_task",
  index: number,
): Promise<Json> {
  await stream.until(
    () => stream.data().filter((item) => item.type === type).length > index,
    `${type} #${index}`,
  );
  return stream.data().filter((item) => item.type === type)[index];
}

describe("discovery", () => {
  it("ranks the user's active agents and masks their URLs (gateway and Discovery API)", async () => {
    for (const path of ["/api/v1/gateway/agents/discover", "/api/v1/discovery/agents"]) {
      const answer = await call(relay, "POST", path, {
        key: aliceKey,
        body: { query: "echo testing", limit: 5 },
      });
      expect(answer.status).toBe(200);
      expect(answer.body.query).toBe("echo testing");
      expect(answer.body.count).toBe(1);
      expect(answer.body.agents[0]).toMatchObject({ agent_id: agentId, match_score: 0.9 });
      expect(answer.body.agents[0].agent_card.url).toBe(
        `${relay.url}/api/v1/gateway/agents/${agentId}`,
      );
      expect(JSON.stringify(answer.body)).not.toContain("localhost:9001");
    }
    const all = await call(relay, "POST", "/api/v1/discovery/agents", {
      key: aliceKey,
      body: { query: "" },
    });
    expect(all.body.count).toBe(2);
    const limited = await call(relay, "POST", "/api/v1/discovery/agents", {
      key: aliceKey,
      body: { query: "", limit: 1 },
    });
    expect(limited.body.agents).toHaveLength(1);
    // pruned agents are not discoverable; another user sees nothing
    await hub.sync([agentForTest("bbbbbbbbbbbb", "Weather")]);
    const pruned = await call(relay, "POST", "/api/v1/discovery/agents", {
      key: aliceKey,
      body: { query: "echo" },
    });
    expect(pruned.body.count).toBe(0);
    const bob = relay.createKey({ userId: "bob", name: "b", scopes: ["*"] }).key;
    expect(
      (await call(relay, "POST", "/api/v1/discovery/agents", { key: bob, body: { query: "" } }))
        .body.count,
    ).toBe(0);
  });

  it("validates the query", async () => {
    for (const body of [
      {},
      { query: 5 },
      { query: "x", limit: 0 },
      { query: "x", limit: 1.5 },
      { query: "x", limit: "3" },
    ]) {
      const answer = await call(relay, "POST", "/api/v1/discovery/agents", { key: aliceKey, body });
      expect(answer.status).toBe(422);
      expect(answer.body.detail.error).toBe("validation_error");
    }
  });
});

describe("card", () => {
  it("returns the card with every URL pointing at the gateway", async () => {
    const answer = await call(relay, "GET", `/api/v1/gateway/agents/${agentId}/card`, {
      key: aliceKey,
    });
    expect(answer.status).toBe(200);
    const gatewayUrl = `${relay.url}/api/v1/gateway/agents/${agentId}`;
    expect(answer.body).toMatchObject({
      agent_id: agentId,
      agent_card: {
        name: "Echo",
        url: gatewayUrl,
        supportedInterfaces: [{ url: gatewayUrl, protocolBinding: "JSONRPC" }],
      },
    });
  });

  it("hides other users' agents and unknown ids behind 404", async () => {
    const bob = relay.createKey({ userId: "bob", name: "b", scopes: ["*"] }).key;
    for (const [id, key] of [
      [agentId, bob],
      ["agt_000000000000", aliceKey],
      ["..", aliceKey],
      ["agt_%2e%2e", aliceKey],
      ["x".repeat(300), aliceKey],
    ] as const) {
      const answer = await call(relay, "GET", `/api/v1/gateway/agents/${id}/card`, { key });
      expect([400, 404]).toContain(answer.status);
      expect(answer.body.detail.error).toMatch(/not_found|invalid_path/);
    }
    expect((await send(message("hi"), bob)).status).toBe(404);
  });
});

describe("message/send", () => {
  it("runs a turn through the hub and returns an A2A task", async () => {
    const pending = send(message("hello"));
    const command = await nextCommand("user_message", 0);
    expect(command).toMatchObject({
      type: "user_message",
      local_agent_id: "aaaaaaaaaaaa",
      room_id: expect.stringMatching(/^room_/),
      agent_message_id: expect.stringMatching(/^amsg_/),
      user_message_id: expect.stringMatching(/^umsg_/),
      message: {
        kind: "message",
        role: "user",
        messageId: "m-hello",
        parts: [{ kind: "text", text: "hello" }],
      },
    });
    expect(typeof command.message.contextId).toBe("string");
    expect(stream.messages.find((m) => m.data.includes(command.agent_message_id))?.id).toEqual(
      expect.any(String),
    );
    await hub.answer(command, completedTurn("Echo: hello", command.user_message_id));
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-ratelimit-limit")).toBe("200");
    expect(answer.body.result).toMatchObject({
      kind: "task",
      id: command.agent_message_id,
      contextId: command.message.contextId,
      status: {
        state: "completed",
        message: { role: "agent", parts: [{ kind: "text", text: "Echo: hello" }] },
      },
      artifacts: [{ parts: [{ kind: "text", text: "Echo: hello" }] }],
      metadata: { agent_message_id: command.agent_message_id, room_id: command.room_id, events: 3 },
    });
  });

  it("builds the text from streamed artifacts and keeps the agent's task and context ids", async () => {
    const pending = send(message("stream"));
    const command = await nextCommand("user_message", 0);
    await hub.answer(command, [
      { type: "task_submitted", data: { task_id: "h1", agent_name: "Echo" } },
      {
        type: "task_status",
        data: {
          state: "working",
          status_text: "",
          final: false,
          task_id: "task-7",
          context_id: "ctx-agent",
        },
      },
      {
        type: "artifact_update",
        data: {
          artifacts: [{ artifactId: "art", parts: [{ kind: "text", text: "Hel" }] }],
          append: false,
          last_chunk: false,
          task_id: "task-7",
        },
      },
      {
        type: "artifact_update",
        data: {
          artifacts: [{ artifactId: "art", parts: [{ kind: "text", text: "lo" }] }],
          append: true,
          last_chunk: true,
          task_id: "task-7",
        },
      },
      {
        type: "processing_status",
        data: { status: "completed", user_message_id: command.user_message_id },
      },
    ] as Array<Omit<PublishedEvent, "agent_message_id">>);
    const answer = await pending;
    expect(answer.body.result).toMatchObject({
      id: "task-7",
      contextId: "ctx-agent",
      status: { state: "completed", message: { parts: [{ text: "Hello" }] } },
      artifacts: [
        {
          artifactId: "art",
          parts: [
            { kind: "text", text: "Hel" },
            { kind: "text", text: "lo" },
          ],
        },
      ],
    });
    // a follow-up on the agent's context id stays in the same room
    const followUp = send(message("again", { contextId: "ctx-agent" }));
    const second = await nextCommand("user_message", 1);
    expect(second.room_id).toBe(command.room_id);
    await hub.answer(second, completedTurn("ok"));
    expect((await followUp).status).toBe(200);
  });

  it("keeps the room for a context id, and a new context gets a new room", async () => {
    const first = send(message("one", { contextId: "ctx-1" }));
    const c1 = await nextCommand("user_message", 0);
    await hub.answer(c1, completedTurn("1"));
    await first;
    const second = send(message("two", { contextId: "ctx-1" }));
    const c2 = await nextCommand("user_message", 1);
    await hub.answer(c2, completedTurn("2"));
    await second;
    const third = send(message("three", { contextId: "ctx-2" }));
    const c3 = await nextCommand("user_message", 2);
    await hub.answer(c3, completedTurn("3"));
    await third;
    expect(c2.room_id).toBe(c1.room_id);
    expect(c3.room_id).not.toBe(c1.room_id);
    expect(c1.message.contextId).toBe("ctx-1");
    expect(new Set([c1.agent_message_id, c2.agent_message_id, c3.agent_message_id]).size).toBe(3);
  });

  it("returns failed with the agent's error", async () => {
    const pending = send(message("fail"));
    const command = await nextCommand("user_message", 0);
    await hub.answer(command, [
      {
        type: "agent_error",
        data: { error: "agent exploded", error_type: "AgentTaskFailed", task_state: "failed" },
      },
      { type: "processing_status", data: { status: "failed", user_message_id: null } },
    ] as Array<Omit<PublishedEvent, "agent_message_id">>);
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(answer.body.result.status).toMatchObject({
      state: "failed",
      message: { parts: [{ text: "agent exploded" }] },
    });
    expect(answer.body.result.metadata.error_type).toBe("AgentTaskFailed");
  });

  it("turns an answer to an input-required task into a user_reply (HITL)", async () => {
    const asking = send(message("book a table"));
    const command = await nextCommand("user_message", 0);
    await hub.answer(command, [
      {
        type: "task_interactive",
        data: {
          state: "input-required",
          task_id: "task-h",
          context_id: "ctx-h",
          status_text: "For how many?",
        },
      },
      { type: "processing_status", data: { status: "input_required", user_message_id: null } },
    ] as Array<Omit<PublishedEvent, "agent_message_id">>);
    const first = await asking;
    expect(first.body.result).toMatchObject({
      id: "task-h",
      contextId: "ctx-h",
      status: { state: "input-required", message: { parts: [{ text: "For how many?" }] } },
    });
    const replying = send({
      message: {
        role: "user",
        taskId: "task-h",
        contextId: "ctx-h",
        parts: [
          { kind: "text", text: "four" },
          { kind: "text", text: "people" },
        ],
      },
    });
    const reply = await nextCommand("user_reply", 0);
    expect(reply).toMatchObject({
      type: "user_reply",
      room_id: command.room_id,
      local_agent_id: "aaaaaaaaaaaa",
      reply_text: "four\npeople",
      task_id: "task-h",
      context_id: "ctx-h",
    });
    expect(reply.agent_message_id).not.toBe(command.agent_message_id);
    await hub.answer(reply, completedTurn("Booked for 4"));
    expect((await replying).body.result.status.message.parts[0].text).toBe("Booked for 4");
    // the task is no longer waiting: the same taskId now goes out as a plain message
    const again = send({
      message: { role: "user", taskId: "task-h", parts: [{ kind: "text", text: "x" }] },
    });
    const plain = await nextCommand("user_message", 1);
    expect(plain.message.taskId).toBe("task-h");
    await hub.answer(plain, completedTurn("y"));
    await again;
  });

  it("waits for an offline hub, and times out with 504 agent_timeout", async () => {
    hub.disconnect();
    await eventually(() => !relay.isOnline(hub.hubId), "offline");
    const pending = send(message("while away"));
    await eventually(() => relay.channel(hub.hubId).pendingCount === 1, "the message to be queued");
    expect(userMessages()).toHaveLength(0);
    stream = await hub.connect();
    const command = await stream.next("user_message");
    await hub.answer(command, completedTurn("back"));
    expect((await pending).body.result.status.message.parts[0].text).toBe("back");

    await relay.close();
    await setup({ gatewayTimeoutMs: 150 });
    stream = await hub.connect();
    const timedOut = await send(message("never answered"));
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.detail).toMatchObject({ error: "agent_timeout" });
  });

  it("refuses pruned agents and bad bodies", async () => {
    const weatherId = relay.agentId(hub.hubId, "bbbbbbbbbbbb");
    await hub.sync([agentForTest("aaaaaaaaaaaa", "Echo")]);
    const pruned = await send(message("hi"), aliceKey, weatherId);
    expect([pruned.status, pruned.body.detail.error]).toEqual([503, "agent_unavailable"]);
    for (const [body, field] of [
      [{}, "message"],
      [{ message: { parts: [] } }, "message.parts"],
      [{ message: { parts: "hi" } }, "message.parts"],
      [{ message: { parts: [{ text: "x" }], contextId: 5 } }, "message.contextId"],
    ] as const) {
      const answer = await send(body);
      expect(answer.status).toBe(422);
      expect(answer.body.detail.field).toBe(field);
    }
  });
});

describe("message/stream", () => {
  it("relays each event as it arrives, then the task, then ends", async () => {
    const reader = await openStream(message("stream me"));
    const command = await nextCommand("user_message", 0);
    await hub.answer(command, [
      { type: "task_submitted", data: { task_id: "h", agent_name: "Echo" } },
      {
        type: "artifact_update",
        data: {
          artifacts: [{ artifactId: "s", parts: [{ kind: "text", text: "one " }] }],
          append: true,
          last_chunk: false,
        },
      },
    ] as Array<Omit<PublishedEvent, "agent_message_id">>);
    await reader.until(
      () => reader.data().some((item) => item.type === "artifact_update"),
      "the first chunk",
    );
    expect(reader.closed).toBe(false);
    await hub.answer(command, [
      {
        type: "artifact_update",
        data: {
          artifacts: [{ artifactId: "s", parts: [{ kind: "text", text: "two" }] }],
          append: true,
          last_chunk: true,
        },
      },
      { type: "processing_status", data: { status: "completed", user_message_id: null } },
    ] as Array<Omit<PublishedEvent, "agent_message_id">>);
    await reader.done;
    const items = reader.data();
    expect(items.map((item) => item.type)).toEqual([
      "task_submitted",
      "artifact_update",
      "artifact_update",
      "processing_status",
      "task_result",
    ]);
    expect(items[1]).toMatchObject({
      agent_message_id: command.agent_message_id,
      data: { artifacts: [{ parts: [{ text: "one " }] }] },
    });
    expect(items[4].result).toMatchObject({
      kind: "task",
      status: { state: "completed", message: { parts: [{ text: "one two" }] } },
    });
    // nothing was cancelled
    expect(stream.data().some((item) => item.type === "cancel_task")).toBe(false);
  });

  it("sends cancel_task to the hub when the caller leaves mid-turn", async () => {
    const reader = await openStream(message("slow"));
    const command = await nextCommand("user_message", 0);
    await hub.answer(command, [
      { type: "task_submitted", data: { task_id: "h", agent_name: "Echo" } },
      {
        type: "task_status",
        data: {
          state: "working",
          status_text: "",
          final: false,
          task_id: "agent-task-1",
          context_id: "c",
        },
      },
    ] as Array<Omit<PublishedEvent, "agent_message_id">>);
    await reader.until(
      () => reader.data().some((item) => item.type === "task_status"),
      "task_status",
    );
    reader.close();
    const cancel = await nextCommand("cancel_task", 0);
    expect(cancel).toEqual({
      type: "cancel_task",
      local_agent_id: "aaaaaaaaaaaa",
      task_id: "agent-task-1",
      agent_message_id: command.agent_message_id,
    });
  });

  it("cancels with its placeholder task id when the agent had not started a task", async () => {
    const reader = await openStream(message("gone"));
    const command = await nextCommand("user_message", 0);
    // As hybro.ai sends a user_message: its run id, its id of the agent, a placeholder task id.
    expect(command).toMatchObject({
      run_id: expect.stringMatching(/^run_/),
      agent_id: agentId,
      task_id: `relay-pending-${command.agent_message_id.slice(0, 12)}`,
    });
    reader.close();
    const cancel = await nextCommand("cancel_task", 0);
    expect(cancel).toMatchObject({
      task_id: command.task_id,
      agent_message_id: command.agent_message_id,
    });
  });

  it("ends with an error event on timeout", async () => {
    await relay.close();
    hub.disconnect();
    await setup({ gatewayTimeoutMs: 150 });
    stream = await hub.connect();
    const reader = await openStream(message("nobody answers"));
    await reader.done;
    expect(reader.data().at(-1)).toMatchObject({ type: "error", error: "agent_timeout" });
  });
});
