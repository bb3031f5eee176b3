// The per-turn guard on the events the hub's own mapping makes (src/hub/mapping.ts): every text
// the hub would publish is covered, ids are not touched, held text goes out before the turn's
// end, the room ends up with the same artifacts in the same order, and a block leaves only the
// turn's failure. What the room holds is read through RoomAnswer (the relay's reading).
import { describe, expect, it } from "vitest";
import type { A2AArtifactUpdate, A2AMessage, A2AStatusUpdate } from "../../src/a2a/model.ts";
import { TurnMapper } from "../../src/hub/mapping.ts";
import { compilePolicy } from "../../src/privacy/policy.ts";
import { type GuardStep, POLICY_BLOCKED, TurnGuard } from "../../src/privacy/turn-guard.ts";
import type { ArtifactUpdateEvent, PublishedEvent, RelayArtifact } from "../../src/wire/relay.ts";
import { RoomAnswer } from "../../src/wire/room-answer.ts";
import { fakeKey } from "./support.ts";

const KEY = fakeKey("ghp_", 36);
const policy = compilePolicy([
  {
    secrets: "redact",
    personal: "redact",
    custom: [{ name: "codename", keywords: ["titan"], action: "block" }],
  },
]);

function newTurn() {
  const mapper = new TurnMapper({
    agentMessageId: "amsg-1",
    userMessageId: "umsg-1",
    hubTaskId: "hubtask0000",
    runId: "run-1",
    localAgentId: "agent-1",
  });
  const guard = new TurnGuard(policy);
  const published: PublishedEvent[] = [];
  const steps: GuardStep[] = [];
  const send = (events: PublishedEvent[]) => {
    for (const event of events) {
      const step = guard.inspect(event);
      steps.push(step);
      published.push(...step.publish.map((p) => p.event));
    }
  };
  const room = () => {
    const answer = new RoomAnswer("amsg-1");
    for (const event of published) answer.apply(event);
    return answer;
  };
  return { mapper, guard, published, steps, send, room };
}

function message(
  text: string,
  options: { taskId?: string; role?: string; parts?: Array<Record<string, unknown>> } = {},
): A2AMessage {
  const parts = options.parts ?? [{ kind: "text", text }];
  const raw = { kind: "message", role: options.role ?? "agent", messageId: "m1", parts };
  return {
    kind: "message",
    role: options.role ?? "agent",
    messageId: "m1",
    parts,
    taskId: options.taskId ?? "555-123-4567",
    contextId: "ctx-bob@example.com",
    raw,
    wire: raw,
  };
}

function artifact(
  parts: Array<Record<string, unknown>>,
  options: { append?: boolean; last?: boolean; id?: string; name?: string } = {},
): A2AArtifactUpdate {
  const art = {
    artifactId: options.id ?? "art-1",
    name: options.name ?? null,
    description: null,
    metadata: null,
    parts,
  };
  const raw = { kind: "artifact-update", taskId: "t1", contextId: "c1", artifact: art };
  return {
    kind: "artifact-update",
    taskId: "t1",
    contextId: "c1",
    artifact: art,
    append: options.append ?? true,
    lastChunk: options.last ?? false,
    raw,
    wire: raw,
  };
}

function status(state: string, said: A2AMessage | null, final = false): A2AStatusUpdate {
  return {
    kind: "status-update",
    taskId: "t1",
    contextId: "c1",
    status: { state, message: said, timestamp: null },
    final,
    raw: { kind: "status-update" },
    wire: null,
  };
}

const json = (events: PublishedEvent[]) => JSON.stringify(events);
const updates = (events: PublishedEvent[]) =>
  events.filter((e): e is ArtifactUpdateEvent => e.type === "artifact_update");
const artifactOf = (event: PublishedEvent | undefined) =>
  (event as ArtifactUpdateEvent).data.artifacts[0] as RelayArtifact;
/** The text parts of each published artifact_update, joined per event. */
const chunkTexts = (events: PublishedEvent[]) =>
  updates(events).map((e) =>
    artifactOf(e)
      .parts.map((p) => ("text" in p ? p.text : "|"))
      .join(""),
  );

describe("streamed output", () => {
  it("a key split over two streamed messages never leaves; the room reads the text with a placeholder", () => {
    const { mapper, published, send, room } = newTurn();
    send(mapper.onStreamEvent(message(`Your token is ${KEY.slice(0, 12)}`)));
    send(mapper.onStreamEvent(message(`${KEY.slice(12)} — keep it safe.`)));
    send(mapper.onStreamEvent(status("completed", null, true)));
    send(mapper.terminal());
    const out = json(published);
    expect(out).not.toContain(KEY.slice(0, 12));
    expect(out).not.toContain(KEY.slice(12));
    expect(chunkTexts(published).join("")).toBe("Your token is [redacted:api_key] — keep it safe.");
    expect(room().text).toBe("Your token is [redacted:api_key] — keep it safe.");
    expect(published.at(-1)?.type).toBe("processing_status");
    // Ids are never touched, even when they look like a phone number or an address.
    expect(out).toContain('"task_id":"555-123-4567"');
    expect(out).toContain("ctx-bob@example.com");
  });

  it("held text goes out before the turn's end, as an appended chunk of the same artifact", () => {
    const { mapper, published, send, steps, room } = newTurn();
    send(
      mapper.onStreamEvent(
        artifact([{ kind: "text", text: "The answer is forty" }], { append: false }),
      ),
    );
    send(mapper.onStreamEvent(artifact([{ kind: "text", text: "-two" }])));
    expect(chunkTexts(published)).toEqual(["The answer is "]);
    send(mapper.onStreamEvent(status("completed", null, true)));
    send(mapper.terminal());
    expect(published.map((e) => e.type)).toEqual([
      "artifact_update",
      "artifact_update",
      "agent_response",
      "processing_status",
    ]);
    const tail = published[1] as ArtifactUpdateEvent;
    expect(tail.data).toMatchObject({ append: true, last_chunk: false, task_id: "t1" });
    expect(tail.data.artifacts).toEqual([
      { artifactId: "art-1", parts: [{ kind: "text", text: "forty-two" }] },
    ]);
    expect(tail.data).not.toHaveProperty("response_seq");
    // The closing event that released it comes in the same step, after it.
    expect(steps.at(-2)?.publish.map((p) => p.event.type)).toEqual([
      "artifact_update",
      "agent_response",
    ]);
    expect(room().text).toBe("The answer is forty-two");
  });

  it("a chunk whose text all waits is not published on its own", () => {
    const { mapper, published, send } = newTurn();
    send(mapper.onStreamEvent(message("Here: ")));
    send(mapper.onStreamEvent(message(KEY.slice(0, 8))));
    expect(published).toHaveLength(1);
    send(mapper.onStreamEvent(message(`${KEY.slice(8)}. `)));
    expect(chunkTexts(published)).toEqual(["Here: ", "[redacted:api_key]. "]);
  });

  it("a replacing chunk (append false) drops the text held from the one it replaces", () => {
    const { mapper, published, send, room } = newTurn();
    send(
      mapper.onStreamEvent(artifact([{ kind: "text", text: "Draft: unfinis" }], { append: false })),
    );
    send(
      mapper.onStreamEvent(artifact([{ kind: "text", text: "Final answer." }], { append: false })),
    );
    send(mapper.onStreamEvent(status("completed", null, true)));
    send(mapper.terminal());
    expect(chunkTexts(published)).toEqual(["Draft: ", "Final ", "answer."]);
    expect(updates(published).map((e) => e.data.append)).toEqual([false, false, true]);
    expect(room().text).toBe("Final answer.");
  });

  it("what a chunk that all waited carried (its name, append false) goes with the artifact's next event, before later artifacts", () => {
    const { mapper, published, send, room } = newTurn();
    send(
      mapper.onStreamEvent(
        artifact([{ kind: "text", text: "Done." }], { append: false, name: "answer" }),
      ),
    );
    expect(published).toEqual([]);
    // The closing message becomes the hub's `-status` artifact: the held one goes out first.
    send(mapper.onStreamEvent(status("completed", message("Saved 2 files."), true)));
    send(mapper.terminal());
    const [first, second] = updates(published);
    expect(first?.data.append).toBe(false);
    expect(artifactOf(first)).toEqual({
      name: "answer",
      artifactId: "art-1",
      parts: [{ kind: "text", text: "Done." }],
    });
    expect(artifactOf(second).artifactId).toBe("amsg-1-status");
    expect(room().artifacts.map((a) => [a.artifactId, a.name])).toEqual([
      ["art-1", "answer"],
      ["amsg-1-status", "status"],
    ]);
    expect(room().text).toBe("Done.Saved 2 files.");
  });

  it("the text parts of an artifact are one text; a file part releases what waits before it", () => {
    const { mapper, published, send, room } = newTurn();
    send(
      mapper.onStreamEvent(
        artifact(
          [
            { kind: "text", text: "key: " },
            { kind: "text", text: KEY.slice(0, 20) },
          ],
          { append: false },
        ),
      ),
    );
    send(mapper.onStreamEvent(artifact([{ kind: "text", text: `${KEY.slice(20)}, see the rep` }])));
    const file = { filename: "report.pdf", mediaType: "application/pdf", raw: "JVBERi0=" };
    send(
      mapper.onStreamEvent(
        artifact([file, { kind: "text", text: "ort attached. Totals" }, { data: { rows: 3 } }]),
      ),
    );
    send(mapper.onStreamEvent(artifact([], { last: true })));
    expect(json(published)).not.toContain(KEY.slice(0, 20));
    // Text that a file or data part follows waits for nothing ("Totals" goes out whole).
    expect(chunkTexts(published)).toEqual([
      "key: ",
      "[redacted:api_key], see the ",
      "rep|ort attached. Totals|",
      "",
    ]);
    // The room keeps the file and the data where the agent put them, and the whole text.
    expect(room().artifacts[0]?.parts.map((p) => p.kind)).toEqual([
      "text",
      "text",
      "text",
      "file",
      "text",
      "data",
    ]);
    expect(room().text).toBe("key: [redacted:api_key], see the report attached. Totals");
  });
});

describe("held text is never lost", () => {
  it("a tail released at the turn's end counts its findings once", () => {
    const { mapper, send, steps } = newTurn();
    send(mapper.onStreamEvent(message("write to bob@example.com")));
    send(mapper.onStreamEvent(status("completed", null, true)));
    send(mapper.terminal());
    const tail = steps.at(-2)?.publish[0];
    expect(artifactOf(tail?.event).parts).toEqual([{ kind: "text", text: "[redacted:email]" }]);
    expect(tail?.detections).toEqual([
      { kind: "email", rule: "email", action: "redact", count: 1 },
    ]);
  });

  it("an artifact's last chunk without a text part still releases what was held", () => {
    const { mapper, published, send } = newTurn();
    send(mapper.onStreamEvent(artifact([{ kind: "text", text: "Hello wor" }], { append: false })));
    send(mapper.onStreamEvent(artifact([], { last: true })));
    expect(chunkTexts(published)).toEqual(["Hello ", "wor"]);
    expect(updates(published).at(-1)?.data.last_chunk).toBe(true);
  });

  it("flush() releases what waits when a turn ends without a closing event", () => {
    const { mapper, guard, send } = newTurn();
    send(mapper.onStreamEvent(message("almost done")));
    const step = guard.flush();
    expect(step.publish.map((p) => artifactOf(p.event).parts)).toEqual([
      [{ kind: "text", text: "done" }],
    ]);
    expect(guard.flush().publish).toEqual([]);
  });
});

describe("every text field", () => {
  it("artifact and file names, data-part values, metadata, status and error messages", () => {
    const { mapper, published, send } = newTurn();
    send(
      mapper.onStreamEvent(
        artifact(
          [
            {
              filename: "bob@example.com - report.pdf",
              mediaType: "application/pdf",
              raw: "Ym9iQGV4YW1wbGUuY29t",
            },
            { url: "https://files.example/?to=ann@example.com" },
            {
              data: {
                owner: "ann@example.com",
                nested: [{ phone: "+44 20 7946 0958" }],
                kind: "bob@example.com",
              },
              metadata: { by: "ann@example.com" },
            },
          ],
          { name: "report for ann@example.com", last: true, append: false },
        ),
      ),
    );
    send(mapper.onStreamEvent(status("working", message("calling ann@example.com"))));
    send(mapper.failure("AgentTaskFailed", `could not reach ann@example.com with ${KEY}`));
    const out = json(published);
    expect(out).not.toMatch(/ann@example\.com|bob@example\.com|7946|ghp_/);
    expect(out).toContain("[redacted:email]"); // ann
    expect(out).toContain("[redacted:email#2]"); // bob
    expect(out).toContain("Ym9iQGV4YW1wbGUuY29t"); // file bytes are not text
    expect(artifactOf(published[0])).toMatchObject({
      name: "report for [redacted:email]",
      parts: [
        {
          kind: "file",
          file: { name: "[redacted:email#2] - report.pdf", mimeType: "application/pdf" },
        },
        { kind: "file", file: { uri: "https://files.example/?to=[redacted:email]" } },
        {
          kind: "data",
          data: { kind: "[redacted:email#2]" },
          metadata: { by: "[redacted:email]" },
        },
      ],
    });
    expect(published[1]?.data).toMatchObject({
      status_text: "calling [redacted:email]",
      state: "working",
    });
    const error = published.find((e) => e.type === "agent_error");
    expect(error?.data).toMatchObject({
      error: "could not reach [redacted:email] with [redacted:api_key]",
      error_type: "AgentTaskFailed",
      state: "failed",
    });
  });

  it("the agent's question: its text, data parts and metadata", () => {
    const { mapper, published, send } = newTurn();
    const question = message("", {
      parts: [
        { kind: "text", text: "Send the report to ann@example.com?" },
        { kind: "data", data: { tool: "mail", arguments: { to: "ann@example.com", key: KEY } } },
      ],
    });
    question.raw = { ...question.raw, metadata: { "hybro.ai/a2a/interaction": { hint: KEY } } };
    send(mapper.onStreamEvent(status("input-required", question, true)));
    send(mapper.terminal());
    expect(published.map((e) => e.type)).toEqual(["task_interactive", "processing_status"]);
    expect(json(published)).not.toMatch(/ann@example\.com|ghp_/);
    expect(published[0]?.data).toMatchObject({
      state: "input-required",
      status: {
        state: "input-required",
        message: {
          parts: [
            { kind: "text", text: "Send the report to [redacted:email]?" },
            {
              kind: "data",
              data: {
                tool: "mail",
                arguments: { to: "[redacted:email]", key: "[redacted:api_key]" },
              },
            },
          ],
          metadata: { "hybro.ai/a2a/interaction": { hint: "[redacted:api_key]" } },
        },
      },
    });
  });

  it("an event with nothing to change is passed on as the same object", () => {
    const { mapper, send, steps } = newTurn();
    const events = mapper.onStreamEvent(message("Nothing private here. "));
    send(events);
    expect(steps[0]?.publish[0]?.event).toBe(events[0]);
    expect(steps[0]?.publish[0]?.detections).toEqual([]);
  });

  it("reports detections by kind, rule, action and count, never values", () => {
    const { mapper, send, steps } = newTurn();
    send(
      mapper.onStreamEvent(
        message("mail ann@example.com or bob@example.com, card 4111111111111111 "),
      ),
    );
    expect(steps[0]?.publish[0]?.detections).toEqual([
      { kind: "email", rule: "email", action: "redact", count: 2 },
      { kind: "card", rule: "card_number", action: "redact", count: 1 },
    ]);
  });
});

describe("block", () => {
  it("mid-stream: the blocking chunk and all after it are withheld, only the failure goes out", () => {
    const { mapper, guard, published, send, steps } = newTurn();
    send(mapper.onStreamEvent(message("Step one done. ")));
    send(mapper.onStreamEvent(message("Now the Ti")));
    send(mapper.onStreamEvent(message("tan plan: launch at dawn. ")));
    send(mapper.onStreamEvent(message("More secrets. ")));
    const blocked = guard.blocked;
    expect(blocked).toMatchObject({ errorType: POLICY_BLOCKED, kind: "custom", rule: "codename" });
    expect(blocked?.message).toContain('rule "codename" (kind custom)');
    expect(blocked?.message.toLowerCase()).not.toContain("titan");
    send(mapper.failure(POLICY_BLOCKED, blocked?.message ?? ""));
    send(mapper.terminal()); // a late end is withheld too
    send(mapper.failure("AgentTaskFailed", "and a second failure"));
    expect(published.map((e) => e.type)).toEqual([
      "artifact_update",
      "artifact_update",
      "agent_error",
      "processing_status",
    ]);
    expect(json(published)).not.toMatch(/Ti|dawn|More/);
    expect(chunkTexts(published)).toEqual(["Step one done. ", "Now the "]);
    expect(published[3]?.data).toMatchObject({ status: "failed" });
    expect(steps.flatMap((s) => s.withheld).map((w) => w.type)).toEqual([
      "artifact_update",
      "artifact_update",
      "agent_error",
      "processing_status",
      "agent_error",
      "processing_status",
    ]);
    expect(steps[2]?.withheld[0]?.detections).toEqual([
      { kind: "custom", rule: "codename", action: "block", count: 1 },
    ]);
  });

  it("in text that waited until the end: the tail and the closing event are withheld", () => {
    const { mapper, guard, published, send } = newTurn();
    send(mapper.onStreamEvent(message("The plan is Titan")));
    expect(guard.blocked).toBeNull();
    send(mapper.onStreamEvent(status("completed", null, true)));
    send(mapper.terminal());
    expect(guard.blocked?.rule).toBe("codename");
    expect(chunkTexts(published)).toEqual(["The plan is "]);
    expect(published.map((e) => e.type)).toEqual(["artifact_update"]);
  });

  it("in the turn's final answer: the answer is withheld", () => {
    const { mapper, guard, published, send } = newTurn();
    send(mapper.onResult({ ...message("The TITAN launch codes"), kind: "message" }));
    send(mapper.terminal());
    expect(guard.blocked?.rule).toBe("codename");
    expect(published).toEqual([]);
  });
});
