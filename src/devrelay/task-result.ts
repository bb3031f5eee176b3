// Pure mapping from a finished turn's published events to the A2A (v0.3-shaped) Task that
// the gateway's `message/send` returns and `message/stream` ends with.
import type { GatewaySendResponse } from "../wire/gateway.ts";
import type { PublishedEvent } from "../wire/relay.ts";

export interface TurnOutline {
  agentMessageId: string;
  roomId: string;
  /** The context id the gateway used for the turn (the agent's own wins when it sent one). */
  contextId: string;
  agentTaskId: string | null;
  agentContextId: string | null;
  events: readonly PublishedEvent[];
}

export type GatewayTask = GatewaySendResponse["result"];

interface StreamedArtifact {
  artifactId: string;
  name?: string;
  text: string;
  parts: unknown[];
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Replays `artifact_update`s: `append: false` starts an artifact's content over, `true` adds. */
export function streamedArtifacts(
  agentMessageId: string,
  events: readonly PublishedEvent[],
): StreamedArtifact[] {
  const byId = new Map<string, StreamedArtifact>();
  for (const event of events) {
    if (event.type !== "artifact_update") continue;
    const data = event.data;
    const rawArtifact = record(record(data.raw)?.artifact);
    const artifactId =
      str(data.artifact?.artifactId) ?? str(rawArtifact?.artifactId) ?? `${agentMessageId}-stream`;
    const text = str(data.text) ?? "";
    const parts = Array.isArray(data.parts) ? data.parts : [];
    let artifact = byId.get(artifactId);
    if (!artifact) {
      artifact = { artifactId, text: "", parts: [] };
      const name = str(rawArtifact?.name);
      if (name !== undefined) artifact.name = name;
      byId.set(artifactId, artifact);
    }
    if (data.append === true) {
      artifact.text += text;
      artifact.parts.push(...parts);
    } else {
      artifact.text = text;
      artifact.parts = [...parts];
    }
  }
  return [...byId.values()];
}

function lastOf<T extends PublishedEvent["type"]>(
  events: readonly PublishedEvent[],
  type: T,
): Extract<PublishedEvent, { type: T }> | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    if (event?.type === type) return event as Extract<PublishedEvent, { type: T }>;
  }
  return undefined;
}

function lastStatusText(events: readonly PublishedEvent[]): string {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    if (event?.type === "task_status" && typeof event.data.status_text === "string") {
      if (event.data.status_text !== "") return event.data.status_text;
    }
  }
  return "";
}

/**
 * The turn as an A2A Task. Text: `agent_response.content`, else the streamed artifacts'
 * text, else the last non-empty `task_status` text; a failure carries `agent_error.error`.
 */
export function taskResult(turn: TurnOutline, now: Date = new Date()): GatewayTask {
  const { events, agentMessageId } = turn;
  const terminal = lastOf(events, "processing_status");
  const response = lastOf(events, "agent_response");
  const failure = lastOf(events, "agent_error");
  const interactive = lastOf(events, "task_interactive");
  const artifacts = streamedArtifacts(agentMessageId, events);
  const streamedText = artifacts.map((artifact) => artifact.text).join("");

  let state: string;
  let text: string;
  const metadata: Record<string, unknown> = {
    agent_message_id: agentMessageId,
    room_id: turn.roomId,
    events: events.length,
  };
  switch (terminal?.data.status) {
    case "failed":
      state = "failed";
      text = str(failure?.data.error) || "Agent task failed";
      if (failure) metadata.error_type = failure.data.error_type;
      break;
    case "input_required":
      state = str(interactive?.data.state) ?? "input-required";
      text = str(interactive?.data.status_text) || lastStatusText(events) || streamedText;
      break;
    case "completed":
      state = "completed";
      text = response ? (str(response.data.content) ?? "") : streamedText || lastStatusText(events);
      break;
    default:
      state = "working";
      text = streamedText;
  }

  const outArtifacts: NonNullable<GatewayTask["artifacts"]> = artifacts.map((artifact) => ({
    artifactId: artifact.artifactId,
    ...(artifact.name === undefined ? {} : { name: artifact.name }),
    parts: [...(artifact.text ? [{ kind: "text", text: artifact.text }] : []), ...artifact.parts],
  }));
  if (response && streamedText === "") {
    const extra = Array.isArray(response.data.parts) ? response.data.parts : [];
    const content = str(response.data.content) ?? "";
    if (content || extra.length > 0) {
      outArtifacts.push({
        artifactId: `${agentMessageId}-response`,
        parts: [...(content ? [{ kind: "text", text: content }] : []), ...extra],
      });
    }
  }

  const id = turn.agentTaskId ?? agentMessageId;
  const contextId = turn.agentContextId ?? turn.contextId;
  return {
    kind: "task",
    id,
    contextId,
    status: {
      state,
      message: {
        kind: "message",
        role: "agent",
        messageId: `${agentMessageId}-status`,
        taskId: id,
        contextId,
        parts: [{ kind: "text", text }],
      },
      timestamp: now.toISOString(),
    },
    artifacts: outArtifacts,
    metadata,
  };
}
