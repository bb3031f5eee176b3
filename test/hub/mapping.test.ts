import { describe, expect, it } from "vitest";
import { decodeResult, decodeStreamEvent, decodeTaskResult } from "../../src/a2a/dialect.ts";
import type { A2AStreamEvent } from "../../src/a2a/model.ts";
import {
  newHubTaskId,
  replyMessage,
  STATUS_WORDS_KEEP_CHARS,
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

const stubs = (...ids: string[]) => ids.map((artifactId) => ({ artifactId, parts: [] }));
/** The end of a completed turn that sent these artifacts. */
const responseEnd = (taskId: string, contextId: string, ...ids: string[]) => [
  {
    type: "agent_response",
    agent_message_id: AMID,
    data: {
      content: "",
      agent_id: "7a7160aa61ee",
      artifacts: stubs(...ids),
      append: true,
      task_id: taskId,
      context_id: contextId,
    },
  },
  completedStatus(taskId),
];

describe("blocking results", () => {
  it("a completed task: each artifact once, exact, then an agent_response naming them", () => {
    for (const wire of [
      {
        kind: "task",
        id: "task_4e1b",
        contextId: "ctx_room_5b1e07",
        status: { state: "completed" },
        artifacts: [
          {
            artifactId: "a",
            name: "answer",
            parts: [
              { kind: "text", text: "Polled " },
              { kind: "text", text: "result\n" },
            ],
          },
        ],
      },
      {
        task: {
          id: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          status: { state: "TASK_STATE_COMPLETED" },
          artifacts: [
            { artifactId: "a", name: "answer", parts: [{ text: "Polled " }, { text: "result\n" }] },
          ],
        },
      },
    ]) {
      const mapper = new TurnMapper(ctx);
      const answer = mapper.onResult(decodeResult(wire));
      expect(mapper.taskId).toBe("task_4e1b");
      expect(mapper.contextId).toBe("ctx_room_5b1e07");
      expect(answer).toEqual([
        {
          type: "artifact_update",
          agent_message_id: AMID,
          data: {
            artifacts: [
              {
                artifactId: "a",
                name: "answer",
                parts: [
                  { kind: "text", text: "Polled " },
                  { kind: "text", text: "result\n" },
                ],
              },
            ],
            append: false,
            last_chunk: true,
            context_id: "ctx_room_5b1e07",
            task_id: "task_4e1b",
          },
        },
      ]);
      expect(mapper.terminal()).toEqual(responseEnd("task_4e1b", "ctx_room_5b1e07", "a"));
    }
  });

  it("keeps every artifact with its name and every part's kind and order (files, data)", () => {
    const mapper = new TurnMapper(ctx);
    const answer = mapper.onResult(
      decodeTaskResult({
        id: "t",
        status: {
          state: "completed",
          message: { role: "agent", parts: [{ kind: "text", text: "Generated files: fib.py" }] },
        },
        artifacts: [
          {
            artifactId: "f1",
            name: "fib.py",
            parts: [{ kind: "text", text: "def fib(n):\n    return n\n" }],
          },
          {
            artifactId: "f2",
            name: "report",
            parts: [
              { kind: "data", data: { rows: 3 } },
              {
                kind: "file",
                file: { uri: "https://x/r.pdf", mimeType: "application/pdf", name: "r.pdf" },
              },
              { text: "see above" },
              { raw: "aGk=", mediaType: "text/plain", filename: "hi.txt" },
              { data: [1, 2] },
            ],
          },
        ],
      }),
    );
    expect(answer.map((event) => event.type)).toEqual(["artifact_update", "artifact_update"]);
    expect(answer[0]?.data).toMatchObject({
      artifacts: [
        {
          artifactId: "f1",
          name: "fib.py",
          parts: [{ kind: "text", text: "def fib(n):\n    return n\n" }],
        },
      ],
    });
    expect(answer[1]?.data).toMatchObject({
      artifacts: [
        {
          artifactId: "f2",
          name: "report",
          parts: [
            { kind: "data", data: { rows: 3 } },
            {
              kind: "file",
              file: { uri: "https://x/r.pdf", mimeType: "application/pdf", name: "r.pdf" },
            },
            { kind: "text", text: "see above" },
            { kind: "file", file: { bytes: "aGk=", mimeType: "text/plain", name: "hi.txt" } },
            // The relay's model takes objects only.
            { kind: "data", data: { value: [1, 2] } },
          ],
        },
      ],
    });
    // The closing status message says something the artifacts do not: its own artifact.
    const end = mapper.terminal();
    expect(end.map((event) => event.type)).toEqual([
      "artifact_update",
      "agent_response",
      "processing_status",
    ]);
    expect(end[0]?.data).toMatchObject({
      artifacts: [
        {
          artifactId: `${AMID}-status`,
          name: "status",
          parts: [{ kind: "text", text: "Generated files: fib.py" }],
        },
      ],
      append: false,
      last_chunk: true,
    });
    expect(end[1]?.data).toMatchObject({ artifacts: stubs("f1", "f2", `${AMID}-status`) });
  });

  it("a closing status message that only repeats the answer is not sent again", () => {
    const mapper = new TurnMapper(ctx);
    mapper.onResult(
      decodeTaskResult({
        id: "t",
        status: {
          state: "completed",
          message: { role: "agent", parts: [{ kind: "text", text: "The answer\n" }] },
        },
        artifacts: [{ artifactId: "a", parts: [{ kind: "text", text: "The answer" }] }],
      }),
    );
    expect(mapper.terminal().map((event) => event.type)).toEqual([
      "agent_response",
      "processing_status",
    ]);
  });

  it("a task with only a status message answers with it (exact text)", () => {
    const mapper = new TurnMapper(ctx);
    mapper.onResult(
      decodeTaskResult({
        id: "t",
        status: {
          state: "TASK_STATE_COMPLETED",
          message: {
            role: "ROLE_AGENT",
            parts: [{ root: { kind: "text", text: "  From status\n" } }],
          },
        },
      }),
    );
    const end = mapper.terminal();
    expect(end[0]?.data).toMatchObject({
      artifacts: [
        { artifactId: `${AMID}-status`, parts: [{ kind: "text", text: "  From status\n" }] },
      ],
    });
  });

  it("a direct message result is the answer, as the artifact <id>-response", () => {
    const mapper = new TurnMapper(ctx);
    const answer = mapper.onResult(
      decodeResult({
        kind: "message",
        role: "agent",
        messageId: "m",
        parts: [
          { kind: "text", text: "Hi there" },
          { kind: "data", data: { tool: "x" } },
        ],
      }),
    );
    expect(answer[0]?.data).toMatchObject({
      artifacts: [
        {
          artifactId: `${AMID}-response`,
          name: "response",
          parts: [
            { kind: "text", text: "Hi there" },
            { kind: "data", data: { tool: "x" } },
          ],
        },
      ],
    });
    expect(mapper.ended).toBe(true);
    expect(mapper.terminal()[0]).toMatchObject({
      type: "agent_response",
      data: { artifacts: stubs(`${AMID}-response`) },
    });
  });

  it("an empty answer is an empty response, never a stringified object", () => {
    const mapper = new TurnMapper(ctx);
    expect(
      mapper.onResult(
        decodeResult({ kind: "task", id: "t", status: { state: "completed" }, metadata: { x: 1 } }),
      ),
    ).toEqual([]);
    const end = mapper.terminal();
    expect(end[0]).toMatchObject({ type: "agent_response", data: { content: "" } });
    expect(end[0]?.data).not.toHaveProperty("artifacts");
  });

  it("failed and rejected keep their own state, with the agent's status text", () => {
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
          state: "failed",
          task_id: "t",
        },
      },
      failedStatus("t"),
    ]);
    const rejected = new TurnMapper(ctx);
    rejected.onResult(decodeTaskResult({ id: "t", status: { state: "rejected" } }));
    expect(rejected.terminal()).toEqual([
      {
        type: "agent_error",
        agent_message_id: AMID,
        data: {
          error: "The agent's task rejected.",
          error_type: "AgentTaskFailed",
          state: "rejected",
          task_id: "t",
        },
      },
      {
        type: "processing_status",
        agent_message_id: AMID,
        data: { status: "rejected", user_message_id: "umsg_33aa", task_id: "t" },
      },
    ]);
  });

  it("canceled is its own state (error_type Canceled), not a completed answer", () => {
    const mapper = new TurnMapper(ctx);
    mapper.onResult(decodeTaskResult({ id: "t", status: { state: "TASK_STATE_CANCELED" } }));
    expect(mapper.terminal()).toEqual([
      {
        type: "agent_error",
        agent_message_id: AMID,
        data: {
          error: "The agent canceled the task.",
          error_type: "Canceled",
          state: "canceled",
          task_id: "t",
        },
      },
      {
        type: "processing_status",
        agent_message_id: AMID,
        data: { status: "canceled", user_message_id: "umsg_33aa", task_id: "t" },
      },
    ]);
  });

  it.each([
    ["expired", "The agent's task expired."],
    ["policy-required", "policy-required"],
    ["unknown", "no task state"],
    ["TASK_STATE_UNSPECIFIED", "no task state"],
    ["paused", '"paused"'],
  ])("%s never ends as completed", (state, says) => {
    const mapper = new TurnMapper(ctx);
    mapper.onResult(decodeTaskResult({ id: "t", status: { state } }));
    const end = mapper.terminal();
    expect(end.map((event) => event.type)).toEqual(["agent_error", "processing_status"]);
    expect(end[0]?.data).toMatchObject({ state: "failed" });
    expect(String((end[0]?.data as { error?: string } | undefined)?.error)).toContain(says);
    expect(end[1]?.data).toMatchObject({ status: "failed" });
  });

  it.each(["input-required", "auth-required"])(
    "%s: task_interactive with the agent's whole question (parts, metadata) + processing_status",
    (state) => {
      const mapper = new TurnMapper(ctx);
      mapper.onResult(
        decodeTaskResult({
          id: "task_4e1b",
          contextId: "ctx_room_5b1e07",
          status: {
            state,
            timestamp: "2026-01-01T00:00:00.000Z",
            message: {
              role: "agent",
              messageId: "q1",
              metadata: { "hybro.ai/a2a/interaction": { type: "approval" } },
              parts: [
                { kind: "text", text: "Run this tool?" },
                { kind: "data", data: { tool: "rm", args: { path: "/tmp/x" } } },
              ],
            },
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
            status: {
              state,
              timestamp: "2026-01-01T00:00:00.000Z",
              message: {
                kind: "message",
                role: "agent",
                messageId: "q1",
                metadata: { "hybro.ai/a2a/interaction": { type: "approval" } },
                parts: [
                  { kind: "text", text: "Run this tool?" },
                  { kind: "data", data: { tool: "rm", args: { path: "/tmp/x" } } },
                ],
              },
            },
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

  it("a question without the agent's context id names the conversation the relay sent", () => {
    const mapper = new TurnMapper({ ...ctx, contextId: "ctx-from-relay" });
    mapper.onResult(decodeTaskResult({ id: "t", status: { state: "input-required" } }));
    expect(mapper.terminal()[0]?.data).toMatchObject({ context_id: "ctx-from-relay" });
  });

  it("failure() never has an empty error text", () => {
    const mapper = new TurnMapper({ ...ctx, userMessageId: null });
    expect(mapper.failure("ConnectError", "")).toEqual([
      {
        type: "agent_error",
        agent_message_id: AMID,
        data: {
          error: "The turn failed (ConnectError).",
          error_type: "ConnectError",
          state: "failed",
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

describe("streams", () => {
  it("the worked example (v1.0): status and chunks published as they come, then the end", () => {
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
    expect(published).toEqual([
      {
        type: "task_status",
        agent_message_id: AMID,
        data: {
          state: "working",
          status_text: "",
          final: false,
          task_id: "task_4e1b",
          context_id: "ctx_room_5b1e07",
        },
      },
      {
        type: "artifact_update",
        agent_message_id: AMID,
        data: {
          artifacts: [{ artifactId: "a1", parts: [{ kind: "text", text: "The meeting " }] }],
          append: false,
          last_chunk: false,
          context_id: "ctx_room_5b1e07",
          task_id: "task_4e1b",
        },
      },
      {
        type: "artifact_update",
        agent_message_id: AMID,
        data: {
          artifacts: [{ artifactId: "a1", parts: [{ kind: "text", text: "went well." }] }],
          append: true,
          last_chunk: true,
          context_id: "ctx_room_5b1e07",
          task_id: "task_4e1b",
        },
      },
    ]);
    // The closing message repeats the streamed answer: not sent a second time.
    expect(mapper.terminal()).toEqual(responseEnd("task_4e1b", "ctx_room_5b1e07", "a1"));
  });

  it("streamed messages go to the artifact <id>-stream; empty ones send nothing", () => {
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
        message: {
          role: "ROLE_AGENT",
          messageId: "m3",
          parts: [{ text: "world" }, { data: { n: 1 } }],
        },
      },
    ]);
    expect(published).toEqual([
      {
        type: "artifact_update",
        agent_message_id: AMID,
        data: {
          artifacts: [{ artifactId: `${AMID}-stream`, parts: [{ kind: "text", text: "Hello " }] }],
          append: true,
          last_chunk: false,
          task_id: HUB_TASK,
        },
      },
      {
        type: "artifact_update",
        agent_message_id: AMID,
        data: {
          artifacts: [
            {
              artifactId: `${AMID}-stream`,
              parts: [
                { kind: "text", text: "world" },
                { kind: "data", data: { n: 1 } },
              ],
            },
          ],
          append: true,
          last_chunk: false,
          task_id: HUB_TASK,
        },
      },
    ]);
    // Messages outside any task are the whole answer.
    expect(mapper.ended).toBe(true);
    expect(mapper.terminal()[0]).toMatchObject({
      type: "agent_response",
      data: { artifacts: stubs(`${AMID}-stream`) },
    });
  });

  it("a replacing chunk (append: false) is passed on as a replace", () => {
    const mapper = new TurnMapper(ctx);
    const published = run(mapper, [
      {
        kind: "artifact-update",
        taskId: "t",
        artifact: { artifactId: "a", parts: [{ kind: "text", text: "draft " }] },
        append: true,
      },
      {
        kind: "artifact-update",
        taskId: "t",
        artifact: { artifactId: "a", parts: [{ kind: "text", text: "final" }] },
      },
    ]);
    expect(published.map((event) => (event.data as { append: boolean }).append)).toEqual([
      true,
      false,
    ]);
  });

  it("a short closing status message after streamed files is kept (its own artifact)", () => {
    const mapper = new TurnMapper(ctx);
    run(mapper, [
      {
        kind: "artifact-update",
        taskId: "t",
        contextId: "c",
        artifact: {
          artifactId: "f",
          name: "fib.py",
          parts: [{ kind: "text", text: "def fib(): …\n" }],
        },
        lastChunk: true,
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
            parts: [{ kind: "text", text: "Generated files: fib.py" }],
          },
        },
        final: true,
      },
    ]);
    const end = mapper.terminal();
    expect(end[0]?.data).toMatchObject({
      artifacts: [
        {
          artifactId: `${AMID}-status`,
          parts: [{ kind: "text", text: "Generated files: fib.py" }],
        },
      ],
    });
    expect(end[1]?.data).toMatchObject({ artifacts: stubs("f", `${AMID}-status`) });
  });

  it("a streamed failure carries the real status text", () => {
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
        state: "failed",
        task_id: "t",
        context_id: "c",
      },
    });
  });

  it("a streamed input-required sends the question once, in task_interactive", () => {
    const mapper = new TurnMapper(ctx);
    const published = run(mapper, [
      { task: { id: "t9", contextId: "c9", status: { state: "TASK_STATE_SUBMITTED" } } },
      {
        statusUpdate: {
          taskId: "t9",
          contextId: "c9",
          status: {
            state: "TASK_STATE_INPUT_REQUIRED",
            message: {
              role: "ROLE_AGENT",
              messageId: "q",
              parts: [{ text: "Your name?" }, { data: { schema: { type: "string" } } }],
            },
          },
        },
      },
    ]);
    expect(published).toEqual([]);
    expect(mapper.terminal()[0]).toEqual({
      type: "task_interactive",
      agent_message_id: AMID,
      data: {
        state: "input-required",
        task_id: "t9",
        context_id: "c9",
        status: {
          state: "input-required",
          message: {
            kind: "message",
            role: "agent",
            messageId: "q",
            parts: [
              { kind: "text", text: "Your name?" },
              { kind: "data", data: { schema: { type: "string" } } },
            ],
          },
        },
      },
    });
  });

  describe("an answer given only in working status messages (@google/gemini-cli-a2a-server 0.25)", () => {
    const working = (text: string | null, extra: Record<string, unknown> = {}) => ({
      kind: "status-update",
      taskId: "g1",
      contextId: "gc",
      final: false,
      status: {
        state: "working",
        ...(text === null
          ? {}
          : {
              message: {
                kind: "message",
                role: "agent",
                messageId: text,
                parts: [{ kind: "text", text }],
              },
            }),
      },
      ...extra,
    });
    const ending = (state: string) => ({
      kind: "status-update",
      taskId: "g1",
      contextId: "gc",
      final: true,
      status: { state },
    });
    const questionParts = (end: PublishedEvent[]) => {
      const question = end.find((event) => event.type === "task_interactive");
      const data = question?.data as { status?: { message?: { parts: unknown[] } } } | undefined;
      return data?.status?.message?.parts;
    };
    const said = (role: string, text: string) => ({
      kind: "message",
      role,
      messageId: `${role}-${text}`,
      parts: [{ kind: "text", text }],
    });
    const kept = (event: PublishedEvent) =>
      (event.data as { artifacts?: Array<{ parts: unknown[] }> }).artifacts?.[0]?.parts;

    it("ends with an input-required that says nothing: the words are the question", () => {
      const mapper = new TurnMapper(ctx);
      const published = run(mapper, [
        { kind: "task", id: "g1", contextId: "gc", status: { state: "submitted" } },
        working(null),
        working("You said: "),
        working("hi\nline two\n"),
        ending("input-required"),
      ]);
      // Progress as before, nothing else yet.
      expect(published.map((e) => e.type)).toEqual(["task_status", "task_status", "task_status"]);
      expect(questionParts(mapper.terminal())).toEqual([
        { kind: "text", text: "You said: " },
        { kind: "text", text: "hi\nline two\n" },
      ]);
    });

    it("ends completed with nothing else: the words are the answer, once", () => {
      const mapper = new TurnMapper(ctx);
      run(mapper, [working("Here it is:\n"), working("42\n"), ending("completed")]);
      const end = mapper.terminal();
      expect(end.map((e) => e.type)).toEqual([
        "artifact_update",
        "agent_response",
        "processing_status",
      ]);
      expect(kept(end[0]!)).toEqual([
        { kind: "text", text: "Here it is:\n" },
        { kind: "text", text: "42\n" },
      ]);
    });

    it("progress notes stay progress when the agent answers otherwise", () => {
      const mapper = new TurnMapper(ctx);
      run(mapper, [
        working("Thinking…"),
        {
          kind: "artifact-update",
          taskId: "g1",
          contextId: "gc",
          artifact: { artifactId: "a", parts: [{ kind: "text", text: "the answer" }] },
          lastChunk: true,
        },
        ending("completed"),
      ]);
      const end = mapper.terminal();
      expect(end.map((e) => e.type)).toEqual(["agent_response", "processing_status"]);
      expect(JSON.stringify(end)).not.toContain("Thinking");
    });

    it("a blocking task: the agent's messages after the user's in its history", () => {
      const mapper = new TurnMapper(ctx);
      const result = decodeTaskResult({
        kind: "task",
        id: "g2",
        contextId: "gc",
        status: { state: "input-required" },
        history: [
          said("user", "before"),
          said("agent", "old"),
          said("user", "hi"),
          said("agent", "You said: "),
          said("agent", "hi\n"),
        ],
      });
      expect(mapper.onResult(result)).toEqual([]);
      expect(questionParts(mapper.terminal())).toEqual([
        { kind: "text", text: "You said: " },
        { kind: "text", text: "hi\n" },
      ]);
    });

    it("words past the keep limit go to the room as they come, whole and in order", () => {
      const mapper = new TurnMapper(ctx);
      const piece = "x".repeat(STATUS_WORDS_KEEP_CHARS / 4);
      const published = run(mapper, [
        ...Array.from({ length: 6 }, (_, i) => working(`${i}${piece}`)),
        ending("completed"),
      ]);
      const chunks = published.filter((e) => e.type === "artifact_update");
      // The fourth piece passes the limit: the four kept go at once, the others as they come.
      expect(chunks.map((e) => (e.data as { append: boolean }).append)).toEqual([
        false,
        true,
        true,
      ]);
      const text = chunks
        .flatMap((e) => kept(e) as Array<{ text: string }>)
        .map((part) => part.text)
        .join("");
      expect(text).toBe(Array.from({ length: 6 }, (_, i) => `${i}${piece}`).join(""));
      // Already in the room: the end adds nothing.
      expect(mapper.terminal().map((e) => e.type)).toEqual(["agent_response", "processing_status"]);
    });
  });

  it("a task fetched after a cut stream adds only what the room lacks; a lagging snapshot is ignored", () => {
    const mapper = new TurnMapper(ctx);
    const chunk = (text: string, append: boolean) => ({
      kind: "artifact-update",
      taskId: "t",
      artifact: { artifactId: "a", parts: [{ kind: "text", text }] },
      append,
    });
    run(mapper, [chunk("one ", false), chunk("two ", true)]);
    const task = (state: string, texts: string[]) =>
      decodeTaskResult({
        id: "t",
        status: { state },
        artifacts: [{ artifactId: "a", parts: texts.map((text) => ({ kind: "text", text })) }],
      });
    // The agent's store lags behind the stream: nothing to send.
    expect(mapper.onResult(task("working", ["one "]))).toEqual([]);
    // It caught up and went on: only the new parts, appended.
    const more = mapper.onResult(task("working", ["one ", "two ", "three "]));
    expect(more.map((e) => [e.data, "append" in e.data && e.data.append])).toMatchObject([
      [{ artifacts: [{ parts: [{ text: "three " }] }] }, true],
    ]);
    // The final task differs from what the room holds: it replaces it, whole.
    const last = mapper.onResult(task("completed", ["ONE TWO THREE"]));
    expect(last[0]?.data).toMatchObject({
      artifacts: [{ artifactId: "a", parts: [{ kind: "text", text: "ONE TWO THREE" }] }],
      append: false,
      last_chunk: true,
    });
  });

  it("a stream of a task that never said how it ended has not ended (never completed)", () => {
    const mapper = new TurnMapper(ctx);
    run(mapper, [
      { kind: "task", id: "t", contextId: "c", status: { state: "submitted" } },
      {
        kind: "artifact-update",
        taskId: "t",
        artifact: { artifactId: "a", parts: [{ kind: "text", text: "half" }] },
      },
    ]);
    expect(mapper.ended).toBe(false);
    expect(mapper.terminal()[0]).toMatchObject({
      type: "agent_error",
      data: { error_type: "InvalidAgentResponse" },
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
      ["agent_error", "agent-t"],
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
