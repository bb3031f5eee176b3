// The relay wire contract (../shared/spec/relay-wire.md), shared by the hub, the development
// relay and the SDK. Types only, plus the few pure helpers every side needs.

/** Base path of every hub-facing relay call. */
export const HUB_API_PREFIX = "/api/v1/relay/hub";

// ---------------------------------------------------------------------------------------------
// 1. Hub → relay calls

export interface RegisterRequest {
  hub_id: string;
}
export interface RegisterResponse {
  hub_id: string;
  user_id: string;
}

/** One element of `agents/sync`: exactly these five fields. */
export interface SyncAgent {
  local_agent_id: string;
  name: string;
  description: string;
  /** `"streaming"`, `"push_notifications"`, then every skill tag. */
  capabilities: string[];
  /** The card JSON as the agent serves it. */
  agent_card: Record<string, unknown>;
}
export interface SyncRequest {
  agents: SyncAgent[];
  prune_missing: boolean;
}
export interface SyncResponse {
  synced: Array<{ agent_id: string; local_agent_id: string }>;
}

export interface PublishRequest {
  room_id: string;
  events: PublishedEvent[];
}

export interface HubStatus {
  hub_id: string;
  is_online: boolean;
  agent_count: number;
  active_agent_count: number;
  inactive_agent_count: number;
}
export interface HubStatusResponse {
  hubs: HubStatus[];
}

// ---------------------------------------------------------------------------------------------
// 2. Relay → hub: the SSE command stream (`data:` is one JSON object; `type` says its kind)

export interface ConnectionReadyCommand {
  type: "connection_ready";
}
export interface HeartbeatCommand {
  type: "heartbeat";
}
export interface UserMessageCommand {
  /** A missing `type` means `user_message`. */
  type?: "user_message";
  room_id: string;
  local_agent_id: string;
  agent_message_id: string;
  user_message_id?: string | null;
  /** The relay's run this turn belongs to; echoed in every event of the turn. */
  run_id?: string | null;
  /** The cloud's id of the agent (the hub routes by `local_agent_id`). */
  agent_id?: string | null;
  /**
   * The relay's own placeholder for the turn's task (`relay-pending-…`): never an agent task id,
   * never passed to the agent.
   */
  task_id?: string | null;
  /** An A2A Message, often v0.3-shaped (with `kind`). */
  message: Record<string, unknown>;
}
export interface UserReplyCommand {
  type: "user_reply";
  room_id: string;
  local_agent_id: string;
  agent_message_id: string;
  reply_text: string;
  task_id?: string | null;
  context_id?: string | null;
}
export interface CancelTaskCommand {
  type: "cancel_task";
  local_agent_id: string;
  task_id: string;
  agent_message_id?: string | null;
}
export type RelayCommand =
  | ConnectionReadyCommand
  | HeartbeatCommand
  | UserMessageCommand
  | UserReplyCommand
  | CancelTaskCommand;

export type RelayCommandType =
  | "connection_ready"
  | "heartbeat"
  | "user_message"
  | "user_reply"
  | "cancel_task";

// ---------------------------------------------------------------------------------------------
// 3. Hub → relay: published events

export type TaskState =
  | "submitted"
  | "working"
  | "input-required"
  | "auth-required"
  | "completed"
  | "canceled"
  | "failed"
  | "rejected"
  | "unknown";

/**
 * What every published event's `data` carries besides its own fields (relay-wire.md sections 4
 * and 6). The relay drops a retried event by `hub-response:{hub_id}:{task_id}:{response_seq}`,
 * so both are fixed before the first send and kept with the event in the outbox.
 */
export interface EventStamp {
  /** The agent's task id once known, else the hub's own task id for the turn; never left out. */
  task_id: string;
  /**
   * Hub-wide increasing number given when the event is queued (src/outbox/response-seq.ts): the
   * pair (task_id, response_seq) never repeats, also across turns continuing one agent task.
   */
  response_seq?: number;
  /** The relay's `run_id` from the turn's `user_message`, when it sent one. */
  run_id?: string;
}

/**
 * A part as the relay stores it (its A2A v0.3 model, `common/types.py` of hybroai/hybro): `kind`
 * says which; a file has exactly one of `bytes` (base64) and `uri`; a data part's `data` is a JSON
 * object. Unknown shapes pass through.
 */
export type RelayPart =
  | { kind: "text"; text: string; metadata?: Record<string, unknown> }
  | {
      kind: "file";
      file: { name?: string; mimeType?: string; bytes?: string; uri?: string };
      metadata?: Record<string, unknown>;
    }
  | { kind: "data"; data: Record<string, unknown>; metadata?: Record<string, unknown> };

/** An artifact as the relay stores it: its id (the key `append` works on), name and parts. */
export interface RelayArtifact {
  artifactId: string;
  name?: string;
  description?: string;
  metadata?: Record<string, unknown>;
  parts: RelayPart[];
}

/** An A2A v0.3 TaskStatus (the relay's model): the agent's own question, with its parts and metadata. */
export interface RelayTaskStatus {
  state: string;
  message?: {
    kind: "message";
    role: "agent" | "user";
    messageId: string;
    parts: RelayPart[];
    metadata?: Record<string, unknown>;
    taskId?: string;
    contextId?: string;
  };
  timestamp?: string;
}

export interface TaskSubmittedData extends EventStamp {
  agent_name: string;
}
/** A state change that does not end the turn (submitted, working); the room shows no text for it. */
export interface TaskStatusData extends EventStamp {
  state: string;
  status_text: string;
  final: boolean;
  context_id?: string | null;
}
/**
 * Content, exactly once: the relay builds the room's artifact from `data.artifacts` (then
 * `data.raw.artifact`, then `data.artifact`), joining by `artifactId`: `append: true` adds the
 * parts to the artifact of that id, `false` replaces it (hub_publish.py, response_handler.py).
 */
export interface ArtifactUpdateData extends EventStamp {
  artifacts: RelayArtifact[];
  append: boolean;
  last_chunk: boolean;
  context_id?: string | null;
}
/**
 * The end of a completed turn. The answer itself was sent by `artifact_update`s; `artifacts` names
 * each of them with no parts (`append: true`), so the relay projects the room's answer (text and
 * artifacts) from what it stored. `content` stays empty: the relay reads it only when neither
 * `artifacts` nor `parts` is given.
 */
export interface AgentResponseData extends EventStamp {
  content: string;
  agent_id: string;
  artifacts?: RelayArtifact[];
  append?: boolean;
  context_id?: string | null;
}
export interface AgentErrorData extends EventStamp {
  error: string;
  error_type: string;
  /** How the agent's task ended, as the relay reads it (it knows only these three). */
  state: "failed" | "canceled" | "rejected";
  context_id?: string | null;
}
export interface TaskInteractiveData extends EventStamp {
  state: "input-required" | "auth-required";
  context_id: string | null;
  /**
   * The agent's status as it gave it: its question's parts (text, data, files) and its metadata
   * (`hybro.ai/a2a/interaction`); the relay reads the prompt from here.
   */
  status: RelayTaskStatus;
}
/** How the turn ended, for the room; the relay reads `input_required` as `awaiting_input`. */
export type ProcessingStatus = "completed" | "failed" | "canceled" | "rejected" | "input_required";
export interface ProcessingStatusData extends EventStamp {
  status: ProcessingStatus;
  /** Always the turn's own `user_message_id` (null for a reply): any other is dropped by the relay. */
  user_message_id: string | null;
}

interface EventOf<T extends string, D> {
  type: T;
  agent_message_id: string;
  data: D;
}
export type TaskSubmittedEvent = EventOf<"task_submitted", TaskSubmittedData>;
export type TaskStatusEvent = EventOf<"task_status", TaskStatusData>;
export type ArtifactUpdateEvent = EventOf<"artifact_update", ArtifactUpdateData>;
export type AgentResponseEvent = EventOf<"agent_response", AgentResponseData>;
export type AgentErrorEvent = EventOf<"agent_error", AgentErrorData>;
export type TaskInteractiveEvent = EventOf<"task_interactive", TaskInteractiveData>;
export type ProcessingStatusEvent = EventOf<"processing_status", ProcessingStatusData>;

export type PublishedEvent =
  | TaskSubmittedEvent
  | TaskStatusEvent
  | ArtifactUpdateEvent
  | AgentResponseEvent
  | AgentErrorEvent
  | TaskInteractiveEvent
  | ProcessingStatusEvent;

export type PublishedEventType = PublishedEvent["type"];

/** The only `type` values the relay accepts; any other makes it refuse the whole POST (422). */
export const PUBLISHED_EVENT_TYPES: readonly PublishedEventType[] = [
  "task_submitted",
  "agent_response",
  "agent_error",
  "processing_status",
  "artifact_update",
  "task_status",
  "task_interactive",
];

/** The relay's idempotency key of an event (relay-wire.md section 6); null when it has none. */
export function responseKey(hubId: string, taskId: unknown, responseSeq: unknown): string | null {
  if (!hubId || typeof taskId !== "string" || taskId === "") return null;
  if (responseSeq === undefined || responseSeq === null) return null;
  return `hub-response:${hubId}:${taskId}:${String(responseSeq)}`;
}

/**
 * A task id the relay made up for a turn it has not heard the agent's task id for yet
 * (`relay-pending-…`, and the other provisional forms the relay refuses as authoritative):
 * never an agent's task id.
 */
export function isPlaceholderTaskId(taskId: string): boolean {
  const normalised = taskId.trim().toLowerCase();
  return (
    normalised === "" ||
    normalised === "pending" ||
    normalised === "provisional" ||
    normalised === "unknown" ||
    /^(relay-pending-|pending-|provisional-)/.test(normalised)
  );
}

/** True for the event that closes every turn. */
export function isTerminalEvent(event: PublishedEvent): event is ProcessingStatusEvent {
  return event.type === "processing_status";
}

// ---------------------------------------------------------------------------------------------
// Error bodies: {"detail": {"error": "<code>", "message": "…", …}}

export type RelayErrorCode =
  | "invalid_api_key"
  | "expired_api_key"
  | "revoked_api_key"
  | "missing_api_key"
  | "insufficient_scope"
  | "not_found"
  | "validation_error"
  | "invalid_json"
  | "payload_too_large"
  | "rate_limit_exceeded"
  | "method_not_allowed"
  | "agent_unavailable"
  | "agent_timeout"
  | "hub_offline"
  | "internal_error"
  // development relay: hybro.ai's plain-text refusals of a foreign hub or room (403/404), bad
  // path (400), long path (414), unreadable request (400)
  | "unknown_hub"
  | "hub_not_owned"
  | "room_not_found"
  | "room_owner_mismatch"
  | "invalid_path"
  | "uri_too_long"
  | "invalid_request";

export interface RelayErrorDetail {
  error: RelayErrorCode | string;
  message: string;
  [extra: string]: unknown;
}
export interface RelayErrorBody {
  detail: RelayErrorDetail;
}
