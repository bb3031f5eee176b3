// Pure validation of relay commands (relay-wire.md section 2): what the hub must do with each
// `data:` object of the command stream. No I/O here.
import type { CancelTaskCommand, UserMessageCommand, UserReplyCommand } from "../wire/relay.ts";

export type ClassifiedCommand =
  | { kind: "connection_ready" }
  | { kind: "heartbeat" }
  | { kind: "user_message"; command: UserMessageCommand }
  | { kind: "user_reply"; command: UserReplyCommand }
  | { kind: "cancel_task"; command: CancelTaskCommand }
  /** A turn command that cannot run; answer it when `roomId` and `agentMessageId` are known. */
  | {
      kind: "invalid";
      type: string;
      reason: string;
      roomId: string | null;
      agentMessageId: string | null;
      userMessageId: string | null;
      runId: string | null;
    }
  | { kind: "unknown"; type: string };

const nonEmptyString = (value: unknown): value is string =>
  typeof value === "string" && value.length > 0;
const optionalString = (value: unknown): string | null =>
  typeof value === "string" && value.length > 0 ? value : null;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Classifies one command object; a missing `type` means `user_message`. */
export function classifyCommand(raw: Record<string, unknown>): ClassifiedCommand {
  const type = raw.type === undefined || raw.type === null ? "user_message" : String(raw.type);
  switch (type) {
    case "connection_ready":
      return { kind: "connection_ready" };
    case "heartbeat":
      return { kind: "heartbeat" };
    case "user_message":
      return classifyTurnCommand(raw, type, ["local_agent_id", "room_id", "agent_message_id"], {
        message: isObject(raw.message) ? null : "field 'message' must be an A2A Message object",
      });
    case "user_reply":
      return classifyTurnCommand(raw, type, ["local_agent_id", "room_id", "agent_message_id"], {
        reply_text:
          raw.reply_text === undefined || typeof raw.reply_text === "string"
            ? null
            : "field 'reply_text' must be a string",
      });
    case "cancel_task": {
      if (!nonEmptyString(raw.local_agent_id)) {
        return invalid(raw, type, "field 'local_agent_id' is missing or empty");
      }
      if (typeof raw.task_id !== "string" && !nonEmptyString(raw.agent_message_id)) {
        return invalid(raw, type, "needs 'task_id' or 'agent_message_id'");
      }
      return {
        kind: "cancel_task",
        command: {
          type: "cancel_task",
          local_agent_id: raw.local_agent_id,
          task_id: typeof raw.task_id === "string" ? raw.task_id : "",
          agent_message_id: optionalString(raw.agent_message_id),
        },
      };
    }
    default:
      return { kind: "unknown", type };
  }
}

function classifyTurnCommand(
  raw: Record<string, unknown>,
  type: "user_message" | "user_reply",
  required: string[],
  extraChecks: Record<string, string | null>,
): ClassifiedCommand {
  for (const field of required) {
    if (!nonEmptyString(raw[field])) {
      return invalid(raw, type, `field '${field}' is missing or not a non-empty string`);
    }
  }
  for (const problem of Object.values(extraChecks)) {
    if (problem) return invalid(raw, type, problem);
  }
  if (type === "user_message") {
    return {
      kind: "user_message",
      command: {
        type: "user_message",
        room_id: raw.room_id as string,
        local_agent_id: raw.local_agent_id as string,
        agent_message_id: raw.agent_message_id as string,
        user_message_id: optionalString(raw.user_message_id),
        run_id: optionalString(raw.run_id),
        agent_id: optionalString(raw.agent_id),
        task_id: optionalString(raw.task_id),
        message: raw.message as Record<string, unknown>,
      },
    };
  }
  return {
    kind: "user_reply",
    command: {
      type: "user_reply",
      room_id: raw.room_id as string,
      local_agent_id: raw.local_agent_id as string,
      agent_message_id: raw.agent_message_id as string,
      reply_text: typeof raw.reply_text === "string" ? raw.reply_text : "",
      task_id: optionalString(raw.task_id),
      context_id: optionalString(raw.context_id),
    },
  };
}

function invalid(raw: Record<string, unknown>, type: string, reason: string): ClassifiedCommand {
  return {
    kind: "invalid",
    type,
    reason,
    roomId: optionalString(raw.room_id),
    agentMessageId: optionalString(raw.agent_message_id),
    // A reply has no user message of its own (reference §5.10).
    userMessageId: type === "user_message" ? optionalString(raw.user_message_id) : null,
    runId: optionalString(raw.run_id),
  };
}
