// The one SSE reader's hooks (the relay's command stream uses them): ids in stream order, each
// told just before its block's event; retry and skipped lines reported; one call per chunk.
import { describe, expect, it } from "vitest";
import { readSseEvents, SseEventTooLargeError } from "../../src/wire/sse.ts";

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield Buffer.from(part);
}

describe("readSseEvents hooks", () => {
  it("tells each id just before its event, an id-only block too, in stream order", async () => {
    const seen: string[] = [];
    const events = readSseEvents(
      chunks("id: 1\ndata: a\n\nid: 2\n\nid: 3\ndata: b\n", "\nretry: 50\nbogus: x\n\n"),
      {
        onId: (id) => seen.push(`id ${id}`),
        onRetry: (ms) => seen.push(`retry ${ms}`),
        onSkipped: () => seen.push("skipped"),
        onChunk: () => seen.push("chunk"),
      },
    );
    for await (const event of events) seen.push(`event ${event.data} (${event.id})`);
    expect(seen).toEqual([
      "chunk",
      "id 1",
      "event a (1)",
      "id 2",
      "chunk",
      // Told while their chunk is read (they only inform), not queued with the events.
      "retry 50",
      "skipped",
      "id 3",
      "event b (3)",
    ]);
  });

  it("hands on the events before an oversized one, then throws", async () => {
    const seen: string[] = [];
    const read = async () => {
      for await (const event of readSseEvents(chunks(`data: a\n\ndata: ${"x".repeat(50)}\n\n`), {
        maxEventChars: 10,
      })) {
        seen.push(event.data);
      }
    };
    await expect(read()).rejects.toBeInstanceOf(SseEventTooLargeError);
    expect(seen).toEqual(["a"]);
  });
});
