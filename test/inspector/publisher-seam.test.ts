// The recorder as the real Publisher's observer: events cut into pieces (when queued, or after
// the relay refused them as too large) show as their pieces, each with its own response_seq,
// and what the privacy guard reported for an event stays with that event, not with a piece of
// another one.
import { afterEach, describe, expect, it } from "vitest";
import { Recorder, type TimelineEntry } from "../../src/inspector/recorder.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { RelayError } from "../../src/relay/errors.ts";
import { Publisher, type PublisherOptions } from "../../src/relay/publisher.ts";
import { relayLinkSettings } from "../../src/relay/settings.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { textChunk } from "../support/events.ts";
import { fakeClock, userMessage } from "./support.ts";

type Published = Extract<TimelineEntry, { type: "published" }>;

let publisher: Publisher | null = null;
afterEach(async () => {
  await publisher?.close();
  publisher = null;
});

/** A relay that refuses bodies over `limitBytes` with 413, and keeps what it accepts. */
function relayWithLimit(limitBytes: number) {
  const received: PublishedEvent[] = [];
  const send: PublisherOptions["send"] = async (roomId, events) => {
    if (Buffer.byteLength(JSON.stringify({ room_id: roomId, events })) > limitBytes) {
      throw new RelayError("permanent", "publish", "too large", { status: 413 });
    }
    received.push(...events);
  };
  return { send, received };
}

function publisherFor(recorder: Recorder, send: PublisherOptions["send"], maxBodyBytes: number) {
  publisher = new Publisher({
    send,
    reregister: async () => {},
    onAuthError: () => {},
    settings: relayLinkSettings({ publishCoalesceMs: 1, publishMaxBodyBytes: maxBodyBytes }),
    logger: silentLogger(),
    observer: recorder,
  });
  return publisher;
}

const done = (id: string): PublishedEvent => ({
  type: "processing_status",
  agent_message_id: id,
  data: { status: "completed", user_message_id: null, task_id: "task-1" },
});

const published = (recorder: Recorder, id: string) =>
  recorder.turn(id)!.timeline.filter((e): e is Published => e.type === "published");

describe("the recorder behind the real publisher", () => {
  it("shows an event too large for one POST as its pieces; the guard's report stays with its event", async () => {
    const recorder = new Recorder({ now: fakeClock().now });
    recorder.command(userMessage("g1", "x"));
    const relay = relayWithLimit(64 * 1024);
    const out = publisherFor(recorder, relay.send, 32 * 1024);
    const big = textChunk("g1", "word ".repeat(20_000)); // ~100 KB: several pieces
    const small = textChunk("g1", "tail");
    // As the guard's caller does (observer.ts, guarded): the step's report, then its events.
    recorder.guarded("g1", {
      publish: [
        {
          event: big,
          detections: [{ kind: "api_key", rule: "github", action: "redact", count: 2 }],
        },
        { event: small, detections: [{ kind: "email", rule: "email", action: "log", count: 1 }] },
        { event: done("g1"), detections: [] },
      ],
      withheld: [],
      blocked: null,
    });
    out.publish("room-g1", [big, small, done("g1")]);
    expect(await out.flush(10_000)).toBe(true);

    const entries = published(recorder, "g1");
    const pieces = entries.filter((e) => e.piece !== null);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.map((e) => `${e.piece!.index}/${e.piece!.of}`)).toEqual(
      pieces.map((_, i) => `${i + 1}/${pieces.length}`),
    );
    // Each piece its own response_seq, all acknowledged, as many as the relay received.
    const seqs = entries.map((e) => e.responseSeq);
    expect(new Set(seqs).size).toBe(entries.length);
    expect(entries.length).toBe(relay.received.length);
    expect(entries.every((e) => e.ackedAt !== null)).toBe(true);
    // The detections: the big event's on its first piece only, the small event's on it.
    const tag = (e: Published) => e.detections.map((d) => `${d.kind}:${d.action}:${d.count}`);
    expect(tag(pieces[0]!)).toEqual(["api_key:redact:2"]);
    expect(pieces.slice(1).every((e) => e.detections.length === 0)).toBe(true);
    expect(tag(entries[pieces.length]!)).toEqual(["email:log:1"]);
    const turn = recorder.turn("g1")!;
    expect(turn.publishedEvents).toBe(entries.length);
    expect(turn.ackedEvents).toBe(entries.length);
    expect(turn.privacy).toEqual([
      { kind: "api_key", action: "redact", count: 2 },
      { kind: "email", action: "log", count: 1 },
    ]);
  });

  it("shows an event the relay refused as too large as cut, then its pieces acknowledged", async () => {
    const recorder = new Recorder({ now: fakeClock().now });
    recorder.command(userMessage("c1", "x"));
    // The hub thinks 1 MiB fits; the relay takes 40 KB: the event goes whole, is refused, is cut.
    const relay = relayWithLimit(40 * 1024);
    const out = publisherFor(recorder, relay.send, 1024 * 1024);
    out.publish("room-c1", [textChunk("c1", "word ".repeat(20_000)), done("c1")]);
    expect(await out.flush(10_000)).toBe(true);

    const entries = published(recorder, "c1");
    const cut = entries.filter((e) => e.cutInto !== null);
    expect(cut.length).toBeGreaterThan(0); // refused pieces may be cut again, smaller
    expect(cut.every((e) => e.ackedAt === null && e.cutInto! > 1)).toBe(true);
    // The first piece keeps the refused event's number.
    const first = entries.find((e) => e !== cut[0] && e.responseSeq === cut[0]!.responseSeq);
    expect(first?.piece?.index).toBe(1);
    // What left: every entry not cut, each acknowledged, as the relay received them.
    const left = entries.filter((e) => e.cutInto === null);
    expect(left.every((e) => e.ackedAt !== null)).toBe(true);
    const bySeq = (a: number | null, b: number | null) => a! - b!;
    expect(left.map((e) => e.responseSeq).sort(bySeq)).toEqual(
      relay.received.map((e) => (e.data as { response_seq: number }).response_seq).sort(bySeq),
    );
    const turn = recorder.turn("c1")!;
    // Counted as what left: the pieces and the terminal event.
    expect(turn.publishedEvents).toBe(relay.received.length);
    expect(turn.ackedEvents).toBe(relay.received.length);
    expect(turn.timeline.some((e) => e.type === "publish_failed" && e.retry)).toBe(true);
  });
});
