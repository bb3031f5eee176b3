import { describe, expect, it } from "vitest";
import {
  parseRelayCommand as classifyCommand,
  readRelayCommandData,
} from "../../src/wire/relay-command.ts";

const message = {
  kind: "message",
  role: "user",
  messageId: "m1",
  parts: [{ kind: "text", text: "hi" }],
};

describe("classifyCommand", () => {
  it("treats a missing type as user_message", () => {
    const c = classifyCommand({
      room_id: "r",
      local_agent_id: "a",
      agent_message_id: "x",
      message,
    });
    expect(c.kind).toBe("user_message");
  });

  it("keeps user_message_id and drops empty optional strings", () => {
    const c = classifyCommand({
      type: "user_message",
      room_id: "r",
      local_agent_id: "a",
      agent_message_id: "x",
      user_message_id: "",
      message,
    });
    expect(c).toMatchObject({ kind: "user_message", command: { user_message_id: null } });
  });

  it("answers a user_message without message when it can (room + agent_message_id known)", () => {
    const c = classifyCommand({
      type: "user_message",
      room_id: "r",
      local_agent_id: "a",
      agent_message_id: "x",
      user_message_id: "u",
    });
    expect(c).toMatchObject({
      kind: "invalid",
      roomId: "r",
      agentMessageId: "x",
      userMessageId: "u",
    });
    expect(c.kind === "invalid" && c.reason).toContain("message");
  });

  it("cannot answer when room_id is missing", () => {
    const c = classifyCommand({
      type: "user_message",
      local_agent_id: "a",
      agent_message_id: "x",
      message,
    });
    expect(c).toMatchObject({ kind: "invalid", roomId: null });
  });

  it("rejects wrong types instead of coercing them", () => {
    const c = classifyCommand({ room_id: 7, local_agent_id: "a", agent_message_id: "x", message });
    expect(c).toMatchObject({ kind: "invalid", roomId: null, agentMessageId: "x" });
    const notObject = classifyCommand({
      room_id: "r",
      local_agent_id: "a",
      agent_message_id: "x",
      message: "hello",
    });
    expect(notObject.kind).toBe("invalid");
  });

  it("user_reply: defaults reply_text to empty, never carries a user_message_id", () => {
    const c = classifyCommand({
      type: "user_reply",
      room_id: "r",
      local_agent_id: "a",
      agent_message_id: "x",
      task_id: "t",
    });
    expect(c).toMatchObject({
      kind: "user_reply",
      command: { reply_text: "", task_id: "t", context_id: null },
    });
    const bad = classifyCommand({
      type: "user_reply",
      room_id: "r",
      agent_message_id: "x",
      user_message_id: "u",
    });
    expect(bad).toMatchObject({ kind: "invalid", userMessageId: null });
  });

  it("cancel_task needs an agent and a task or turn to name", () => {
    expect(classifyCommand({ type: "cancel_task", local_agent_id: "a", task_id: "t" }).kind).toBe(
      "cancel_task",
    );
    expect(
      classifyCommand({ type: "cancel_task", local_agent_id: "a", agent_message_id: "x" }).kind,
    ).toBe("cancel_task");
    expect(classifyCommand({ type: "cancel_task", local_agent_id: "a" }).kind).toBe("invalid");
    expect(classifyCommand({ type: "cancel_task", task_id: "t" }).kind).toBe("invalid");
  });

  it("passes control and unknown types through", () => {
    expect(classifyCommand({ type: "connection_ready" }).kind).toBe("connection_ready");
    expect(classifyCommand({ type: "heartbeat" }).kind).toBe("heartbeat");
    expect(classifyCommand({ type: "connection_token", connection_token: "x" })).toEqual({
      kind: "unknown",
      type: "connection_token",
    });
  });
});

describe("the reason an invalid command is answered with", () => {
  const turn = { room_id: "r", local_agent_id: "a", agent_message_id: "x" };
  const reasonOf = (raw: Record<string, unknown>) => {
    const c = classifyCommand(raw);
    return c.kind === "invalid" ? c.reason : null;
  };

  it("names the first bad field, in field order", () => {
    expect(reasonOf({ type: "user_message", room_id: 5, agent_message_id: "" })).toBe(
      "field 'local_agent_id' is missing or not a non-empty string",
    );
    expect(reasonOf({ ...turn, room_id: "", message: [] })).toBe(
      "field 'room_id' is missing or not a non-empty string",
    );
    expect(reasonOf({ ...turn, message: [] })).toBe(
      "field 'message' must be an A2A Message object",
    );
    expect(reasonOf({ ...turn, type: "user_reply", reply_text: 3 })).toBe(
      "field 'reply_text' must be a string",
    );
    expect(reasonOf({ type: "cancel_task", task_id: "t" })).toBe(
      "field 'local_agent_id' is missing or empty",
    );
    expect(reasonOf({ type: "cancel_task", local_agent_id: "a", agent_message_id: "" })).toBe(
      "needs 'task_id' or 'agent_message_id'",
    );
  });

  it("keeps what the relay must be answered with", () => {
    expect(
      classifyCommand({ ...turn, user_message_id: "u", run_id: "run", message: "no" }),
    ).toEqual({
      kind: "invalid",
      type: "user_message",
      reason: "field 'message' must be an A2A Message object",
      roomId: "r",
      agentMessageId: "x",
      userMessageId: "u",
      runId: "run",
    });
  });
});

describe("readRelayCommandData", () => {
  it("tells bad data, a refusal and a command apart", () => {
    expect(readRelayCommandData("{oops")).toEqual({ kind: "not_json" });
    expect(readRelayCommandData("[1]")).toEqual({ kind: "not_object" });
    expect(readRelayCommandData('{"type":"error","error":" "}')).toEqual({
      kind: "refused",
      reason: "no reason given",
    });
    const data = readRelayCommandData('{"type":null,"extra":1}');
    expect(data).toMatchObject({ kind: "command", type: "user_message" });
    expect(data.kind === "command" && data.raw).toEqual({ type: "user_message", extra: 1 });
    expect(data.kind === "command" && data.command.kind).toBe("invalid");
  });
});
