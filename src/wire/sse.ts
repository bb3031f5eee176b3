// The one SSE reader (agent streams, the relay's command stream, the SDK's gateway streams): a full SSE parser
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

interface ReadSseOptions {
  /** Largest event (and line still arriving) in characters; default DEFAULT_MAX_EVENT_CHARS. */
  maxEventChars?: number;
  /**
   * The `id:` of each event block (also one without `data:`; `""` clears the id), told in
   * stream order: just before that block's event is yielded.
   */
  onId?: (id: string) => void;
  /** A valid `retry:` field (ms). */
  onRetry?: (ms: number) => void;
  /** A line skipped as the SSE spec says (unknown field, bad `retry:`), in words. */
  onSkipped?: (why: string) => void;
  /** Each chunk as it arrives, before it is parsed (an idle watchdog refreshes here). */
  onChunk?: () => void;
}

/** Reads SSE events from a byte stream until it ends. Throws SseEventTooLargeError on overflow. */
export async function* readSseEvents(
  chunks: AsyncIterable<Uint8Array | string>,
  options: ReadSseOptions = {},
): AsyncGenerator<SseEvent> {
  const maxEventChars = options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
  // Events and ids in stream order; the parser reports them while a chunk is fed, they are
  // handed on after it.
  const ready: Array<SseEvent | { idOnly: string }> = [];
  let overflow: SseEventTooLargeError | null = null;
  const tooLarge = () => new SseEventTooLargeError(maxEventChars);
  const parser = createParser({
    // Bounds a partial event still arriving; a complete one is checked in onEvent.
    maxBufferSize: maxEventChars,
    onId(id) {
      if (options.onId) ready.push({ idOnly: id });
    },
    onRetry(ms) {
      options.onRetry?.(ms);
    },
    onEvent(message: EventSourceMessage) {
      if (message.data.length > maxEventChars) overflow ??= tooLarge();
      else ready.push({ event: message.event, data: message.data, id: message.id });
    },
    onError(error) {
      if (error.type === "max-buffer-size-exceeded") overflow ??= tooLarge();
      // Unknown fields and bad `retry:` values are ignored, as the SSE spec says.
      else options.onSkipped?.(error.message);
    },
  });
  const decoder = new TextDecoder();
  const feed = (text: string) => {
    if (text !== "") parser.feed(text);
  };
  // Bytes are decoded only up to the last line end received (a CR or LF byte is never inside
  // a UTF-8 sequence), so the parser gets whole lines: a large `data:` line arriving in many
  // network chunks is decoded once, not joined from pieces (less garbage per answer byte).
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  // What the parser reported for the text fed so far; then the overflow, if there was one (the
  // events around an oversized one in the same chunk are not lost with it).
  function* drain(): Generator<SseEvent> {
    while (ready.length > 0) {
      const next = ready.shift()!;
      if ("idOnly" in next) options.onId?.(next.idOnly);
      else yield next;
    }
    if (overflow) throw overflow;
  }
  for await (const chunk of chunks) {
    options.onChunk?.();
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
        if (pendingBytes > maxEventChars * 4) overflow ??= tooLarge();
        yield* drain();
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
    yield* drain();
  }
  // Be lenient with a last event that lacks its blank line before the close.
  const rest = pending.length > 0 ? decoder.decode(Buffer.concat(pending), { stream: true }) : "";
  feed(`${rest}${decoder.decode()}\n\n`);
  yield* drain();
}
