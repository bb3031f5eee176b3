// The hub's one internal A2A model, whatever dialect the agent speaks: v1.0-style flattened
// parts, lower-case states and roles. Every object keeps `raw`, its normalised JSON (unknown
// fields kept; what the relay receives as `raw`), and `wire`, the JSON exactly as it arrived.

import type { TaskState } from "../wire/relay.ts";

/** Lower-case task state (`input-required`, `canceled`, …); unknown values pass through. */
export type A2ATaskState = TaskState | (string & {});

/**
 * A canonical part: exactly one of `text` | `url` | `raw` (base64) | `data`, plus optional
 * `mediaType`, `filename`, `metadata`. Unknown part shapes pass through unchanged.
 */
export type A2APart = Record<string, unknown>;

export interface A2AMessage {
  kind: "message";
  role: string;
  messageId: string;
  parts: A2APart[];
  taskId: string | null;
  contextId: string | null;
  raw: Record<string, unknown>;
  wire: unknown;
}

export interface A2ATaskStatus {
  state: A2ATaskState;
  message: A2AMessage | null;
  timestamp: string | null;
}

export interface A2AArtifact {
  /** "" when the agent gave none. */
  artifactId: string;
  name: string | null;
  description: string | null;
  metadata: Record<string, unknown> | null;
  parts: A2APart[];
}

export interface A2ATask {
  kind: "task";
  id: string;
  contextId: string | null;
  status: A2ATaskStatus;
  artifacts: A2AArtifact[];
  raw: Record<string, unknown>;
  wire: unknown;
}

export interface A2AStatusUpdate {
  kind: "status-update";
  taskId: string | null;
  contextId: string | null;
  status: A2ATaskStatus;
  /** As sent (v0.3), else computed: true only for terminal states (v1 has no `final`). */
  final: boolean;
  raw: Record<string, unknown>;
  wire: unknown;
}

export interface A2AArtifactUpdate {
  kind: "artifact-update";
  taskId: string | null;
  contextId: string | null;
  artifact: A2AArtifact;
  append: boolean;
  lastChunk: boolean;
  raw: Record<string, unknown>;
  wire: unknown;
}

/** What a send returns: a task, or (for simple agents) a direct message. */
export type A2AResult = A2ATask | A2AMessage;

/** One event of a streaming send, in the order the agent produced it. */
export type A2AStreamEvent = A2ATask | A2AMessage | A2AStatusUpdate | A2AArtifactUpdate;

/** The agent is still on it: follow the task. */
export const ACTIVE_STATES: ReadonlySet<string> = new Set(["submitted", "working"]);
/** The task is over (`expired` is hybro.ai's own). */
export const TERMINAL_STATES: ReadonlySet<string> = new Set([
  "completed",
  "canceled",
  "failed",
  "rejected",
  "expired",
]);
/** The task waits for someone (`policy-required` is hybro.ai's own). */
export const INTERRUPTED_STATES: ReadonlySet<string> = new Set([
  "input-required",
  "auth-required",
  "policy-required",
]);

/** Terminal or interrupted: the turn is over for now. `unknown` and unknown names are not. */
export function isTurnEndingState(state: string | null | undefined): boolean {
  return state != null && (TERMINAL_STATES.has(state) || INTERRUPTED_STATES.has(state));
}

// ---------------------------------------------------------------------------------------------
// Content helpers (pure)

/** A part's text if it is a text part (also inside a `{root: …}` wrapper), else null. */
export function partText(part: unknown): string | null {
  if (!isRecord(part)) return null;
  const inner = isRecord(part["root"]) ? part["root"] : part;
  if (typeof inner["text"] === "string") {
    const kind = inner["kind"] ?? inner["type"];
    if (kind === undefined || kind === "text") return inner["text"];
  }
  return null;
}

/** All text parts joined with no separator (as agents split one answer across parts). */
export function textOfParts(parts: readonly unknown[] | null | undefined): string {
  if (!parts) return "";
  let out = "";
  for (const part of parts) {
    const text = partText(part);
    if (text !== null) out += text;
  }
  return out;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
