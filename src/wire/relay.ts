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

export interface TaskSubmittedData {
  task_id: string;
  agent_name: string;
}
export interface TaskStatusData {
  state: string;
  status_text: string;
  final: boolean;
  task_id: string | null;
  context_id: string | null;
  raw: unknown;
}
export interface ArtifactUpdateData {
  raw: unknown;
  text: string;
  parts: unknown[];
  append: boolean;
  last_chunk: boolean;
  /** Present when the chunk came from a streamed Message (artifact id `<agent_message_id>-stream`). */
  artifact?: { artifactId: string; parts: unknown[] };
}
export interface AgentResponseData {
  content: string;
  agent_id: string;
  parts?: unknown[];
}
export interface AgentErrorData {
  error: string;
  error_type: string;
  task_state?: string;
}
export interface TaskInteractiveData {
  state: "input-required" | "auth-required";
  task_id: string | null;
  context_id: string | null;
  status_text: string;
}
export type ProcessingStatus = "completed" | "failed" | "input_required";
export interface ProcessingStatusData {
  status: ProcessingStatus;
  user_message_id: string | null;
}

interface EventOf<T extends string, D> {
  type: T;
  agent_message_id: string;
  data: D;
  /** Ours, stable across retries so a relay can drop duplicates; hybro.ai ignores it. */
  event_id?: string;
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

/** `error_type` values the relay knows, plus ours. Transport errors use their own names. */
export const ErrorTypes = {
  InvalidEvent: "InvalidEvent",
  AgentNotFound: "AgentNotFound",
  AgentTaskFailed: "AgentTaskFailed",
  PollingTimeout: "PollingTimeout",
  A2AVersionFallback: "A2AVersionFallback",
  AgentExited: "AgentExited",
  HubRestarted: "HubRestarted",
  HubShutdown: "HubShutdown",
  TurnTimeout: "TurnTimeout",
  Canceled: "Canceled",
  ConnectError: "ConnectError",
  ReadTimeout: "ReadTimeout",
} as const;

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
  // development relay: register of another user's hub_id (409), bad path (400), long path (414),
  // unreadable request (400)
  | "hub_id_conflict"
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
