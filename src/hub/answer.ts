// The answer a turn's published events carry, as a person reads it: what the room holds once
// the events are applied the relay's way (wire/room-answer.ts): the artifacts' parts in order
// (text as it is, a file by its name, data as compact JSON), else the agent's question when the
// turn waits for input. Pure; takes events as published or as parsed JSON (anything else is
// skipped).

import type { PublishedEvent } from "../wire/relay.ts";
import { describeRelayPart, RoomAnswer } from "../wire/room-answer.ts";

export function answerText(events: readonly unknown[]): string | null {
  let room: RoomAnswer | null = null;
  for (const event of events) {
    if (!isRecord(event) || typeof event.type !== "string" || !isRecord(event.data)) continue;
    room ??= new RoomAnswer(String(event.agent_message_id ?? ""));
    room.apply(event as unknown as PublishedEvent);
  }
  if (!room) return null;
  if (room.state === "input-required" || room.state === "auth-required") {
    return room.question.map(describeRelayPart).join("") || null;
  }
  const artifacts = room.artifacts;
  if (artifacts.length === 0) return null;
  return artifacts.map((artifact) => artifact.parts.map(describeRelayPart).join("")).join("\n");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
