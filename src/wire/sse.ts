// The one SSE reader (agent streams, the SDK's gateway streams): a full SSE parser
// (eventsource-parser) so multi-line `data:`, CR/CRLF line ends, `:` comments and
// `event:`/`id:`/`retry:` fields all work, with a cap on one event's size so a runaway peer
// cannot fill our memory. A shared leaf: it imports no part of the hub.

import { createParser, type EventSourceMessage } from "eventsource-parser";

export interface SseEvent {
  /** The `event:` field (`undefined` for the default `message`). */
  event: string | undefined;
  data: string;
  /** The `id:` field, when the event carried one. */
  id: string | undefined;
}

/** One event (or one line still arriving) is larger than `maxEventChars`. */
export class SseEventTooLargeError extends Error {
  override readonly name = "SseEventTooLargeError";
  readonly code = "SSE_EVENT_TOO_LARGE";
  readonly maxEventChars: number;
  constructor(maxEventChars: number) {
    super(`the stream sent an event larger than ${maxEventChars} characters`);
    this.maxEventChars = maxEventChars;
  }
}

export const DEFAULT_MAX_EVENT_CHARS = 16 * 1024 * 1024;

/** Reads SSE events from a byte stream until it ends. Throws SseEventTooLargeError on overflow. */
export async function* readSseEvents(
  chunks: AsyncIterable<Uint8Array | string>,
  options: { maxEventChars?: number } = {},
): AsyncGenerator<SseEvent> {
  const maxEventChars = options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
  const ready: SseEvent[] = [];
  let overflow: SseEventTooLargeError | null = null;
  const tooLarge = () => new SseEventTooLargeError(maxEventChars);
  const parser = createParser({
    // Bounds a partial event still arriving; a complete one is checked in onEvent.
    maxBufferSize: maxEventChars,
    onEvent(message: EventSourceMessage) {
      if (message.data.length > maxEventChars) overflow ??= tooLarge();
      else ready.push({ event: message.event, data: message.data, id: message.id });
    },
    onError(error) {
      if (error.type === "max-buffer-size-exceeded") overflow ??= tooLarge();
      // Unknown fields and bad `retry:` values are ignored, as the SSE spec says.
    },
  });
  const decoder = new TextDecoder();
  const feed = (text: string) => {
    if (text !== "") parser.feed(text);
    if (overflow) throw overflow;
  };
  // Bytes are decoded only up to the last line end received (a CR or LF byte is never inside
  // a UTF-8 sequence), so the parser gets whole lines: a large `data:` line arriving in many
  // network chunks is decoded once, not joined from pieces (less garbage per answer byte).
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of chunks) {
    if (typeof chunk === "string") {
      feed(chunk);
    } else {
      const bytes = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const lineEnd = Math.max(bytes.lastIndexOf(0x0a), bytes.lastIndexOf(0x0d));
      if (lineEnd < 0) {
        pending.push(bytes);
        pendingBytes += bytes.length;
        // A line longer than an event may be is refused without holding it all.
        if (pendingBytes > maxEventChars * 4) throw tooLarge();
        continue;
      }
      pending.push(bytes.subarray(0, lineEnd + 1));
      const complete = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      pending.length = 0;
      pendingBytes = 0;
      feed(decoder.decode(complete, { stream: true }));
      if (lineEnd + 1 < bytes.length) {
        pending.push(bytes.subarray(lineEnd + 1));
        pendingBytes = bytes.length - lineEnd - 1;
      }
    }
    while (ready.length > 0) yield ready.shift()!;
  }
  // Be lenient with a last event that lacks its blank line before the close.
  const rest = pending.length > 0 ? decoder.decode(Buffer.concat(pending), { stream: true }) : "";
  feed(`${rest}${decoder.decode()}\n\n`);
  while (ready.length > 0) yield ready.shift()!;
}
