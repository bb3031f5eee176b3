import { describe, expect, it } from "vitest";
import { parseRelayCommand as classifyCommand } from "../../src/wire/relay-command.ts";

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
