import { describe, expect, it } from "vitest";
import { A2AClient } from "../../src/a2a/client.ts";
import { newHubTaskId, replyMessage } from "../../src/hub/mapping.ts";
import {
  runTurn,
  TurnAbort,
  type TurnInput,
  type TurnOutcome,
  type TurnSettings,
} from "../../src/hub/turn.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import type { TestAgent } from "../support/a2a-agents.ts";
import { agentsPerTest } from "../support/agents-per-test.ts";
import { chunkText, roomOf } from "../support/events.ts";

const { agent, connect, rawAgent } = agentsPerTest();

async function clientFor(a: TestAgent, options?: { fallback?: boolean }): Promise<A2AClient> {
  return (await connect(a, options)).client;
}

let counter = 0;
function input(text: string, streaming: boolean, message?: Record<string, unknown>): TurnInput {
  counter++;
  return {
    agentMessageId: `amsg_${counter}`,
    localAgentId: "7a7160aa61ee",
    agentName: "Test agent",
    userMessageId: `umsg_${counter}`,
    hubTaskId: newHubTaskId(),
    message: message ?? {
      kind: "message",
      role: "user",
      messageId: `m${counter}`,
      parts: [{ kind: "text", text }],
    },
    streaming,
  };
}

interface Run {
  outcome: TurnOutcome;
  events: PublishedEvent[];
  batches: PublishedEvent[][];
}

async function turn(
  client: A2AClient,
  turnInput: TurnInput,
  options: {
    settings?: Partial<TurnSettings>;
    signal?: AbortSignal;
    onEmit?: (events: PublishedEvent[]) => void;
  } = {},
): Promise<Run> {
  const batches: PublishedEvent[][] = [];
  const outcome = await runTurn(
    turnInput,
    client,
    (events) => {
      batches.push(events);
      options.onEmit?.(events);
    },
    {
      signal: options.signal ?? new AbortController().signal,
      settings: { pollIntervalMs: 50, ...options.settings },
    },
  );
  const events = batches.flat();
  // Every turn: task_submitted first, exactly one processing_status, last, in the last batch.
  expect(events[0]?.type).toBe("task_submitted");
  expect(events.filter((e) => e.type === "processing_status")).toHaveLength(1);
  expect(events.at(-1)?.type).toBe("processing_status");
  expect(batches.at(-1)?.at(-1)?.type).toBe("processing_status");
  for (const e of events) expect(e.agent_message_id).toBe(turnInput.agentMessageId);
  return { outcome, events, batches };
}

const types = (events: PublishedEvent[]) => events.map((e) => e.type);
const last2 = (events: PublishedEvent[]) => events.slice(-2);

describe.each([
  ["1.0", true],
  ["1.0", false],
  ["0.3", true],
  ["0.3", false],
  ["dual", true],
] as const)("a turn on a %s agent (streaming: %s)", (dialect, streaming) => {
  it("echo completes with the answer", async () => {
    const client = await clientFor(await agent({ dialect, streaming, behaviour: "echo" }));
    const t = input("hello", streaming);
    const { outcome, events } = await turn(client, t);
    expect(outcome).toMatchObject({ status: "completed", agentUnreachable: false });
    expect(outcome.taskId).toMatch(/\S/);
    expect(events[0]).toMatchObject({
      data: { agent_name: "Test agent", task_id: expect.stringMatching(/^[0-9a-f]{32}$/) },
    });
    // The final "completed" status is said by the terminal group alone (see mapping.ts); the
    // answer travels once, in an artifact_update, whether streamed or not.
    expect(types(events)).toEqual([
      "task_submitted",
      ...(streaming ? ["task_status"] : []),
      "artifact_update",
      "agent_response",
      "processing_status",
    ]);
    expect(events.find((e) => e.type === "artifact_update")).toMatchObject({
      data: {
        artifacts: [{ artifactId: "answer", parts: [{ kind: "text", text: "echo: hello" }] }],
        append: false,
        last_chunk: true,
        task_id: outcome.taskId,
      },
    });
    expect(events.at(-2)).toMatchObject({
      data: {
        content: "",
        agent_id: "7a7160aa61ee",
        artifacts: [{ artifactId: "answer", parts: [] }],
      },
    });
    expect(roomOf(events)).toMatchObject({ state: "completed", text: "echo: hello" });
    expect(events.at(-1)).toMatchObject({
      data: { status: "completed", user_message_id: t.userMessageId },
    });
  });

  it("asks for input, then a reply on the same task completes it", async () => {
    const client = await clientFor(
      await agent({ dialect, streaming, behaviour: "input-required" }),
    );
    const first = await turn(client, input("start", streaming));
    expect(first.outcome.status).toBe("input_required");
    const [interactive, status] = last2(first.events);
    expect(interactive).toMatchObject({
      type: "task_interactive",
      data: {
        state: "input-required",
        task_id: first.outcome.taskId,
        context_id: expect.stringMatching(/\S/),
        status: {
          state: "input-required",
          message: { role: "agent", parts: [{ kind: "text", text: "What is your name?" }] },
        },
      },
    });
    expect(roomOf(first.events).question).toEqual([{ kind: "text", text: "What is your name?" }]);
    expect(status).toMatchObject({ data: { status: "input_required" } });
    const data = interactive?.data as { task_id: string; context_id: string };
    const reply = replyMessage(
      {
        type: "user_reply",
        room_id: "room",
        local_agent_id: "7a7160aa61ee",
        agent_message_id: "amsg_reply",
        reply_text: "Ada",
        task_id: data.task_id,
        context_id: data.context_id,
      },
      data.task_id,
    );
    const second = await turn(client, { ...input("", streaming, reply), userMessageId: null });
    expect(second.outcome).toMatchObject({ status: "completed", taskId: data.task_id });
    expect(roomOf(second.events)).toMatchObject({ state: "completed", text: "hello, Ada" });
    expect(second.events.at(-1)).toMatchObject({
      data: { status: "completed", user_message_id: null },
    });
  });

  it("a failing agent ends in agent_error AgentTaskFailed with its message", async () => {
    const client = await clientFor(await agent({ dialect, streaming, behaviour: "fail" }));
    const { outcome, events } = await turn(client, input("boom", streaming));
    expect(outcome).toMatchObject({
      status: "failed",
      errorType: "AgentTaskFailed",
      agentUnreachable: false,
    });
    expect(last2(events)).toEqual([
      {
        type: "agent_error",
        agent_message_id: events[0]?.agent_message_id,
        data: {
          error: "agent failed on purpose: boom",
          error_type: "AgentTaskFailed",
          state: "failed",
          task_id: outcome.taskId,
          context_id: expect.stringMatching(/\S/),
        },
      },
      expect.objectContaining({ data: expect.objectContaining({ status: "failed" }) }),
    ]);
  });
});

describe("streamed turns", () => {
  it("publishes every chunk as it comes; the agent_response after them repeats nothing", async () => {
    const client = await clientFor(
      await agent({ dialect: "1.0", streaming: true, behaviour: "chunks", chunkCount: 20 }),
    );
    const { events, batches } = await turn(client, input("go", true));
    const chunks = events.filter((e) => e.type === "artifact_update");
    expect(chunks).toHaveLength(20);
    expect(chunks.map((e) => chunkText(e)).join("")).toBe(
      Array.from({ length: 20 }, (_, i) => `chunk ${i} `).join(""),
    );
    expect(events.at(-2)).toMatchObject({
      type: "agent_response",
      data: { content: "", artifacts: [{ artifactId: "answer", parts: [] }], append: true },
    });
    expect(roomOf(events).text).toBe(Array.from({ length: 20 }, (_, i) => `chunk ${i} `).join(""));
    expect(batches.length).toBeGreaterThan(20); // emitted as they came, not at the end
  });

  it("fetches the task when the stream closes before the end", async () => {
    // A raw agent whose stream stops after "working"; tasks/get has the finished task.
    const transport = await rawAgent((body, res) => {
      const reply = (result: unknown) =>
        `${JSON.stringify({ jsonrpc: "2.0", id: body.id, result })}`;
      if (body.method === "message/stream") {
        res.setHeader("content-type", "text/event-stream");
        res.write(
          `data: ${reply({ kind: "task", id: "t-early", contextId: "c", status: { state: "submitted" } })}\n\n`,
        );
        res.end(
          `data: ${reply({ kind: "status-update", taskId: "t-early", contextId: "c", status: { state: "working" }, final: false })}\n\n`,
        );
      } else {
        res.setHeader("content-type", "application/json");
        res.end(
          reply({
            kind: "task",
            id: "t-early",
            contextId: "c",
            status: { state: "completed" },
            artifacts: [{ artifactId: "a", parts: [{ kind: "text", text: "fetched answer" }] }],
          }),
        );
      }
    });
    const client = new A2AClient({ transport, primary: "0.3", fallback: null });
    const { outcome, events } = await turn(client, input("x", true));
    expect(outcome.status).toBe("completed");
    expect(types(events)).toEqual([
      "task_submitted",
      "task_status",
      "artifact_update",
      "agent_response",
      "processing_status",
    ]);
    expect(roomOf(events)).toMatchObject({ state: "completed", text: "fetched answer" });
  });

  it("reports the plain JSON error an agent answers to a stream call", async () => {
    // The card says no streaming; asking anyway gets a JSON-RPC error body, not an empty stream.
    const client = await clientFor(
      await agent({ dialect: "1.0", streaming: false, behaviour: "echo" }),
    );
    const { outcome, events } = await turn(client, input("x", true));
    expect(outcome).toMatchObject({
      status: "failed",
      errorType: "JsonRpcError",
      agentUnreachable: false,
    });
    expect(events[1]).toMatchObject({
      type: "agent_error",
      data: { error: expect.stringMatching(/-32004|Streaming/) },
    });
  });
});

describe("blocking turns", () => {
  it("polls tasks/get until the task completes", async () => {
    const a = await agent({
      dialect: "1.0",
      streaming: false,
      behaviour: "slow",
      delayMs: 300,
      ignoreBlocking: true,
    });
    const client = await clientFor(a);
    const { outcome, events } = await turn(client, input("poll me", false));
    expect(outcome.status).toBe("completed");
    expect(roomOf(events)).toMatchObject({ state: "completed", text: "slow: poll me" });
    expect(a.calls.filter((c) => c.method === "GetTask").length).toBeGreaterThanOrEqual(1);
  });

  it("gives up polling before the turn deadline with PollingTimeout", async () => {
    const a = await agent({
      dialect: "0.3",
      streaming: false,
      behaviour: "slow",
      delayMs: 60_000,
      ignoreBlocking: true,
    });
    const client = await clientFor(a);
    const { outcome, events } = await turn(client, input("never", false), {
      settings: {
        turnDeadlineMs: 2_000,
        pollIntervalMs: 100,
        maxPollIntervalMs: 100,
        pollTimeoutMs: 500,
      },
    });
    expect(outcome).toMatchObject({ status: "failed", errorType: "PollingTimeout" });
    expect(events[1]).toMatchObject({
      data: { error: expect.stringContaining(outcome.taskId ?? "?") },
    });
  });
});

describe("fallback in a turn", () => {
  const v1CardOnV03Server = (card: Record<string, unknown>, rpcUrl: string) => {
    const { url: _u, protocolVersion: _p, preferredTransport: _t, ...rest } = card;
    return {
      ...rest,
      supportedInterfaces: [{ url: rpcUrl, protocolBinding: "JSONRPC", protocolVersion: "1.0" }],
    };
  };

  it.each([true, false])(
    "a v1 card on a v0.3-only server still answers (streaming: %s)",
    async (streaming) => {
      const a = await agent({
        dialect: "0.3",
        streaming,
        behaviour: "echo",
        card: v1CardOnV03Server,
      });
      const { outcome } = await turn(await clientFor(a), input("fb", streaming));
      expect(outcome.status).toBe("completed");
      expect(a.calls.map((c) => c.method)[0]).toBe(
        streaming ? "SendStreamingMessage" : "SendMessage",
      );
    },
  );

  it("without a fallback the turn fails with A2AVersionFallback", async () => {
    const a = await agent({
      dialect: "0.3",
      streaming: false,
      behaviour: "echo",
      card: v1CardOnV03Server,
    });
    const { outcome } = await turn(await clientFor(a, { fallback: false }), input("fb", false));
    expect(outcome).toMatchObject({
      status: "failed",
      errorType: "A2AVersionFallback",
      agentUnreachable: false,
    });
  });
});

describe("aborted turns", () => {
  it.each(["1.0", "0.3"] as const)(
    "cancel mid-stream reaches the %s agent and ends with Canceled",
    async (dialect) => {
      const a = await agent({ dialect, streaming: true, behaviour: "slow", delayMs: 60_000 });
      const client = await clientFor(a);
      const controller = new AbortController();
      const { outcome, events } = await turn(client, input("wait", true), {
        signal: controller.signal,
        onEmit: (batch) => {
          if (batch.some((e) => e.type === "task_status"))
            controller.abort(new TurnAbort("cancel", "canceled by the user"));
        },
      });
      expect(outcome).toMatchObject({ status: "failed", errorType: "Canceled" });
      expect(a.cancels).toEqual([outcome.taskId]);
      expect(events.at(-2)).toMatchObject({
        type: "agent_error",
        data: { error: "canceled by the user", error_type: "Canceled" },
      });
    },
  );

  it("a blocking turn can be canceled too (the request is dropped)", async () => {
    const a = await agent({ dialect: "1.0", streaming: false, behaviour: "slow", delayMs: 60_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new TurnAbort("cancel")), 100);
    const { outcome } = await turn(await clientFor(a), input("wait", false), {
      signal: controller.signal,
    });
    expect(outcome).toMatchObject({ status: "failed", errorType: "Canceled", taskId: null });
  });

  it("the turn deadline ends a slow turn with TurnTimeout and cancels the agent's task", async () => {
    const a = await agent({ dialect: "1.0", streaming: true, behaviour: "slow", delayMs: 60_000 });
    const { outcome, events } = await turn(await clientFor(a), input("slow", true), {
      settings: { turnDeadlineMs: 300 },
    });
    expect(outcome).toMatchObject({ status: "failed", errorType: "TurnTimeout" });
    expect(events.at(-2)).toMatchObject({
      data: { error: expect.stringMatching(/did not finish within/) },
    });
    expect(a.cancels).toEqual([outcome.taskId]);
  });

  it("a shutdown ends the turn with HubShutdown", async () => {
    const a = await agent({ dialect: "0.3", streaming: true, behaviour: "slow", delayMs: 60_000 });
    const controller = new AbortController();
    const { outcome } = await turn(await clientFor(a), input("bye", true), {
      signal: controller.signal,
      onEmit: (batch) => {
        if (batch.some((e) => e.type === "task_status"))
          controller.abort(new TurnAbort("shutdown"));
      },
    });
    expect(outcome).toMatchObject({ status: "failed", errorType: "HubShutdown" });
    expect(a.cancels).toHaveLength(1);
  });
});

describe("unreachable agents", () => {
  it.each([true, false])(
    "connection refused → ConnectError and agentUnreachable (streaming: %s)",
    async (streaming) => {
      const a = await agent({ dialect: "1.0", streaming, behaviour: "echo" });
      const client = await clientFor(a);
      await a.close();
      const { outcome, events } = await turn(client, input("anyone?", streaming));
      expect(outcome).toEqual({
        status: "failed",
        errorType: "ConnectError",
        agentUnreachable: true,
        taskId: null,
      });
      expect(events[1]).toMatchObject({
        type: "agent_error",
        data: { error_type: "ConnectError", error: expect.stringMatching(/could not reach/) },
      });
    },
  );
});

describe("concurrent turns", () => {
  it("30 turns on one agent each get their own answer", async () => {
    const client = await clientFor(
      await agent({ dialect: "1.0", streaming: false, behaviour: "echo" }),
    );
    const runs = await Promise.all(
      Array.from({ length: 30 }, (_, i) => turn(client, input(`n${i}`, false))),
    );
    runs.forEach((run, i) => {
      expect(roomOf(run.events)).toMatchObject({ state: "completed", text: `echo: n${i}` });
    });
  });
});
