// Every event the hub can make, for every A2A state and every way a turn can fail, read by the
// relay's own publish schema (the development relay's, as strict as hybro.ai's door and
// stricter on data): one of the 7 types, with the task id it was made with, accepted once the
// publisher has given it its response_seq. Pure: no I/O.
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { decodeStreamEvent, decodeTaskResult } from "../../src/a2a/dialect.ts";
import { publishBody } from "../../src/devrelay/schemas.ts";
import { failureGroup, newHubTaskId, TurnMapper, taskSubmitted } from "../../src/hub/mapping.ts";
import { HUB_RESTARTED } from "../../src/hub/recovery.ts";
import { ResponseSequence, stampEvent } from "../../src/outbox/response-seq.ts";
import { PUBLISHED_EVENT_TYPES, type PublishedEvent } from "../../src/wire/relay.ts";

const STATES = [
  "submitted",
  "working",
  "input-required",
  "auth-required",
  "completed",
  "canceled",
  "failed",
  "rejected",
  "unknown",
];

function ids(userMessageId: string | null = "umsg-1") {
  return { agentMessageId: "amsg-1", userMessageId, hubTaskId: newHubTaskId(), runId: "run-1" };
}

/** Every event of every path the mapper and the hub's failure answers have. */
/** The `error_type` values the hub writes itself (transport errors add their own names). */
const ERROR_TYPES = [
  "InvalidEvent",
  "AgentNotFound",
  "AgentTaskFailed",
  "PollingTimeout",
  "A2AVersionFallback",
  "AgentExited",
  "HubShutdown",
  "TurnTimeout",
  "Canceled",
  "ConnectError",
  "ReadTimeout",
  "InvalidAgentResponse",
  "IncompleteStream",
  "AnswerTooLarge",
];

function everyEvent(): PublishedEvent[] {
  const out: PublishedEvent[] = [taskSubmitted(ids(), "Agent")];
  for (const state of STATES) {
    // A blocking result in this state.
    const blocking = new TurnMapper({ ...ids(), localAgentId: "a" });
    blocking.onResult(
      decodeTaskResult({
        id: "t",
        contextId: "c",
        status: { state, message: { role: "agent", parts: [{ kind: "text", text: "why" }] } },
        artifacts: [{ artifactId: "x", parts: [{ kind: "file", file: { uri: "https://f" } }] }],
      }),
    );
    out.push(...blocking.terminal());
    // A stream through this state: a message, a status, an artifact, then the end.
    const streamed = new TurnMapper({ ...ids(null), localAgentId: "a" });
    for (const wire of [
      { kind: "message", role: "agent", messageId: "m", parts: [{ kind: "text", text: "hi" }] },
      { kind: "status-update", taskId: "t", contextId: "c", status: { state }, final: false },
      {
        kind: "artifact-update",
        taskId: "t",
        contextId: "c",
        artifact: { artifactId: "a1", parts: [{ kind: "data", data: { n: 1 } }] },
        append: true,
        lastChunk: true,
      },
    ]) {
      const event = decodeStreamEvent(wire);
      if (event) out.push(...streamed.onStreamEvent(event));
    }
    out.push(...streamed.terminal());
  }
  for (const errorType of [...ERROR_TYPES, HUB_RESTARTED, "JsonRpcError", ""]) {
    out.push(...failureGroup(ids(), errorType, errorType === "" ? "" : `failed: ${errorType}`));
  }
  return out;
}

describe("every event the hub can produce", () => {
  it("is one of the 7 types the relay accepts, carries a task id, and passes its schema once stamped", () => {
    const events = everyEvent();
    const sequence = new ResponseSequence();
    const stamped = events.map((event) => stampEvent(event, sequence));
    for (const event of events) {
      expect(PUBLISHED_EVENT_TYPES).toContain(event.type);
      expect(typeof event.data.task_id).toBe("string");
      expect(event.data.task_id).not.toBe("");
      expect(event.data.run_id).toBe("run-1");
    }
    const parsed = v.safeParse(publishBody, { room_id: "room", events: stamped });
    expect(parsed.issues ?? []).toEqual([]);
    expect(new Set(events.map((event) => event.type)).size).toBe(PUBLISHED_EVENT_TYPES.length);
  });

  it("every processing_status names the turn's own user message (or none for a reply)", () => {
    for (const event of everyEvent()) {
      if (event.type !== "processing_status") continue;
      expect([null, "umsg-1"]).toContain(event.data.user_message_id);
    }
  });
});
