// The per-turn guard on the events the hub's own mapping makes (src/hub/mapping.ts): every text
// the hub would publish is covered, ids are not touched, held text goes out before the turn's
// end, and a block leaves only the turn's failure.
import { describe, expect, it } from "vitest";
import type { A2AArtifactUpdate, A2AMessage, A2AStatusUpdate } from "../../src/a2a/model.ts";
import { TurnMapper } from "../../src/hub/mapping.ts";
import { compilePolicy } from "../../src/privacy/policy.ts";
import { type GuardStep, POLICY_BLOCKED, TurnGuard } from "../../src/privacy/turn-guard.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
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
  return { mapper, guard, published, steps, send };
}

function message(text: string, taskId = "555-123-4567"): A2AMessage {
  const raw = {
    kind: "message",
    role: "agent",
    messageId: "m1",
    taskId,
    contextId: "ctx-bob@example.com",
    parts: [{ kind: "text", text }],
  };
  return {
    kind: "message",
    role: "agent",
    messageId: "m1",
    parts: [{ kind: "text", text }],
    taskId,
    contextId: "ctx-bob@example.com",
    raw,
    wire: raw,
  };
}

function artifact(
  parts: Array<Record<string, unknown>>,
  options: { append?: boolean; last?: boolean; id?: string; name?: string } = {},
): A2AArtifactUpdate {
  const art = { artifactId: options.id ?? "art-1", name: options.name ?? null, parts };
  const raw = {
    kind: "artifact-update",
    taskId: "t1",
    contextId: "c1",
    artifact: art,
    append: options.append ?? true,
    lastChunk: options.last ?? false,
  };
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

const json = (events: PublishedEvent[]) => JSON.stringify(events);

describe("streamed output", () => {
  it("a key split over two streamed messages never leaves, in any of the event's copies of the text", () => {
    const { mapper, published, send } = newTurn();
    send(mapper.onStreamEvent(message(`Your token is ${KEY.slice(0, 12)}`)));
    send(mapper.onStreamEvent(message(`${KEY.slice(12)} — keep it safe.`)));
    send(mapper.terminal());
    const out = json(published);
    expect(out).not.toContain(KEY.slice(0, 12));
    expect(out).not.toContain(KEY.slice(12));
    // Each chunk's text is in data.text, data.raw.parts and data.artifact.parts: all the same.
    for (const event of published.filter((e) => e.type === "artifact_update")) {
      const data = event.data as {
        text: string;
        raw: { parts: Array<{ text: string }> };
        artifact: { parts: Array<{ text: string }> };
      };
      expect(data.raw.parts[0]?.text).toBe(data.text);
      expect(data.artifact.parts[0]?.text).toBe(data.text);
    }
    const texts = published
      .filter((e) => e.type === "artifact_update")
      .map((e) => (e.data as { text: string }).text);
    expect(texts.join("")).toBe("Your token is [redacted:api_key] — keep it safe.");
    expect(published.at(-1)?.type).toBe("processing_status");
    // Ids are never touched, even when they look like a phone number or an address.
    expect(out).toContain('"task_id":"555-123-4567"');
    expect(out).toContain("ctx-bob@example.com");
  });

  it("held text goes out before the turn's end, as an appended chunk of the same artifact", () => {
    const { mapper, published, send, steps } = newTurn();
    send(
      mapper.onStreamEvent(
        artifact([{ kind: "text", text: "The answer is forty" }], { append: false }),
      ),
    );
    send(mapper.onStreamEvent(artifact([{ kind: "text", text: "-two" }])));
    expect(published.map((e) => (e.data as { text?: string }).text)).toEqual(["The answer is "]);
    send(mapper.terminal());
    expect(published.map((e) => e.type)).toEqual([
      "artifact_update",
      "artifact_update",
      "processing_status",
    ]);
    const tail = published[1] as PublishedEvent & { data: Record<string, unknown> };
    expect(tail.data["text"]).toBe("forty-two");
    expect(tail.data["append"]).toBe(true);
    expect((tail.data["raw"] as Record<string, unknown>)["append"]).toBe(true);
    expect(steps.at(-1)?.publish.map((p) => p.event.type)).toEqual([
      "artifact_update",
      "processing_status",
    ]);
  });

  it("a chunk whose text all waits is not published on its own", () => {
    const { mapper, published, send } = newTurn();
    send(mapper.onStreamEvent(message("Here: ")));
    send(mapper.onStreamEvent(message(KEY.slice(0, 8))));
    expect(published).toHaveLength(1);
    send(mapper.onStreamEvent(message(`${KEY.slice(8)}. `)));
    expect(published.map((e) => (e.data as { text: string }).text)).toEqual([
      "Here: ",
      "[redacted:api_key]. ",
    ]);
  });

  it("a replacing chunk (append false) drops the text held from the one it replaces", () => {
    const { mapper, published, send } = newTurn();
    send(
      mapper.onStreamEvent(artifact([{ kind: "text", text: "Draft: unfinis" }], { append: false })),
    );
    send(
      mapper.onStreamEvent(artifact([{ kind: "text", text: "Final answer." }], { append: false })),
    );
    send(mapper.terminal());
    const texts = published
      .filter((e) => e.type === "artifact_update")
      .map((e) => (e.data as { text: string }).text);
    expect(texts).toEqual(["Draft: ", "Final ", "answer."]);
  });
});

describe("held text is never lost", () => {
  it("a tail released at the turn's end counts its findings once, not once per copy", () => {
    const { mapper, send, steps } = newTurn();
    send(mapper.onStreamEvent(message("write to bob@example.com")));
    send(mapper.terminal());
    const tail = steps.at(-1)?.publish[0];
    expect(tail?.event.data).toMatchObject({ text: "[redacted:email]" });
    expect(tail?.detections).toEqual([
      { kind: "email", rule: "email", action: "redact", count: 1 },
    ]);
  });

  it("an artifact's last chunk without a field still releases what that field held", () => {
    const { mapper, published, send } = newTurn();
    send(mapper.onStreamEvent(artifact([{ kind: "text", text: "Hello wor" }], { append: false })));
    send(mapper.onStreamEvent(artifact([], { last: true })));
    const artifacts = published.filter((e) => e.type === "artifact_update");
    const copies = artifacts.map((e) => {
      const data = e.data as {
        text: string;
        raw: { artifact: { parts: Array<{ text: string }> } };
      };
      return { text: data.text, raw: data.raw.artifact.parts.map((p) => p.text).join("") };
    });
    expect(copies.map((c) => c.text).join("")).toBe("Hello wor");
    expect(copies.map((c) => c.raw).join("")).toBe("Hello wor");
  });
});

describe("every text field", () => {
  it("artifact and file names, data-part values, status and error messages", () => {
    const { mapper, published, send } = newTurn();
    send(
      mapper.onStreamEvent(
        artifact(
          [
            {
              kind: "file",
              file: {
                name: "bob@example.com.pdf",
                mimeType: "application/pdf",
                bytes: "Ym9iQGV4YW1wbGUuY29t",
              },
            },
            {
              kind: "data",
              data: {
                owner: "ann@example.com",
                nested: [{ phone: "+44 20 7946 0958" }],
                kind: "bob@example.com",
              },
            },
          ],
          { name: "report for ann@example.com", last: true, append: false },
        ),
      ),
    );
    const status: A2AStatusUpdate = {
      kind: "status-update",
      taskId: "t1",
      contextId: "c1",
      status: {
        state: "working",
        message: { ...message("calling ann@example.com"), role: "agent" },
        timestamp: null,
      },
      final: false,
      raw: {
        kind: "status-update",
        status: {
          state: "working",
          message: { parts: [{ kind: "text", text: "calling ann@example.com" }] },
        },
      },
      wire: null,
    };
    send(mapper.onStreamEvent(status));
    send(mapper.failure("AgentTaskFailed", `could not reach ann@example.com with ${KEY}`));
    const out = json(published);
    expect(out).not.toMatch(/ann@example\.com|bob@example\.com|7946|ghp_/);
    expect(out).toContain("[redacted:email]"); // ann
    expect(out).toContain("[redacted:email#2]"); // bob
    expect(out).toContain("Ym9iQGV4YW1wbGUuY29t"); // file bytes are not text
    const error = published.find((e) => e.type === "agent_error");
    expect(error?.data).toMatchObject({
      error: "could not reach [redacted:email] with [redacted:api_key]",
      error_type: "AgentTaskFailed",
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
      // The chunk's text is in the event three times (text, raw, artifact): counted once.
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
    send(mapper.terminal()); // a late "completed" is withheld too
    expect(published.map((e) => e.type)).toEqual([
      "artifact_update",
      "artifact_update",
      "agent_error",
      "processing_status",
    ]);
    expect(json(published)).not.toMatch(/Ti|dawn|More/);
    expect(published[1]?.data).toMatchObject({ text: "Now the " });
    expect(published[3]?.data).toMatchObject({ status: "failed" });
    expect(steps.flatMap((s) => s.withheld).map((w) => w.type)).toEqual([
      "artifact_update",
      "artifact_update",
      "processing_status",
    ]);
    expect(steps[2]?.withheld[0]?.detections).toEqual([
      { kind: "custom", rule: "codename", action: "block", count: 1 },
    ]);
  });

  it("in the turn's final answer: the answer is withheld", () => {
    const { mapper, guard, published, send } = newTurn();
    mapper.onResult({ ...message("The TITAN launch codes"), kind: "message" });
    send(mapper.terminal());
    expect(guard.blocked?.rule).toBe("codename");
    expect(published).toEqual([]);
  });
});
