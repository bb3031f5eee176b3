import { describe, expect, it } from "vitest";
import {
  decodeResult,
  decodeStreamEvent,
  decodeTaskResult,
  encodeMessage,
  encodePart,
  methodFor,
  normalisePart,
  normaliseRole,
  normaliseState,
  sendParams,
} from "../../src/a2a/dialect.ts";
import { type A2ATask, textOfParts } from "../../src/a2a/model.ts";

/** Every artifact's text, else the status message's. */
function taskText(task: A2ATask): string {
  const fromArtifacts = task.artifacts.map((a) => textOfParts(a.parts)).join("");
  return fromArtifacts || textOfParts(task.status.message?.parts);
}

import { TransportError } from "../../src/a2a/transport.ts";

describe("method names", () => {
  it("maps the four operations per dialect", () => {
    expect(["send", "stream", "get", "cancel"].map((op) => methodFor("0.3", op as never))).toEqual([
      "message/send",
      "message/stream",
      "tasks/get",
      "tasks/cancel",
    ]);
    expect(["send", "stream", "get", "cancel"].map((op) => methodFor("1.0", op as never))).toEqual([
      "SendMessage",
      "SendStreamingMessage",
      "GetTask",
      "CancelTask",
    ]);
  });
});

describe("states and roles", () => {
  it("normalises all states of both dialects", () => {
    const pairs: Array<[unknown, string]> = [
      ["TASK_STATE_SUBMITTED", "submitted"],
      ["TASK_STATE_WORKING", "working"],
      ["TASK_STATE_INPUT_REQUIRED", "input-required"],
      ["TASK_STATE_AUTH_REQUIRED", "auth-required"],
      ["TASK_STATE_COMPLETED", "completed"],
      ["TASK_STATE_CANCELED", "canceled"],
      ["TASK_STATE_CANCELLED", "canceled"],
      ["cancelled", "canceled"],
      ["TASK_STATE_FAILED", "failed"],
      ["TASK_STATE_REJECTED", "rejected"],
      ["TASK_STATE_UNSPECIFIED", "unknown"],
      ["input-required", "input-required"],
      ["working", "working"],
      [6, "input-required"],
      [3, "completed"],
      ["some-new-state", "some-new-state"],
      [undefined, "unknown"],
    ];
    for (const [input, expected] of pairs) expect(normaliseState(input)).toBe(expected);
  });

  it("normalises roles", () => {
    expect(normaliseRole("ROLE_USER")).toBe("user");
    expect(normaliseRole("ROLE_AGENT")).toBe("agent");
    expect(normaliseRole("agent")).toBe("agent");
    expect(normaliseRole(2)).toBe("agent");
  });
});

describe("parts", () => {
  it("flattens every inbound shape to the canonical part", () => {
    expect(normalisePart({ kind: "text", text: "hi", metadata: { a: 1 } })).toEqual({
      text: "hi",
      metadata: { a: 1 },
    });
    expect(
      normalisePart({
        kind: "file",
        file: { uri: "https://x/f.pdf", mimeType: "application/pdf", name: "f.pdf" },
      }),
    ).toEqual({ url: "https://x/f.pdf", mediaType: "application/pdf", filename: "f.pdf" });
    expect(
      normalisePart({ kind: "file", fileWithBytes: { bytes: "QUJD", mimeType: "text/plain" } }),
    ).toEqual({
      raw: "QUJD",
      mediaType: "text/plain",
    });
    expect(normalisePart({ kind: "data", data: { x: 1 } })).toEqual({ data: { x: 1 } });
    expect(normalisePart({ root: { kind: "text", text: "wrapped" } })).toEqual({ text: "wrapped" });
    expect(normalisePart({ text: "v1", kind: "text" })).toEqual({ text: "v1" });
    expect(normalisePart({ url: "https://x", mimeType: "image/png" })).toEqual({
      url: "https://x",
      mediaType: "image/png",
    });
    expect(normalisePart({ type: "text", text: "v0.1" })).toEqual({ text: "v0.1" });
    // Unknown kinds pass through unchanged.
    expect(normalisePart({ kind: "video", src: "x" })).toEqual({ kind: "video", src: "x" });
  });

  it("encodes canonical parts for each dialect and round-trips", () => {
    const parts = [
      { text: "hi", metadata: { m: 1 } },
      { url: "https://x/a.png", mediaType: "image/png", filename: "a.png" },
      { raw: "QUJD", mediaType: "text/plain" },
      { data: { k: "v" } },
    ];
    const v03 = parts.map((p) => encodePart("0.3", p));
    expect(v03).toEqual([
      { kind: "text", text: "hi", metadata: { m: 1 } },
      { kind: "file", file: { uri: "https://x/a.png", mimeType: "image/png", name: "a.png" } },
      { kind: "file", file: { bytes: "QUJD", mimeType: "text/plain" } },
      { kind: "data", data: { k: "v" } },
    ]);
    expect(v03.map(normalisePart)).toEqual(parts);
    expect(parts.map((p) => encodePart("1.0", p))).toEqual(parts);
  });
});

describe("outbound messages", () => {
  const relayMessage = {
    kind: "message",
    role: "user",
    messageId: "msg_1",
    contextId: "ctx_1",
    parts: [{ kind: "text", text: "Summarise my notes" }],
    metadata: { source: "relay" },
  };

  it("encodes a v0.3-shaped relay message for v1.0 without mutating it", () => {
    const copy = structuredClone(relayMessage);
    const out = encodeMessage("1.0", relayMessage);
    expect(out).toEqual({
      role: "ROLE_USER",
      messageId: "msg_1",
      contextId: "ctx_1",
      parts: [{ text: "Summarise my notes" }],
      metadata: { source: "relay" },
    });
    expect(relayMessage).toEqual(copy);
  });

  it("encodes a canonical message for v0.3 and adds a messageId when missing", () => {
    const out = encodeMessage("0.3", { role: "user", parts: [{ text: "hi" }] });
    expect(out).toMatchObject({
      kind: "message",
      role: "user",
      parts: [{ kind: "text", text: "hi" }],
    });
    expect(out["messageId"]).toMatch(/^[0-9a-f]{32}$/);
  });

  it("sets the blocking flag explicitly, and no configuration for streams", () => {
    expect(sendParams("0.3", relayMessage, "blocking")["configuration"]).toEqual({
      blocking: true,
    });
    expect(sendParams("1.0", relayMessage, "blocking")["configuration"]).toEqual({
      returnImmediately: false,
    });
    expect(sendParams("1.0", relayMessage, "stream")).not.toHaveProperty("configuration");
  });
});

describe("inbound results", () => {
  const v03Task = {
    kind: "task",
    id: "task_1",
    contextId: "ctx_1",
    status: {
      state: "completed",
      message: {
        kind: "message",
        role: "agent",
        messageId: "m2",
        parts: [{ kind: "text", text: "status" }],
      },
    },
    artifacts: [
      {
        artifactId: "a1",
        parts: [
          { kind: "text", text: "Hello " },
          { kind: "text", text: "world" },
        ],
      },
    ],
  };
  const v1Task = {
    id: "task_1",
    contextId: "ctx_1",
    status: {
      state: "TASK_STATE_COMPLETED",
      message: { role: "ROLE_AGENT", messageId: "m2", parts: [{ text: "status" }] },
    },
    artifacts: [{ artifactId: "a1", parts: [{ text: "Hello " }, { text: "world" }] }],
    futureField: 1,
  };

  it("reads a v0.3 task, a v1 {task} wrapper and a bare v1 task the same way", () => {
    for (const wire of [v03Task, { task: v1Task }, v1Task]) {
      const result = decodeResult(wire);
      expect(result.kind).toBe("task");
      if (result.kind !== "task") continue;
      expect(result.id).toBe("task_1");
      expect(result.status.state).toBe("completed");
      expect(result.status.message?.role).toBe("agent");
      expect(taskText(result)).toBe("Hello world");
      expect(result.raw["kind"]).toBe("task");
    }
    const bare = decodeTaskResult(v1Task);
    expect(bare.raw["futureField"]).toBe(1);
    expect((bare.raw["status"] as Record<string, unknown>)["state"]).toBe("completed");
  });

  it("reads direct messages in both dialects", () => {
    for (const wire of [
      { kind: "message", role: "agent", messageId: "m", parts: [{ kind: "text", text: "direct" }] },
      { message: { role: "ROLE_AGENT", messageId: "m", parts: [{ text: "direct" }] } },
    ]) {
      const result = decodeResult(wire);
      expect(result.kind).toBe("message");
      if (result.kind === "message") expect(textOfParts(result.parts)).toBe("direct");
    }
  });

  it("rejects a result that is neither task nor message", () => {
    expect(() => decodeResult({ hello: 1 })).toThrow(TransportError);
    expect(() => decodeResult("text")).toThrow(/neither a task nor a message/);
  });

  it("classifies all four stream events of both dialects and computes final for v1", () => {
    const v03 = [
      { kind: "task", id: "t", contextId: "c", status: { state: "submitted" } },
      { kind: "message", role: "agent", messageId: "m", parts: [{ kind: "text", text: "x" }] },
      {
        kind: "status-update",
        taskId: "t",
        contextId: "c",
        status: { state: "working" },
        final: false,
      },
      {
        kind: "artifact-update",
        taskId: "t",
        contextId: "c",
        artifact: { artifactId: "a", parts: [] },
        append: true,
        lastChunk: false,
      },
    ];
    const v1 = [
      { task: { id: "t", contextId: "c", status: { state: "TASK_STATE_SUBMITTED" } } },
      { message: { role: "ROLE_AGENT", messageId: "m", parts: [{ text: "x" }] } },
      { statusUpdate: { taskId: "t", contextId: "c", status: { state: "TASK_STATE_WORKING" } } },
      {
        artifactUpdate: {
          taskId: "t",
          contextId: "c",
          artifact: { artifactId: "a", parts: [] },
          append: true,
        },
      },
    ];
    for (const list of [v03, v1]) {
      expect(list.map((e) => decodeStreamEvent(e)?.kind)).toEqual([
        "task",
        "message",
        "status-update",
        "artifact-update",
      ]);
    }
    expect(decodeStreamEvent({ unknown: true })).toBeNull();
    const done = decodeStreamEvent({
      statusUpdate: {
        taskId: "t",
        status: {
          state: "TASK_STATE_COMPLETED",
          message: { role: "ROLE_AGENT", parts: [{ text: "ok" }] },
        },
      },
    });
    expect(done).toMatchObject({
      kind: "status-update",
      final: true,
      status: { state: "completed" },
    });
    if (done?.kind === "status-update") expect(done.status.message?.role).toBe("agent");
    const interrupted = decodeStreamEvent({
      statusUpdate: { taskId: "t", status: { state: "TASK_STATE_INPUT_REQUIRED" } },
    });
    expect(interrupted).toMatchObject({ final: false, status: { state: "input-required" } });
    const lastChunk = decodeStreamEvent({
      kind: "artifact-update",
      taskId: "t",
      artifact: { artifactId: "a", parts: [] },
      last_chunk: true,
    });
    expect(lastChunk).toMatchObject({ lastChunk: true, append: false });
  });
});

describe("a Python relay's snake_case message", () => {
  it.each(["1.0", "0.3"] as const)("is sent to a %s agent with camelCase ids", (dialect) => {
    const encoded = encodeMessage(dialect, {
      kind: "message",
      role: "user",
      message_id: "m-1",
      context_id: "ctx-1",
      task_id: "task-1",
      reference_task_ids: ["task-0"],
      parts: [{ kind: "file", file: { uri: "https://x/a.pdf", mime_type: "application/pdf" } }],
    });
    expect(encoded).toMatchObject({
      messageId: "m-1",
      contextId: "ctx-1",
      taskId: "task-1",
      referenceTaskIds: ["task-0"],
    });
    for (const key of ["message_id", "context_id", "task_id", "reference_task_ids"]) {
      expect(encoded).not.toHaveProperty(key);
    }
    expect(JSON.stringify(encoded.parts)).toContain("application/pdf");
  });

  it("keeps camelCase when both are given", () => {
    expect(encodeMessage("1.0", { parts: [], messageId: "a", message_id: "b" }).messageId).toBe(
      "a",
    );
  });
});
