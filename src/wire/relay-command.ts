// Relay commands parsed once, at the edge (relay-wire.md section 2): one `data:` payload of the
// command stream becomes a typed command, a command that cannot run (with the reason the relay
// is told), or a reason to skip it. Pure: no I/O, no logging; the schemas are built once.
import * as v from "valibot";
import { objectMessage } from "../validation/schema-pieces.ts";
import type { CancelTaskCommand, UserMessageCommand, UserReplyCommand } from "./relay.ts";

export type ParsedRelayCommand =
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

/** What one `data:` payload of the command stream is. */
type RelayCommandData =
  | { kind: "not_json" }
  | { kind: "not_object" }
  /** The relay refuses this stream (its `error` event; hybro.ai: the hub id is another account's). */
  | { kind: "refused"; reason: string }
  /** A command object: `raw` as received (with its `type` filled in), `command` parsed. */
  | { kind: "command"; type: string; raw: Record<string, unknown>; command: ParsedRelayCommand };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const optionalString = (value: unknown): string | null =>
  typeof value === "string" && value.length > 0 ? value : null;

/** The command's type; a missing one means `user_message`. */
function commandType(raw: Record<string, unknown>): string {
  return raw.type === undefined || raw.type === null ? "user_message" : String(raw.type);
}

/** Reads one `data:` payload of the command stream. */
export function readRelayCommandData(data: string): RelayCommandData {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { kind: "not_json" };
  }
  if (!isObject(value)) return { kind: "not_object" };
  const type = commandType(value);
  if (type === "error") {
    const reason =
      typeof value.error === "string" && value.error.trim() ? value.error : "no reason given";
    return { kind: "refused", reason };
  }
  const raw = value.type === type ? value : { ...value, type };
  return { kind: "command", type, raw, command: parseRelayCommand(value) };
}

const turnField = (field: string) => {
  const problem = `field '${field}' is missing or not a non-empty string`;
  return v.pipe(v.string(problem), v.minLength(1, problem));
};
const turnFields = {
  local_agent_id: turnField("local_agent_id"),
  room_id: turnField("room_id"),
  agent_message_id: turnField("agent_message_id"),
};
/** The command is a JSON object already (readRelayCommandData): no array guard needed. */
const commandObject = <const E extends v.ObjectEntries>(entries: E) =>
  v.looseObject(entries, objectMessage(entries));

const userMessageSchema = v.pipe(
  commandObject({
    ...turnFields,
    message: v.custom<Record<string, unknown>>(
      isObject,
      "field 'message' must be an A2A Message object",
    ),
  }),
  v.transform(
    (f): UserMessageCommand => ({
      type: "user_message",
      room_id: f.room_id,
      local_agent_id: f.local_agent_id,
      agent_message_id: f.agent_message_id,
      user_message_id: optionalString(f.user_message_id),
      run_id: optionalString(f.run_id),
      agent_id: optionalString(f.agent_id),
      task_id: optionalString(f.task_id),
      message: f.message,
    }),
  ),
);

const userReplySchema = v.pipe(
  commandObject({
    ...turnFields,
    reply_text: v.optional(v.string("field 'reply_text' must be a string")),
  }),
  v.transform(
    (f): UserReplyCommand => ({
      type: "user_reply",
      room_id: f.room_id,
      local_agent_id: f.local_agent_id,
      agent_message_id: f.agent_message_id,
      reply_text: f.reply_text ?? "",
      task_id: optionalString(f.task_id),
      context_id: optionalString(f.context_id),
    }),
  ),
);

const localAgentProblem = "field 'local_agent_id' is missing or empty";
const cancelTaskSchema = v.pipe(
  commandObject({
    local_agent_id: v.pipe(v.string(localAgentProblem), v.minLength(1, localAgentProblem)),
  }),
  v.check(
    (f) => typeof f.task_id === "string" || optionalString(f.agent_message_id) !== null,
    "needs 'task_id' or 'agent_message_id'",
  ),
  v.transform(
    (f): CancelTaskCommand => ({
      type: "cancel_task",
      local_agent_id: f.local_agent_id,
      task_id: typeof f.task_id === "string" ? f.task_id : "",
      agent_message_id: optionalString(f.agent_message_id),
    }),
  ),
);

/** Parses one command object; a missing `type` means `user_message`. */
export function parseRelayCommand(raw: Record<string, unknown>): ParsedRelayCommand {
  const type = commandType(raw);
  switch (type) {
    case "connection_ready":
    case "heartbeat":
      return { kind: type };
    case "user_message": {
      const parsed = v.safeParse(userMessageSchema, raw);
      return parsed.success
        ? { kind: type, command: parsed.output }
        : invalid(raw, type, parsed.issues);
    }
    case "user_reply": {
      const parsed = v.safeParse(userReplySchema, raw);
      return parsed.success
        ? { kind: type, command: parsed.output }
        : invalid(raw, type, parsed.issues);
    }
    case "cancel_task": {
      const parsed = v.safeParse(cancelTaskSchema, raw);
      return parsed.success
        ? { kind: type, command: parsed.output }
        : invalid(raw, type, parsed.issues);
    }
    default:
      return { kind: "unknown", type };
  }
}

function invalid(
  raw: Record<string, unknown>,
  type: string,
  issues: readonly v.BaseIssue<unknown>[],
): ParsedRelayCommand {
  return {
    kind: "invalid",
    type,
    // The first problem, in field order: the one the relay and the log are told.
    reason: issues[0]?.message ?? "invalid command",
    roomId: optionalString(raw.room_id),
    agentMessageId: optionalString(raw.agent_message_id),
    // A reply has no user message of its own (reference §5.10).
    userMessageId: type === "user_message" ? optionalString(raw.user_message_id) : null,
    runId: optionalString(raw.run_id),
  };
}
