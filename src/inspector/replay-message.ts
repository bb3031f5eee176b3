// The message a replay sends: the turn's user message as the inspector kept it, as a new message
// (its own id, no task or context: the original task has ended, and the agent's conversation is
// left alone). Pure.
import { randomUUID } from "node:crypto";
import type { RelayCommand } from "../wire/relay.ts";

/** The A2A message to send again, or null when the command carries none (cancel, heartbeat). */
export function replayMessage(
  command: RelayCommand,
  newId: () => string = randomUUID,
): Record<string, unknown> | null {
  if (command.type === "user_reply") {
    return {
      kind: "message",
      role: "user",
      messageId: newId(),
      parts: [{ kind: "text", text: command.reply_text }],
    };
  }
  if (command.type !== undefined && command.type !== "user_message") return null;
  const message = command.message;
  if (typeof message !== "object" || message === null || Array.isArray(message)) return null;
  const copy: Record<string, unknown> = { ...message, messageId: newId() };
  for (const key of ["taskId", "task_id", "contextId", "context_id", "referenceTaskIds"]) {
    delete copy[key];
  }
  return copy;
}
