// Published events as the hub makes them now, for tests that need a few by hand.
import type { ArtifactUpdateEvent, PublishedEvent } from "../../src/wire/relay.ts";
import { RoomAnswer, textOfRelayParts } from "../../src/wire/room-answer.ts";

/** A streamed text chunk: the artifact `<amid>-stream`, appended to. */
export function textChunk(
  agentMessageId: string,
  text: string,
  data: Record<string, unknown> = {},
): ArtifactUpdateEvent {
  return {
    type: "artifact_update",
    agent_message_id: agentMessageId,
    data: {
      artifacts: [{ artifactId: `${agentMessageId}-stream`, parts: [{ kind: "text", text }] }],
      append: true,
      last_chunk: false,
      task_id: "task-1",
      ...data,
    },
  } as ArtifactUpdateEvent;
}

/** The text an `artifact_update` carries (all its artifacts' text parts), else "". */
export function chunkText(event: PublishedEvent | { type: string } | undefined): string {
  if (event?.type !== "artifact_update") return "";
  const data = (event as PublishedEvent).data as { artifacts?: Array<{ parts?: unknown[] }> };
  const artifacts = data.artifacts ?? [];
  return artifacts.map((artifact) => textOfRelayParts(artifact.parts)).join("");
}

/** What the room would hold after these events (built as hybro.ai builds it). */
export function roomOf(events: readonly PublishedEvent[]): RoomAnswer {
  const answer = new RoomAnswer(events[0]?.agent_message_id ?? "");
  for (const event of events) answer.apply(event);
  return answer;
}
