// The recorder alone (pure, a fake clock): what a turn's timeline holds and in which order, the
// timings, acknowledgements, retries, the privacy guard's report, and the bounds under a flood.
import { describe, expect, it } from "vitest";
import type { A2AStreamEvent } from "../../src/a2a/model.ts";
import { Recorder, type TimelineEntry } from "../../src/inspector/recorder.ts";
import { policyRedactor } from "../../src/inspector/redactor.ts";
import { compilePolicy } from "../../src/privacy/policy.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { fakeKey } from "../privacy/support.ts";
import {
  agentMessage,
  completedTask,
  fakeClock,
  publisherFor,
  recordGuardedTurn,
  recordTurn,
  scriptedClient,
  userMessage,
} from "./support.ts";

const kinds = (timeline: TimelineEntry[]) =>
  timeline.map((entry) =>
    entry.type === "published"
      ? `published:${entry.eventType}`
      : entry.type === "a2a"
        ? `a2a:${entry.kind}`
        : entry.type,
  );

describe("a turn's record", () => {
  it("holds the command, the agent's answer and the published events in order, with timings", async () => {
    const clock = fakeClock();
    const recorder = new Recorder({ now: clock.now });
    const command = userMessage("t1", "hi there");
    const publisher = publisherFor(recorder);
    const client = scriptedClient({ answer: agentMessage("hello back") });
    const slow = {
      ...client,
      send: async (...args: Parameters<typeof client.send>) => {
        clock.advance(40); // the agent takes 40 ms
        return client.send(...args);
      },
    };
    const published = await recordTurn(recorder, command, slow, { publisher, ack: false });
    clock.advance(5);
    recorder.acked(command.room_id, published);

    const turn = recorder.turn("t1");
    expect(turn).not.toBeNull();
    expect(kinds(turn!.timeline)).toEqual([
      "command",
      "started",
      "published:task_submitted",
      "a2a:message",
      "published:artifact_update",
      "published:agent_response",
      "published:processing_status",
    ]);
    expect(turn!.state).toBe("completed");
    expect(turn!.agentName).toBe("Echo");
    const t = turn!.times;
    expect(t.firstByteAt! - t.receivedAt).toBe(40);
    expect(t.terminalAt! - t.receivedAt).toBe(40);
    expect(t.publishedAt! - t.receivedAt).toBe(45);
    // Each published entry carries the response_seq it was queued with and its acknowledgement.
    const entries = turn!.timeline.filter((e) => e.type === "published");
    expect(entries.map((e) => e.responseSeq)).toEqual(
      published.map((e) => (e.data as { response_seq: number }).response_seq),
    );
    expect(entries.every((e) => e.ackedAt === t.publishedAt)).toBe(true);
    expect(turn!.ackedEvents).toBe(4);
    expect(turn!.bytesOut).toBe(
      published.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0),
    );
    // The command is kept as the relay sent it; the agent's event as it arrived.
    const first = turn!.timeline[0] as Extract<TimelineEntry, { type: "command" }>;
    expect(JSON.parse(first.payload.json)).toEqual(command);
    const a2a = turn!.timeline[3] as Extract<TimelineEntry, { type: "a2a" }>;
    expect(JSON.parse(a2a.payload.json).parts[0].text).toBe("hello back");
    expect(a2a.call).toBe("message/send");
  });

  it("records each streamed event as it arrives, and an agent call that fails", async () => {
    const recorder = new Recorder({ now: fakeClock().now });
    const chunk = (text: string, last: boolean): A2AStreamEvent => {
      const wire = {
        kind: "artifact-update",
        taskId: "task-1",
        artifact: { artifactId: "a", parts: [{ kind: "text", text }] },
        append: true,
        lastChunk: last,
      };
      return {
        kind: "artifact-update",
        taskId: "task-1",
        contextId: null,
        artifact: {
          artifactId: "a",
          name: null,
          description: null,
          metadata: null,
          parts: [{ text }],
        },
        append: true,
        lastChunk: last,
        raw: wire,
        wire,
      };
    };
    const task = completedTask("task-1", "one two");
    const client = scriptedClient({ events: [chunk("one ", false), chunk("two", true), task] });
    await recordTurn(recorder, userMessage("s1", "go"), client, { streaming: true });
    const turn = recorder.turn("s1")!;
    const agentTexts = turn.timeline
      .filter((e) => e.type === "a2a")
      .map((e) => `${e.call} ${e.kind}`);
    expect(agentTexts).toEqual([
      "message/stream artifact-update",
      "message/stream artifact-update",
      "message/stream task",
    ]);
    expect(turn.agentEvents).toBe(3);

    const broken = scriptedClient({ fail: new Error("connection reset by the agent") });
    await recordTurn(recorder, userMessage("s2", "go"), broken);
    const failed = recorder.turn("s2")!;
    expect(failed.state).toBe("failed");
    expect(failed.timeline.find((e) => e.type === "a2a_error")).toMatchObject({
      call: "message/send",
      message: "connection reset by the agent",
    });
    expect(failed.error?.type).toBeTruthy();
  });

  it("counts failed POSTs as retries (one line per run of the same failure) and marks drops", async () => {
    const clock = fakeClock();
    const recorder = new Recorder({ now: clock.now });
    const published = await recordTurn(recorder, userMessage("r1", "x"), scriptedClient({}), {
      ack: false,
    });
    for (let i = 0; i < 3; i++) {
      clock.advance(100);
      recorder.failed("room-r1", published, "relay answered publish with 503", true);
    }
    recorder.failed("room-r1", published.slice(0, 1), "relay refused publish with 422", false);
    recorder.acked("room-r1", published.slice(1));
    const turn = recorder.turn("r1")!;
    expect(turn.retries).toBe(3);
    const failures = turn.timeline.filter((e) => e.type === "publish_failed");
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatchObject({ times: 3, retry: true });
    expect(failures[1]).toMatchObject({ times: 1, retry: false });
    const entries = turn.timeline.filter((e) => e.type === "published");
    expect(entries[0]).toMatchObject({ dropped: true, ackedAt: null });
    expect(entries.slice(1).every((e) => e.ackedAt !== null && !e.dropped)).toBe(true);
  });

  it("notes a duplicate command and a cancel from the relay", () => {
    const recorder = new Recorder({ now: fakeClock().now });
    const command = userMessage("d1", "x");
    recorder.command(command);
    recorder.command(command);
    recorder.command({
      type: "cancel_task",
      local_agent_id: "local-1",
      task_id: "",
      agent_message_id: "d1",
    });
    const turn = recorder.turn("d1")!;
    expect(turn.duplicates).toBe(1);
    expect(kinds(turn.timeline)).toEqual(["command", "duplicate", "cancel"]);
    expect(recorder.turns()).toHaveLength(1);
  });

  it("lists the newest turn first", async () => {
    const recorder = new Recorder({ now: fakeClock().now });
    for (const id of ["a", "b", "c"]) recorder.command(userMessage(id, id));
    expect(recorder.turns().map((t) => t.id)).toEqual(["c", "b", "a"]);
  });
});

describe("what the privacy guard did", () => {
  const secret = fakeKey("ghp_", 36);
  const policy = compilePolicy([{ secrets: "redact", personal: "log" }]);

  it("redacts a value every time it comes, though the redactor remembers clean text", () => {
    const redact = policyRedactor(policy);
    for (let i = 0; i < 3; i++) {
      expect(redact("task-1")).toBe("task-1"); // clean: remembered, returned as is
      expect(redact(secret)).toBe("[redacted:api_key]");
      expect(redact(`a ${secret}`)).toBe("a [redacted:api_key]");
    }
  });

  it("is attached to the published events it concerns: kinds, actions and counts, never values", async () => {
    const recorder = new Recorder({
      now: fakeClock().now,
      // The same policy shows the agent's own events redacted: the value is never kept.
      redactorFor: () => policyRedactor(policy),
    });
    await recordGuardedTurn(
      recorder,
      userMessage("p1", "show me the token"),
      scriptedClient({ answer: agentMessage(`the token is ${secret}, mail me at a@example.com`) }),
      policy,
    );
    const turn = recorder.turn("p1")!;
    // The answer's content travels once, in artifact_update: the detections are on that event.
    const response = turn.timeline.find(
      (e) => e.type === "published" && e.eventType === "artifact_update",
    ) as Extract<TimelineEntry, { type: "published" }>;
    expect(response.detections.map((d) => `${d.kind}:${d.action}:${d.count}`).sort()).toEqual([
      "api_key:redact:1",
      "email:log:1",
    ]);
    expect(response.payload.json).toContain("[redacted:api_key]");
    expect(turn.privacy).toEqual(
      expect.arrayContaining([
        { kind: "api_key", action: "redact", count: 1 },
        { kind: "email", action: "log", count: 1 },
      ]),
    );
    // Nowhere in what the inspector keeps: not in the agent's event, not in what was published.
    expect(JSON.stringify(turn)).not.toContain(secret);
    expect(JSON.stringify(turn)).toContain("[redacted:api_key]");
  });

  it("shows withheld events and the block, with the guard's message", () => {
    const recorder = new Recorder({ now: fakeClock().now });
    recorder.command(userMessage("b1", "x"));
    recorder.guarded("b1", {
      publish: [],
      withheld: [
        {
          type: "artifact_update",
          detections: [{ kind: "custom", rule: "codename", action: "block", count: 1 }],
        },
      ],
      blocked: {
        kind: "custom",
        rule: "codename",
        message: "blocked: custom rule codename",
      },
    });
    const turn = recorder.turn("b1")!;
    expect(kinds(turn.timeline)).toEqual(["command", "withheld", "blocked"]);
    expect(turn.privacy).toEqual([{ kind: "custom", action: "block", count: 1 }]);
  });
});

describe("bounded memory", () => {
  it("keeps the last N turns under a flood of turns", async () => {
    const recorder = new Recorder({ now: fakeClock().now, settings: { maxTurns: 50 } });
    for (let i = 0; i < 2_000; i++) {
      await recordTurn(recorder, userMessage(`f${i}`, `message ${i}`), scriptedClient({}));
      expect(recorder.size).toBeLessThanOrEqual(50);
    }
    const ids = recorder.turns().map((t) => t.id);
    expect(ids).toHaveLength(50);
    expect(ids[0]).toBe("f1999");
    expect(ids.at(-1)).toBe("f1950");
  });

  it("keeps its bytes under the cap, whatever the turns hold", async () => {
    const maxBytes = 256 * 1024;
    const recorder = new Recorder({
      now: fakeClock().now,
      settings: { maxTurns: 1_000, maxBytes, maxTurnBytes: 64 * 1024, maxPayloadBytes: 16 * 1024 },
    });
    const big = "x".repeat(40 * 1024);
    for (let i = 0; i < 300; i++) {
      const answer = agentMessage(i % 3 === 0 ? big : `short ${i}`);
      await recordTurn(recorder, userMessage(`b${i}`, big), scriptedClient({ answer }));
      expect(recorder.bytes).toBeLessThanOrEqual(maxBytes);
    }
    // What is kept is the newest, and what was charged matches what is there.
    const turns = recorder.turns();
    expect(turns[0]?.id).toBe("b299");
    expect(turns.length).toBeLessThan(300);
    let kept = 0;
    for (const summary of turns) {
      for (const entry of recorder.turn(summary.id)!.timeline) {
        kept += "payload" in entry ? Buffer.byteLength(entry.payload.json) : 0;
        if ("payload" in entry)
          expect(Buffer.byteLength(entry.payload.json)).toBeLessThanOrEqual(16 * 1024);
      }
    }
    expect(kept).toBeLessThanOrEqual(recorder.bytes);
  });

  it("caps one turn's share: later entries are counted, not kept", () => {
    const clock = fakeClock();
    const recorder = new Recorder({
      now: clock.now,
      settings: { maxBytes: 1024 * 1024, maxTurnBytes: 32 * 1024 },
    });
    recorder.command(userMessage("long", "stream a lot"));
    const publisher = publisherFor(recorder);
    const chunk = (i: number): PublishedEvent => ({
      type: "artifact_update",
      agent_message_id: "long",
      data: {
        task_id: "t",
        artifacts: [{ artifactId: "a", parts: [{ kind: "text", text: `chunk ${i} `.repeat(20) }] }],
        append: true,
        last_chunk: false,
      },
    });
    for (let i = 0; i < 10_000; i++) publisher.publish("room-long", [chunk(i)]);
    expect(recorder.bytes).toBeLessThanOrEqual(32 * 1024);
    const turn = recorder.turn("long")!;
    expect(turn.publishedEvents).toBe(10_000);
    const omitted = turn.timeline.filter((e) => e.type === "omitted");
    expect(omitted).toHaveLength(1);
    const kept = turn.timeline.filter((e) => e.type === "published").length;
    expect(kept + (omitted[0] as { entries: number }).entries).toBe(10_000);
  });

  it("does not bring back an evicted turn when its late events arrive", () => {
    const recorder = new Recorder({ now: fakeClock().now, settings: { maxTurns: 2 } });
    for (const id of ["old", "n1", "n2"]) recorder.command(userMessage(id, id));
    expect(recorder.turn("old")).toBeNull();
    publisherFor(recorder).publish("room-old", [
      { type: "task_submitted", agent_message_id: "old", data: { task_id: "t", agent_name: "x" } },
    ]);
    recorder.command(userMessage("old", "again"));
    expect(recorder.turns().map((t) => t.id)).toEqual(["n2", "n1"]);
  });

  it("collects live changes only while watched", async () => {
    const recorder = new Recorder({ now: fakeClock().now, settings: { maxTurns: 2 } });
    recorder.command(userMessage("w0", "x"));
    recorder.watch();
    expect(recorder.takeChanges()).toEqual({ turns: [], evicted: [] });
    recorder.command(userMessage("w1", "x"));
    recorder.command(userMessage("w2", "x"));
    const changes = recorder.takeChanges();
    expect(changes.turns.map((t) => t.id).sort()).toEqual(["w1", "w2"]);
    expect(changes.evicted).toEqual(["w0"]);
    recorder.unwatch();
    recorder.command(userMessage("w3", "x"));
    expect(recorder.takeChanges()).toEqual({ turns: [], evicted: [] });
  });
});
