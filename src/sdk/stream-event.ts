// One SSE `data:` of a Gateway stream → a typed relay event (relay-wire.md section 3).
import type { PublishedEvent, PublishedEventType } from "../wire/relay.ts";

/** Something the stream sent that is not a relay event; kept so nothing is silently lost. */
export interface UnrecognizedStreamEvent {
  type: "unrecognized";
  /** The parsed JSON, or the text when it was not JSON. */
  raw: unknown;
}

/** What `HybroGateway.stream()` yields: the relay events of one turn, in order. */
export type GatewayStreamEvent = PublishedEvent | UnrecognizedStreamEvent;

const EVENT_TYPES: ReadonlySet<string> = new Set<PublishedEventType>([
  "task_submitted",
  "task_status",
  "artifact_update",
  "agent_response",
  "agent_error",
  "task_interactive",
  "processing_status",
]);

/** The event in one SSE data field, or null for an empty one (keep-alives). */
export function parseStreamEvent(data: string): GatewayStreamEvent | null {
  if (data.trim() === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { type: "unrecognized", raw: data };
  }
  if (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { type?: unknown }).type === "string" &&
    EVENT_TYPES.has((value as { type: string }).type)
  ) {
    const event = value as { data?: unknown };
    if (typeof event.data !== "object" || event.data === null) event.data = {};
    return value as PublishedEvent;
  }
  return { type: "unrecognized", raw: value };
}

/** True for `processing_status`, the event that closes every turn. */
export function isTerminalStreamEvent(event: GatewayStreamEvent): boolean {
  return event.type === "processing_status";
}
