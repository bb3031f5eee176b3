// The dialect codec: v0.3 ⇄ v1.0 on the way out (method names, roles, parts, the blocking
// flag) and one lenient decoder on the way in that accepts either shape in every place
// (v1 wrappers or v0.3 `kind`, SCREAMING_SNAKE or lower-case enums, nested or flat file parts).

import { randomUUID } from "node:crypto";
import {
  type A2AArtifact,
  type A2AArtifactUpdate,
  type A2AMessage,
  type A2APart,
  type A2AResult,
  type A2AStatusUpdate,
  type A2AStreamEvent,
  type A2ATask,
  type A2ATaskState,
  type A2ATaskStatus,
  isRecord,
  TERMINAL_STATES,
} from "./model.ts";
import { type A2ADialect, TransportError } from "./transport.ts";

export type A2AOperation = "send" | "stream" | "get" | "cancel";

const METHODS: Record<A2ADialect, Record<A2AOperation, string>> = {
  "0.3": {
    send: "message/send",
    stream: "message/stream",
    get: "tasks/get",
    cancel: "tasks/cancel",
  },
  "1.0": {
    send: "SendMessage",
    stream: "SendStreamingMessage",
    get: "GetTask",
    cancel: "CancelTask",
  },
};

export function methodFor(dialect: A2ADialect, operation: A2AOperation): string {
  return METHODS[dialect][operation];
}

// ---------------------------------------------------------------------------------------------
// Enums

/** v1 enum numbers (ProtoJSON may send them as numbers). */
const STATE_NUMBERS = [
  "unknown",
  "submitted",
  "working",
  "completed",
  "failed",
  "canceled",
  "input-required",
  "rejected",
  "auth-required",
];

/** `TASK_STATE_INPUT_REQUIRED` / `input-required` / `cancelled` / 6 → canonical lower-case. */
export function normaliseState(value: unknown): A2ATaskState {
  if (typeof value === "number") return STATE_NUMBERS[value] ?? "unknown";
  if (typeof value !== "string" || value === "") return "unknown";
  let state = value.toLowerCase();
  if (state.startsWith("task_state_")) state = state.slice("task_state_".length);
  state = state.replaceAll("_", "-");
  if (state === "cancelled") return "canceled";
  if (state === "unspecified") return "unknown";
  return state;
}

/** `ROLE_USER` / `user` / 1 → `user`; `ROLE_AGENT` / `agent` / 2 → `agent`. */
export function normaliseRole(value: unknown): string {
  if (value === 1) return "user";
  if (value === 2) return "agent";
  if (typeof value !== "string") return "user";
  const role = value.toLowerCase();
  return role.startsWith("role_") ? role.slice("role_".length) : role;
}

function encodeRole(dialect: A2ADialect, role: string): string {
  if (dialect === "0.3") return role;
  return `ROLE_${role.toUpperCase()}`;
}

// ---------------------------------------------------------------------------------------------
// Parts

const PART_KINDS = new Set(["text", "file", "data"]);

/** Any part shape → the canonical flat part (`text` | `url` | `raw` | `data`). Never mutates. */
export function normalisePart(value: unknown): A2APart {
  if (!isRecord(value)) return { data: value };
  const part = isRecord(value["root"]) && Object.keys(value).length === 1 ? value["root"] : value;
  const kind = part["kind"] ?? (PART_KINDS.has(part["type"] as string) ? part["type"] : undefined);
  const { kind: _kind, ...rest } = part;
  if (kind !== undefined && "type" in rest && rest["type"] === kind) delete rest["type"];
  if (kind === "text" || kind === "data") return renameMimeType(rest);
  if (kind === "file" || (kind === undefined && isRecord(part["file"]) && !hasContent(part))) {
    return flattenFile(rest);
  }
  if (kind !== undefined && kind !== "") return { ...part };
  return renameMimeType(rest);
}

function normaliseParts(value: unknown): A2APart[] {
  return Array.isArray(value) ? value.map(normalisePart) : [];
}

function hasContent(part: Record<string, unknown>): boolean {
  return "text" in part || "url" in part || "raw" in part || "data" in part;
}

function renameMimeType(part: Record<string, unknown>): A2APart {
  if (!("mimeType" in part)) return part;
  const { mimeType, ...rest } = part;
  return rest["mediaType"] === undefined ? { ...rest, mediaType: mimeType } : rest;
}

/** `{file:{uri|bytes, mimeType, name}}` (also `fileWithUri`/`fileWithBytes`) → flat fields. */
function flattenFile(part: Record<string, unknown>): A2APart {
  const { file, fileWithUri, fileWithBytes, ...rest } = part;
  const inner = [file, fileWithBytes, fileWithUri, rest["data"]].find(isRecord) ?? {};
  if (inner === rest["data"]) delete rest["data"];
  const out: A2APart = { ...rest };
  const url = inner["uri"] ?? inner["url"];
  const bytes = inner["bytes"] ?? inner["raw"];
  if (url !== undefined) out["url"] = url;
  if (bytes !== undefined) out["raw"] = bytes;
  const mediaType =
    inner["mimeType"] ?? inner["mediaType"] ?? inner["mime_type"] ?? rest["mediaType"];
  if (mediaType !== undefined) out["mediaType"] = mediaType;
  const filename = inner["name"] ?? inner["filename"] ?? rest["filename"];
  if (filename !== undefined) out["filename"] = filename;
  return out;
}

/** A canonical part in the dialect's wire shape. Unknown shapes pass through. */
export function encodePart(dialect: A2ADialect, part: A2APart): Record<string, unknown> {
  if (dialect === "1.0") return part;
  const { text, url, raw, data, mediaType, filename, ...rest } = part;
  if (text !== undefined) return { kind: "text", text, ...rest };
  if (url !== undefined || raw !== undefined) {
    const file: Record<string, unknown> = url !== undefined ? { uri: url } : { bytes: raw };
    if (mediaType !== undefined) file["mimeType"] = mediaType;
    if (filename !== undefined) file["name"] = filename;
    return { kind: "file", file, ...rest };
  }
  if (data !== undefined) return { kind: "data", data, ...rest };
  return part;
}

// ---------------------------------------------------------------------------------------------
// Outbound

/**
 * A message (canonical or v0.3-shaped, as the relay often sends it) in the dialect's wire shape:
 * a copy with the role and parts re-encoded, `kind` only for v0.3, and a `messageId` always.
 */
export function encodeMessage(
  dialect: A2ADialect,
  message: Record<string, unknown>,
): Record<string, unknown> {
  const { kind: _kind, ...rest } = camelMessageKeys(message);
  const out: Record<string, unknown> = dialect === "0.3" ? { kind: "message", ...rest } : rest;
  out["role"] = encodeRole(dialect, normaliseRole(message["role"] ?? "user"));
  out["parts"] = normaliseParts(message["parts"]).map((p) => encodePart(dialect, p));
  if (typeof out["messageId"] !== "string" || out["messageId"] === "") {
    out["messageId"] = randomUUID().replaceAll("-", "");
  }
  return out;
}

/** A Python relay may send the message as `model_dump()` without aliases: snake_case ids. */
const SNAKE_MESSAGE_KEYS: Record<string, string> = {
  message_id: "messageId",
  context_id: "contextId",
  task_id: "taskId",
  reference_task_ids: "referenceTaskIds",
};

/** The message with its snake_case id fields under their camelCase names (camelCase wins). */
function camelMessageKeys(message: Record<string, unknown>): Record<string, unknown> {
  if (!Object.keys(SNAKE_MESSAGE_KEYS).some((key) => key in message)) return message;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    const camel = SNAKE_MESSAGE_KEYS[key];
    if (camel === undefined) out[key] = value;
    else if (value !== null && value !== undefined && !(camel in message)) out[camel] = value;
  }
  return out;
}

/** Params of a send (`blocking` explicit in both dialects) or of a stream (no configuration). */
export function sendParams(
  dialect: A2ADialect,
  message: Record<string, unknown>,
  mode: "blocking" | "stream",
): Record<string, unknown> {
  const params: Record<string, unknown> = { message: encodeMessage(dialect, message) };
  if (mode === "blocking") {
    params["configuration"] = dialect === "1.0" ? { returnImmediately: false } : { blocking: true };
  }
  return params;
}

// ---------------------------------------------------------------------------------------------
// Inbound

function str(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function invalid(what: string, value: unknown): TransportError {
  const shown = JSON.stringify(value)?.slice(0, 200) ?? String(value);
  return new TransportError("InvalidAgentResponse", `agent sent ${what}: ${shown}`);
}

function decodeMessage(wire: unknown): A2AMessage {
  if (!isRecord(wire)) throw invalid("a message that is not an object", wire);
  const parts = normaliseParts(wire["parts"]);
  const role = normaliseRole(wire["role"] ?? "agent");
  const raw: Record<string, unknown> = { ...wire, kind: "message", role, parts };
  return {
    kind: "message",
    role,
    messageId: str(wire["messageId"]) ?? "",
    parts,
    taskId: str(wire["taskId"] ?? wire["task_id"]),
    contextId: str(wire["contextId"] ?? wire["context_id"]),
    raw,
    wire,
  };
}

function decodeStatus(wire: unknown): { status: A2ATaskStatus; raw: unknown } {
  if (!isRecord(wire))
    return { status: { state: "unknown", message: null, timestamp: null }, raw: wire };
  const message = isRecord(wire["message"]) ? decodeMessage(wire["message"]) : null;
  const state = normaliseState(wire["state"]);
  const raw: Record<string, unknown> = { ...wire, state };
  if (message) raw["message"] = message.raw;
  return { status: { state, message, timestamp: str(wire["timestamp"]) }, raw };
}

function decodeArtifact(wire: unknown): { artifact: A2AArtifact; raw: unknown } {
  if (!isRecord(wire)) {
    return {
      artifact: { artifactId: "", name: null, description: null, metadata: null, parts: [] },
      raw: wire,
    };
  }
  const parts = normaliseParts(wire["parts"]);
  return {
    artifact: {
      artifactId: str(wire["artifactId"] ?? wire["artifact_id"]) ?? "",
      name: str(wire["name"]),
      description: str(wire["description"]),
      metadata: isRecord(wire["metadata"]) ? wire["metadata"] : null,
      parts,
    },
    raw: { ...wire, parts },
  };
}

function decodeTask(wire: unknown): A2ATask {
  if (!isRecord(wire)) throw invalid("a task that is not an object", wire);
  const id = str(wire["id"]) ?? str(wire["taskId"]);
  if (!id) throw invalid("a task without an id", wire);
  const status = decodeStatus(wire["status"]);
  const artifacts = Array.isArray(wire["artifacts"]) ? wire["artifacts"].map(decodeArtifact) : [];
  const raw: Record<string, unknown> = { ...wire, kind: "task", status: status.raw };
  if (Array.isArray(wire["artifacts"])) raw["artifacts"] = artifacts.map((a) => a.raw);
  if (Array.isArray(wire["history"])) {
    raw["history"] = wire["history"].map((m) => (isRecord(m) ? decodeMessage(m).raw : m));
  }
  return {
    kind: "task",
    id,
    contextId: str(wire["contextId"] ?? wire["context_id"]),
    status: status.status,
    artifacts: artifacts.map((a) => a.artifact),
    raw,
    wire,
  };
}

function decodeStatusUpdate(wire: Record<string, unknown>): A2AStatusUpdate {
  const status = decodeStatus(wire["status"]);
  const final =
    typeof wire["final"] === "boolean" ? wire["final"] : TERMINAL_STATES.has(status.status.state);
  return {
    kind: "status-update",
    taskId: str(wire["taskId"] ?? wire["task_id"]),
    contextId: str(wire["contextId"] ?? wire["context_id"]),
    status: status.status,
    final,
    raw: { ...wire, kind: "status-update", status: status.raw, final },
    wire,
  };
}

function decodeArtifactUpdate(wire: Record<string, unknown>): A2AArtifactUpdate {
  const artifact = decodeArtifact(wire["artifact"]);
  const append = wire["append"] === true;
  const lastChunk = (wire["lastChunk"] ?? wire["last_chunk"]) === true;
  return {
    kind: "artifact-update",
    taskId: str(wire["taskId"] ?? wire["task_id"]),
    contextId: str(wire["contextId"] ?? wire["context_id"]),
    artifact: artifact.artifact,
    append,
    lastChunk,
    raw: { ...wire, kind: "artifact-update", artifact: artifact.raw, append, lastChunk },
    wire,
  };
}

type Classified =
  | { kind: "task" | "message"; body: unknown }
  | { kind: "status-update" | "artifact-update"; body: Record<string, unknown> };

/** Which of the four payloads a result or stream event is: v1 wrapper, v0.3 `kind`, or shape. */
function classify(value: unknown): Classified | null {
  if (!isRecord(value)) return null;
  const kind = value["kind"];
  if (kind === undefined) {
    const status = value["statusUpdate"] ?? value["status_update"];
    if (isRecord(status)) return { kind: "status-update", body: status };
    const artifact = value["artifactUpdate"] ?? value["artifact_update"];
    if (isRecord(artifact)) return { kind: "artifact-update", body: artifact };
    if (isRecord(value["task"])) return { kind: "task", body: value["task"] };
    if (isRecord(value["message"]) && !("parts" in value)) {
      return { kind: "message", body: value["message"] };
    }
    // Bare objects without a discriminator (pre-spec agents, a bare v1 Task).
    if (isRecord(value["artifact"])) return { kind: "artifact-update", body: value };
    if ("status" in value && ("id" in value || "artifacts" in value)) {
      return { kind: "task", body: value };
    }
    if ("status" in value && "taskId" in value) return { kind: "status-update", body: value };
    if (Array.isArray(value["parts"])) return { kind: "message", body: value };
    return null;
  }
  if (kind === "task" || kind === "message") return { kind, body: value };
  if (kind === "status-update" || kind === "artifact-update") return { kind, body: value };
  return null;
}

/** A send result (`{task}`/`{message}` or a bare `kind` object) → task or message. */
export function decodeResult(value: unknown): A2AResult {
  const c = classify(value);
  if (c?.kind === "task") return decodeTask(c.body);
  if (c?.kind === "message") return decodeMessage(c.body);
  throw invalid("a send result that is neither a task nor a message", value);
}

/** A GetTask/CancelTask result: a bare task (a `{task}` wrapper is tolerated). */
export function decodeTaskResult(value: unknown): A2ATask {
  if (isRecord(value) && isRecord(value["task"]) && !("id" in value)) {
    return decodeTask(value["task"]);
  }
  return decodeTask(value);
}

/** One stream event's payload → a normalised event, or null when it is none of the four. */
export function decodeStreamEvent(value: unknown): A2AStreamEvent | null {
  const c = classify(value);
  if (!c) return null;
  switch (c.kind) {
    case "task":
      return decodeTask(c.body);
    case "message":
      return decodeMessage(c.body);
    case "status-update":
      return decodeStatusUpdate(c.body);
    case "artifact-update":
      return decodeArtifactUpdate(c.body);
  }
}
