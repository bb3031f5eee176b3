import { describe, expect, it } from "vitest";
import { jsonBytes, oversizedPart, sliceEnd, splitEvent } from "../../src/relay/event-split.ts";
import { publishLimitFromEnv } from "../../src/relay/settings.ts";
import type { ArtifactUpdateEvent, PublishedEvent } from "../../src/wire/relay.ts";
import { RoomAnswer } from "../../src/wire/room-answer.ts";

const AMID = "amsg_split";

function update(
  parts: unknown[],
  flags: { append?: boolean; last_chunk?: boolean } = {},
  artifacts?: unknown[],
): ArtifactUpdateEvent {
  return {
    type: "artifact_update",
    agent_message_id: AMID,
    data: {
      artifacts: (artifacts ?? [{ artifactId: "a", name: "answer.txt", parts }]) as never,
      append: flags.append ?? false,
      last_chunk: flags.last_chunk ?? true,
      task_id: "t",
      context_id: "c",
    },
  };
}

/** What the room holds after these events (and a completed end). */
function room(events: PublishedEvent[]): RoomAnswer {
  const answer = new RoomAnswer(AMID);
  for (const event of events) answer.apply(event);
  answer.apply({
    type: "processing_status",
    agent_message_id: AMID,
    data: { status: "completed", user_message_id: null, task_id: "t" },
  });
  return answer;
}

// Every kind of character JSON escapes or UTF-8 widens, and a surrogate pair at many offsets.
const TRICKY = 'plain "quoted" back\\slash\ttab\nnew é ü € 中文 𝄞 emoji 😀 \u0001ctl \u2028 ';

describe("jsonBytes", () => {
  it("counts exactly what JSON.stringify would make, in UTF-8, without making it", () => {
    const values: unknown[] = [
      TRICKY,
      "lone \ud800 high and \udc00 low",
      { a: 1, b: [true, false, null, 1.5e-7, -0], c: { d: undefined, e: () => 1 } },
      [undefined, () => 1, Number.NaN, Number.POSITIVE_INFINITY, "x"],
      { nested: { deeper: [{ text: TRICKY.repeat(3) }] }, 'k"ey': "v" },
      { toJSON: () => ({ replaced: "yes" }) },
      update([{ kind: "text", text: TRICKY }]),
      12345678901234,
      "",
      [],
      {},
    ];
    for (const value of values) {
      expect(jsonBytes(value)).toBe(Buffer.byteLength(JSON.stringify(value)));
    }
  });
});

describe("splitEvent", () => {
  it("an event that fits comes back whole (the same object)", () => {
    const event = update([{ kind: "text", text: "small" }]);
    expect(splitEvent(event, 10_000)).toEqual([event]);
    expect(splitEvent(event, 10_000)[0]).toBe(event);
  });

  it.each([4_096, 10_000, 65_536])(
    "a long text is cut into events of at most %i bytes that the room joins back exactly",
    (max) => {
      const text = TRICKY.repeat(2_000);
      const pieces = splitEvent(update([{ kind: "text", text }], { append: false }), max);
      expect(pieces.length).toBeGreaterThan(2);
      for (const piece of pieces) expect(jsonBytes(piece)).toBeLessThanOrEqual(max);
      // Only the first keeps the original's append; only the last keeps last_chunk.
      const flags = pieces.map((p) => [
        (p.data as { append: boolean }).append,
        (p.data as { last_chunk: boolean }).last_chunk,
      ]);
      expect(flags[0]).toEqual([false, false]);
      expect(flags.at(-1)).toEqual([true, true]);
      expect(flags.slice(1, -1).every(([a, l]) => a && !l)).toBe(true);
      const answer = room(pieces);
      expect(answer.text).toBe(text);
      expect(answer.artifacts.map((a) => [a.artifactId, a.name])).toEqual([["a", "answer.txt"]]);
      // Each piece carries the turn's ids.
      for (const piece of pieces)
        expect(piece.data).toMatchObject({ task_id: "t", context_id: "c" });
    },
  );

  it("never cuts a surrogate pair, and counts escapes as JSON does", () => {
    const text = "𝄞".repeat(1000);
    for (let budget = 1; budget < 40; budget++) {
      const end = sliceEnd(text, 0, budget);
      expect(end % 2).toBe(0);
      expect(Buffer.byteLength(JSON.stringify(text.slice(0, end))) - 2).toBeLessThanOrEqual(budget);
    }
    const escaped = '"\\\n\u0001'.repeat(50);
    const end = sliceEnd(escaped, 0, 61);
    expect(Buffer.byteLength(JSON.stringify(escaped.slice(0, end))) - 2).toBeLessThanOrEqual(61);
    expect(Buffer.byteLength(JSON.stringify(escaped.slice(0, end + 1))) - 2).toBeGreaterThan(61);
  });

  it("keeps parts whole and in order, splitting only texts; a continuing chunk stays a continuation", () => {
    const big = "x".repeat(30_000);
    const parts = [
      { kind: "data", data: { n: 1 } },
      { kind: "text", text: big },
      {
        kind: "file",
        file: { name: "f.bin", mimeType: "application/octet-stream", bytes: "AAAA" },
      },
      { kind: "text", text: "tail" },
    ];
    const pieces = splitEvent(update(parts, { append: true, last_chunk: false }), 8_000);
    expect(pieces.every((p) => (p.data as { append: boolean }).append)).toBe(true);
    expect(pieces.every((p) => !(p.data as { last_chunk: boolean }).last_chunk)).toBe(true);
    const sent = pieces.flatMap(
      (p) => (p as ArtifactUpdateEvent).data.artifacts[0]!.parts as Array<Record<string, unknown>>,
    );
    expect(sent.map((p) => p.kind)).toEqual([
      "data",
      ...Array(sent.length - 3).fill("text"),
      "file",
      "text",
    ]);
    expect(
      sent
        .filter((p) => p.kind === "text")
        .map((p) => p.text)
        .join(""),
    ).toBe(`${big}tail`);
  });

  it("an event with several artifacts becomes one event per artifact, same flags", () => {
    const a = { artifactId: "a", parts: [{ kind: "text", text: "a".repeat(3_000) }] };
    const b = { artifactId: "b", parts: [{ kind: "text", text: "b".repeat(3_000) }] };
    const pieces = splitEvent(update([], { append: false, last_chunk: true }, [a, b]), 4_000);
    expect(pieces.map((p) => (p as ArtifactUpdateEvent).data.artifacts[0]!.artifactId)).toEqual([
      "a",
      "b",
    ]);
    expect(room(pieces).artifacts.map((x) => x.artifactId)).toEqual(["a", "b"]);
  });

  it("a part too large to cut stays whole, and oversizedPart names it", () => {
    const file = {
      kind: "file",
      file: { name: "huge.bin", mimeType: "x/y", bytes: "A".repeat(50_000) },
    };
    const event = update([{ kind: "text", text: "before" }, file]);
    const pieces = splitEvent(event, 20_000);
    expect(pieces.some((p) => jsonBytes(p) > 20_000)).toBe(true);
    expect(oversizedPart(pieces, 20_000)).toEqual({
      kind: "file",
      name: "huge.bin",
      bytes: jsonBytes(file),
    });
    expect(
      oversizedPart([update([{ kind: "text", text: "x".repeat(50_000) }])], 20_000),
    ).toBeNull();
  });

  it("a status text or an error too long for one publish is cut and says so", () => {
    const status: PublishedEvent = {
      type: "task_status",
      agent_message_id: AMID,
      data: { state: "working", status_text: "s".repeat(50_000), final: false, task_id: "t" },
    };
    const [cut] = splitEvent(status, 10_000);
    expect(jsonBytes(cut)).toBeLessThanOrEqual(10_000);
    expect((cut?.data as { status_text?: string } | undefined)?.status_text).toMatch(
      /cut: too long/,
    );
  });
});

describe("publishLimitFromEnv", () => {
  it("reads bytes, k and m; refuses what is not a size of at least 16 KiB, saying so", () => {
    expect(publishLimitFromEnv({})).toEqual({});
    expect(publishLimitFromEnv({ HYBRO_RELAY_MAX_BODY_BYTES: "1048576" })).toEqual({
      bytes: 1048576,
    });
    expect(publishLimitFromEnv({ HYBRO_RELAY_MAX_BODY_BYTES: "512k" })).toEqual({ bytes: 524288 });
    expect(publishLimitFromEnv({ HYBRO_RELAY_MAX_BODY_BYTES: " 2M " })).toEqual({
      bytes: 2097152,
    });
    for (const bad of ["1000", "lots", "-5m", "1.5m"]) {
      expect(publishLimitFromEnv({ HYBRO_RELAY_MAX_BODY_BYTES: bad }).error).toMatch(
        /^HYBRO_RELAY_MAX_BODY_BYTES=".*" is not a size of at least 16384 bytes/,
      );
    }
  });
});
