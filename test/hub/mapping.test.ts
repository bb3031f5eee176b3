import { describe, expect, it } from "vitest";
import { decodeResult, decodeStreamEvent, decodeTaskResult } from "../../src/a2a/dialect.ts";
import type { A2AStreamEvent } from "../../src/a2a/model.ts";
import {
  newHubTaskId,
  replyMessage,
  TurnMapper,
  taskSubmitted,
  withAgentTaskIds,
} from "../../src/hub/mapping.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";

const AMID = "amsg_90f2c1d4";
const HUB_TASK = "hubtask00000000000000000000000000";
const ctx = {
  agentMessageId: AMID,
  localAgentId: "7a7160aa61ee",
  userMessageId: "umsg_33aa",
  hubTaskId: HUB_TASK,
};

function ev(wire: unknown): A2AStreamEvent {
  const event = decodeStreamEvent(wire);
  if (!event) throw new Error(`not a stream event: ${JSON.stringify(wire)}`);
  return event;
}

function run(mapper: TurnMapper, wires: unknown[]): PublishedEvent[] {
  return wires.flatMap((w) => mapper.onStreamEvent(ev(w)));
}

const completedStatus = (taskId: string) => ({
  type: "processing_status",
  agent_message_id: AMID,
  data: { status: "completed", user_message_id: "umsg_33aa", task_id: taskId },
});
const failedStatus = (taskId: string) => ({
  type: "processing_status",
  agent_message_id: AMID,
  data: { status: "failed", user_message_id: "umsg_33aa", task_id: taskId },
});

describe("blocking results (reference §5.5, §5.7, §5.8)", () => {
  it("a completed task becomes agent_response + processing_status(completed)", () => {
    for (const wire of [
      {
        kind: "task",
        id: "task_4e1b",
        contextId: "ctx_room_5b1e07",
        status: { state: "completed" },
        artifacts: [
          {
            artifactId: "a",
            parts: [
              { kind: "text", text: "Polled " },
              { kind: "text", text: "result" },
            ],
          },
        ],
      },
      {
        task: {
          id: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          status: { state: "TASK_STATE_COMPLETED" },
          artifacts: [{ artifactId: "a", parts: [{ text: "Polled " }, { text: "result" }] }],
        },
      },
    ]) {
      const mapper = new TurnMapper(ctx);
      mapper.onResult(decodeResult(wire));
      expect(mapper.taskId).toBe("task_4e1b");
      expect(mapper.contextId).toBe("ctx_room_5b1e07");
      expect(mapper.terminal()).toEqual([
        {
          type: "agent_response",
          agent_message_id: AMID,
          data: { content: "Polled result", agent_id: "7a7160aa61ee", task_id: "task_4e1b" },
        },
        completedStatus("task_4e1b"),
      ]);
    }
  });

  it("takes artifact text first, else the status message; non-text parts go in `parts`", () => {
    const both = new TurnMapper(ctx);
    both.onResult(
      decodeTaskResult({
        id: "t",
        status: {
          state: "completed",
          message: { role: "agent", parts: [{ kind: "text", text: "The answer" }] },
        },
        artifacts: [
          {
            artifactId: "a",
            parts: [
              { kind: "text", text: "The answer" },
              {
                kind: "file",
                file: { uri: "https://x/r.pdf", mimeType: "application/pdf", name: "r.pdf" },
              },
            ],
          },
        ],
      }),
    );
    expect(both.terminal()[0]).toEqual({
      type: "agent_response",
      agent_message_id: AMID,
      data: {
        content: "The answer",
        agent_id: "7a7160aa61ee",
        parts: [{ url: "https://x/r.pdf", mediaType: "application/pdf", filename: "r.pdf" }],
        task_id: "t",
      },
    });
    const statusOnly = new TurnMapper(ctx);
    statusOnly.onResult(
      decodeTaskResult({
        id: "t",
        status: {
          state: "TASK_STATE_COMPLETED",
          message: { role: "ROLE_AGENT", parts: [{ root: { kind: "text", text: "From status" } }] },
        },
      }),
    );
    expect(statusOnly.terminal()[0]).toMatchObject({ data: { content: "From status" } });
    expect(statusOnly.terminal()[0]?.data).not.toHaveProperty("parts");
  });

  it("a direct message result is the answer", () => {
    const mapper = new TurnMapper(ctx);
    mapper.onResult(
      decodeResult({
        kind: "message",
        role: "agent",
        messageId: "m",
        parts: [{ kind: "text", text: "Hi there" }],
      }),
    );
    expect(mapper.terminal()[0]).toMatchObject({
      type: "agent_response",
      data: { content: "Hi there" },
    });
  });

  it("an empty answer is an empty content, never a stringified object", () => {
    const mapper = new TurnMapper(ctx);
    mapper.onResult(
      decodeResult({ kind: "task", id: "t", status: { state: "completed" }, metadata: { x: 1 } }),
    );
    expect(mapper.terminal()[0]).toMatchObject({ type: "agent_response", data: { content: "" } });
  });

  it("failed and rejected become AgentTaskFailed with the state and the real status text", () => {
    const failed = new TurnMapper(ctx);
    failed.onResult(
      decodeTaskResult({
        id: "t",
        status: {
          state: "TASK_STATE_FAILED",
          message: { role: "ROLE_AGENT", parts: [{ text: "Out of credits" }] },
        },
      }),
    );
    expect(failed.terminal()).toEqual([
      {
        type: "agent_error",
        agent_message_id: AMID,
        data: {
          error: "Out of credits",
          error_type: "AgentTaskFailed",
          task_state: "failed",
          task_id: "t",
        },
      },
      failedStatus("t"),
    ]);
    const rejected = new TurnMapper(ctx);
    rejected.onResult(decodeTaskResult({ id: "t", status: { state: "rejected" } }));
    expect(rejected.terminal()[0]).toEqual({
      type: "agent_error",
      agent_message_id: AMID,
      data: {
        error: "Agent task rejected",
        error_type: "AgentTaskFailed",
        task_state: "rejected",
        task_id: "t",
      },
    });
  });

  it("canceled is a failure (error_type Canceled), not a completed answer", () => {
    const mapper = new TurnMapper(ctx);
    mapper.onResult(decodeTaskResult({ id: "t", status: { state: "TASK_STATE_CANCELED" } }));
    expect(mapper.terminal()).toEqual([
      {
        type: "agent_error",
        agent_message_id: AMID,
        data: {
          error: "The agent canceled the task.",
          error_type: "Canceled",
          task_state: "canceled",
          task_id: "t",
        },
      },
      failedStatus("t"),
    ]);
  });

  it.each(["input-required", "auth-required"])(
    "%s becomes task_interactive + processing_status(input_required)",
    (state) => {
      const mapper = new TurnMapper(ctx);
      mapper.onResult(
        decodeTaskResult({
          id: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          status: {
            state,
            message: { role: "agent", parts: [{ kind: "text", text: "Which quarter?" }] },
          },
        }),
      );
      expect(mapper.terminal()).toEqual([
        {
          type: "task_interactive",
          agent_message_id: AMID,
          data: {
            state,
            task_id: "task_4e1b",
            context_id: "ctx_room_5b1e07",
            status_text: "Which quarter?",
          },
        },
        {
          type: "processing_status",
          agent_message_id: AMID,
          data: { status: "input_required", user_message_id: "umsg_33aa", task_id: "task_4e1b" },
        },
      ]);
    },
  );

  it("failure() never has an empty error text", () => {
    const mapper = new TurnMapper({ ...ctx, userMessageId: null });
    expect(mapper.failure("ConnectError", "")).toEqual([
      {
        type: "agent_error",
        agent_message_id: AMID,
        data: {
          error: "The turn failed (ConnectError).",
          error_type: "ConnectError",
          task_id: HUB_TASK,
        },
      },
      {
        type: "processing_status",
        agent_message_id: AMID,
        data: { status: "failed", user_message_id: null, task_id: HUB_TASK },
      },
    ]);
    expect(mapper.failure("", "  ")[0]?.data).toMatchObject({ error_type: "Unknown" });
  });
});

describe("streams (reference §3.4, §5.6, §5.8)", () => {
  it("the worked example (v1.0): task remembered, status and chunks published, no agent_response", () => {
    const mapper = new TurnMapper(ctx);
    const published = run(mapper, [
      {
        task: {
          id: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          status: { state: "TASK_STATE_SUBMITTED" },
        },
      },
      {
        statusUpdate: {
          taskId: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          status: { state: "TASK_STATE_WORKING" },
        },
      },
      {
        artifactUpdate: {
          taskId: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          artifact: { artifactId: "a1", parts: [{ text: "The meeting " }] },
        },
      },
      {
        artifactUpdate: {
          taskId: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          artifact: { artifactId: "a1", parts: [{ text: "went well." }] },
          append: true,
          lastChunk: true,
        },
      },
      {
        statusUpdate: {
          taskId: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          status: {
            state: "TASK_STATE_COMPLETED",
            message: { role: "ROLE_AGENT", parts: [{ text: "The meeting went well." }] },
          },
        },
      },
    ]);
    // The final status is the terminal group's to say: a task_status "completed" would be a
    // second end of the turn at the relay.
    expect(published.map((e) => e.type)).toEqual([
      "task_status",
      "artifact_update",
      "artifact_update",
    ]);
    expect(published[0]).toEqual({
      type: "task_status",
      agent_message_id: AMID,
      data: {
        state: "working",
        status_text: "",
        final: false,
        task_id: "task_4e1b",
        context_id: "ctx_room_5b1e07",
        raw: {
          taskId: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          status: { state: "working" },
          kind: "status-update",
          final: false,
        },
      },
    });
    expect(published[1]?.data).toEqual({
      raw: {
        taskId: "task_4e1b",
        contextId: "ctx_room_5b1e07",
        artifact: { artifactId: "a1", parts: [{ text: "The meeting " }] },
        kind: "artifact-update",
        append: false,
        lastChunk: false,
      },
      text: "The meeting ",
      parts: [],
      append: false,
      last_chunk: false,
      task_id: "task_4e1b",
    });
    expect(published[2]?.data).toMatchObject({
      text: "went well.",
      append: true,
      last_chunk: true,
    });
    expect(mapper.terminal()).toEqual([completedStatus("task_4e1b")]);
  });

  it("v0.3 streamed messages become artifact_update on the synthetic artifact; empty ones nothing", () => {
    const mapper = new TurnMapper(ctx);
    const published = run(mapper, [
      {
        kind: "message",
        role: "agent",
        messageId: "m1",
        parts: [{ kind: "text", text: "Hello " }],
      },
      { kind: "message", role: "agent", messageId: "m2", parts: [] },
      {
        kind: "message",
        role: "agent",
        messageId: "m3",
        parts: [
          { kind: "text", text: "world" },
          { kind: "data", data: { n: 1 } },
        ],
      },
    ]);
    expect(published).toHaveLength(2);
    expect(published[0]).toEqual({
      type: "artifact_update",
      agent_message_id: AMID,
      data: {
        raw: { kind: "message", role: "agent", messageId: "m1", parts: [{ text: "Hello " }] },
        text: "Hello ",
        parts: [],
        append: true,
        last_chunk: false,
        artifact: { artifactId: `${AMID}-stream`, parts: [{ kind: "text", text: "Hello " }] },
        task_id: HUB_TASK,
      },
    });
    expect(published[1]?.data).toMatchObject({
      text: "world",
      parts: [{ data: { n: 1 } }],
      artifact: {
        artifactId: `${AMID}-stream`,
        parts: [{ kind: "text", text: "world" }, { data: { n: 1 } }],
      },
    });
    expect(mapper.terminal()).toEqual([completedStatus(HUB_TASK)]);
  });

  it("v1.0 streamed message → artifact_update too", () => {
    const mapper = new TurnMapper(ctx);
    const published = run(mapper, [
      { message: { role: "ROLE_AGENT", messageId: "m", parts: [{ text: "Hi" }] } },
    ]);
    expect(published[0]).toMatchObject({
      type: "artifact_update",
      data: { text: "Hi", append: true },
    });
  });

  it("keeps agent_response when the terminal text is longer than what was streamed", () => {
    const mapper = new TurnMapper(ctx);
    run(mapper, [
      {
        kind: "artifact-update",
        taskId: "t",
        contextId: "c",
        artifact: { artifactId: "a", parts: [{ kind: "text", text: "Short" }] },
      },
      {
        kind: "status-update",
        taskId: "t",
        contextId: "c",
        status: {
          state: "completed",
          message: {
            kind: "message",
            role: "agent",
            parts: [{ kind: "text", text: "Short, and the full answer" }],
          },
        },
        final: true,
      },
    ]);
    expect(mapper.terminal()).toEqual([
      {
        type: "agent_response",
        agent_message_id: AMID,
        data: { content: "Short, and the full answer", agent_id: "7a7160aa61ee", task_id: "t" },
      },
      completedStatus("t"),
    ]);
  });

  it("answers with agent_response when only the final status carried the text", () => {
    const mapper = new TurnMapper(ctx);
    run(mapper, [
      {
        statusUpdate: {
          taskId: "t",
          status: {
            state: "TASK_STATE_WORKING",
            message: { role: "ROLE_AGENT", parts: [{ text: "thinking…" }] },
          },
        },
      },
      {
        statusUpdate: {
          taskId: "t",
          status: {
            state: "TASK_STATE_COMPLETED",
            message: { role: "ROLE_AGENT", parts: [{ text: "42" }] },
          },
        },
      },
    ]);
    expect(mapper.terminal()[0]).toMatchObject({ type: "agent_response", data: { content: "42" } });
  });

  it("a streamed failure carries the real status text (the reference hub lost it)", () => {
    const mapper = new TurnMapper(ctx);
    run(mapper, [
      { kind: "task", id: "t", contextId: "c", status: { state: "submitted" } },
      {
        kind: "status-update",
        taskId: "t",
        contextId: "c",
        status: {
          state: "failed",
          message: {
            kind: "message",
            role: "agent",
            parts: [{ kind: "text", text: "Model overloaded" }],
          },
        },
        final: true,
      },
    ]);
    expect(mapper.terminal()[0]).toEqual({
      type: "agent_error",
      agent_message_id: AMID,
      data: {
        error: "Model overloaded",
        error_type: "AgentTaskFailed",
        task_state: "failed",
        task_id: "t",
      },
    });
  });

  it("a streamed input-required keeps the question as status_text", () => {
    const mapper = new TurnMapper(ctx);
    const published = run(mapper, [
      { task: { id: "t9", contextId: "c9", status: { state: "TASK_STATE_SUBMITTED" } } },
      {
        statusUpdate: {
          taskId: "t9",
          contextId: "c9",
          status: {
            state: "TASK_STATE_INPUT_REQUIRED",
            message: { role: "ROLE_AGENT", parts: [{ text: "Your name?" }] },
          },
        },
      },
    ]);
    // The question is the terminal group's (task_interactive), said once.
    expect(published).toEqual([]);
    expect(mapper.terminal()[0]).toEqual({
      type: "task_interactive",
      agent_message_id: AMID,
      data: { state: "input-required", task_id: "t9", context_id: "c9", status_text: "Your name?" },
    });
  });

  it("a fresh (non-append) chunk replaces its artifact's text for the length comparison", () => {
    const mapper = new TurnMapper(ctx);
    run(mapper, [
      {
        kind: "artifact-update",
        taskId: "t",
        artifact: { artifactId: "a", parts: [{ kind: "text", text: "draft draft draft" }] },
      },
      {
        kind: "artifact-update",
        taskId: "t",
        artifact: { artifactId: "a", parts: [{ kind: "text", text: "final" }] },
      },
      {
        kind: "status-update",
        taskId: "t",
        status: {
          state: "completed",
          message: { parts: [{ kind: "text", text: "final answer" }] },
        },
        final: true,
      },
    ]);
    expect(mapper.terminal()[0]).toMatchObject({
      type: "agent_response",
      data: { content: "final answer" },
    });
  });
});

describe("helpers", () => {
  it("task_submitted carries a fresh 32-hex id and the agent name", () => {
    const a = taskSubmitted({ ...ctx, hubTaskId: newHubTaskId() }, "Ollama (llama3.2)");
    const b = taskSubmitted({ ...ctx, hubTaskId: newHubTaskId(), runId: "run_7" }, "Ollama");
    expect(a).toMatchObject({
      type: "task_submitted",
      agent_message_id: AMID,
      data: { agent_name: "Ollama (llama3.2)" },
    });
    expect(a.data.task_id).toMatch(/^[0-9a-f]{32}$/);
    expect(a.data.task_id).not.toBe(b.data.task_id);
    expect(a.data).not.toHaveProperty("run_id");
    expect(b.data.run_id).toBe("run_7");
  });

  it("replyMessage builds the canonical follow-up (reference §5.10)", () => {
    const full = replyMessage(
      {
        type: "user_reply",
        room_id: "r",
        local_agent_id: "a",
        agent_message_id: "m",
        reply_text: "Yes, use the Q3 numbers",
        task_id: "relay-pending-m",
        context_id: "ctx_room_5b1e07",
      },
      "task_4e1b",
    );
    expect(full).toEqual({
      role: "user",
      parts: [{ text: "Yes, use the Q3 numbers" }],
      messageId: expect.stringMatching(/^[0-9a-f]{32}$/),
      taskId: "task_4e1b",
      referenceTaskIds: ["task_4e1b"],
      contextId: "ctx_room_5b1e07",
    });
    const bare = replyMessage(
      {
        type: "user_reply",
        room_id: "r",
        local_agent_id: "a",
        agent_message_id: "m",
        reply_text: "ok",
      },
      null,
    );
    expect(Object.keys(bare).sort()).toEqual(["messageId", "parts", "role"]);
  });

  it("withAgentTaskIds drops the relay's placeholders and maps the hub's own task ids", () => {
    const resolve = (taskId: string) =>
      taskId.startsWith("relay-pending-") ? null : taskId === HUB_TASK ? "agent-task" : taskId;
    const message = { role: "user", parts: [], taskId: "relay-pending-amsg_1" };
    expect(withAgentTaskIds(message, resolve)).toEqual({ role: "user", parts: [] });
    expect(
      withAgentTaskIds(
        { taskId: HUB_TASK, referenceTaskIds: ["relay-pending-x", HUB_TASK] },
        resolve,
      ),
    ).toEqual({ taskId: "agent-task", referenceTaskIds: ["agent-task"] });
    // snake_case (a Python relay's model dump) keeps its names
    expect(withAgentTaskIds({ task_id: "t-1", reference_task_ids: ["t-1"] }, resolve)).toEqual({
      task_id: "t-1",
      reference_task_ids: ["t-1"],
    });
    const untouched = { role: "user", taskId: "t-2" };
    expect(withAgentTaskIds(untouched, resolve)).toBe(untouched);
  });
});

describe("what the relay reads (relay-wire.md section 6)", () => {
  it("every event carries task_id (the hub's until the agent's is known) and the run id", () => {
    const mapper = new TurnMapper({ ...ctx, runId: "run_42" });
    const published = [
      taskSubmitted({ ...ctx, runId: "run_42" }, "Agent"),
      ...run(mapper, [
        { kind: "message", role: "agent", messageId: "m0", parts: [{ kind: "text", text: "a" }] },
        {
          kind: "status-update",
          taskId: "agent-t",
          contextId: "c",
          status: { state: "working" },
          final: false,
        },
        {
          kind: "artifact-update",
          taskId: "agent-t",
          contextId: "c",
          artifact: { artifactId: "x", parts: [{ kind: "text", text: "b" }] },
        },
      ]),
      ...mapper.terminal(),
    ];
    expect(published.map((event) => [event.type, event.data.task_id])).toEqual([
      ["task_submitted", HUB_TASK],
      ["artifact_update", HUB_TASK],
      ["task_status", "agent-t"],
      ["artifact_update", "agent-t"],
      ["processing_status", "agent-t"],
    ]);
    for (const event of published) expect(event.data.run_id).toBe("run_42");
    for (const event of mapper.failure("X", "y")) {
      expect(event.data).toMatchObject({ task_id: "agent-t", run_id: "run_42" });
    }
  });

  it.each([
    "completed",
    "failed",
    "canceled",
    "rejected",
    "expired",
    "input-required",
    "auth-required",
    "policy-required",
  ])(
    "a status update %s is not published as task_status (the relay would read an end)",
    (state) => {
      const mapper = new TurnMapper(ctx);
      const published = run(mapper, [
        { kind: "status-update", taskId: "t", contextId: "c", status: { state }, final: true },
      ]);
      expect(published).toEqual([]);
    },
  );
});
