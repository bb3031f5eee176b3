// Pure mapping from a turn's published events to the A2A (v0.3-shaped) Task that the gateway's
// `message/send` returns and `message/stream` ends with. The answer is what the room would hold
// (wire/room-answer.ts, built the way hybro.ai builds it): its artifacts with their ids, names
// and parts, and its text; a failure carries the hub's error text, a question the agent's parts.
import type { GatewaySendResponse } from "../wire/gateway.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import { RoomAnswer } from "../wire/room-answer.ts";

interface TurnOutline {
  agentMessageId: string;
  roomId: string;
  /** The context id the gateway used for the turn (the agent's own wins when it sent one). */
  contextId: string;
  agentTaskId: string | null;
  agentContextId: string | null;
  events: readonly PublishedEvent[];
}

export type GatewayTask = GatewaySendResponse["result"];

/** The room's answer after these events. */
function roomAnswer(agentMessageId: string, events: readonly PublishedEvent[]): RoomAnswer {
  const answer = new RoomAnswer(agentMessageId);
  for (const event of events) answer.apply(event);
  return answer;
}

function errorTypeOf(events: readonly PublishedEvent[]): string | undefined {
  for (const event of events) {
    if (event.type === "agent_error") return event.data.error_type;
  }
  return undefined;
}

/**
 * The turn as an A2A Task: the room's artifacts; the status message holds the room's text (a
 * completed turn), the hub's error (a failed one) or the agent's question with all its parts.
 */
export function taskResult(turn: TurnOutline, now: Date = new Date()): GatewayTask {
  const { events, agentMessageId } = turn;
  const answer = roomAnswer(agentMessageId, events);
  const metadata: Record<string, unknown> = {
    agent_message_id: agentMessageId,
    room_id: turn.roomId,
    events: events.length,
  };
  let parts: unknown[];
  switch (answer.state) {
    case "failed":
    case "canceled":
    case "rejected": {
      const errorType = errorTypeOf(events);
      if (errorType !== undefined) metadata.error_type = errorType;
      metadata.room_error = answer.publicError;
      parts = [{ kind: "text", text: answer.error ?? answer.publicError ?? "Agent task failed" }];
      break;
    }
    case "input-required":
    case "auth-required":
      parts = answer.question;
      break;
    default:
      parts = answer.text === "" ? [] : [{ kind: "text", text: answer.text }];
  }
  const id = turn.agentTaskId ?? agentMessageId;
  const contextId = turn.agentContextId ?? turn.contextId;
  return {
    kind: "task",
    id,
    contextId,
    status: {
      state: answer.state,
      message: {
        kind: "message",
        role: "agent",
        messageId: `${agentMessageId}-status`,
        taskId: id,
        contextId,
        parts,
      },
      timestamp: now.toISOString(),
    },
    artifacts: answer.artifacts.map((artifact) => ({ ...artifact })),
    metadata,
  };
}
