// Splits a byte stream into NDJSON lines (local-agents.md section 2): `\n` ends a line, a
// trailing `\r` is dropped, blank lines are ignored, and a line longer than the limit is
// discarded up to its newline (the reader resyncs there) and reported once.

/** What is known about a line that was too long to keep. */
export interface OversizeLine {
  bytes: number;
  /** The first few KiB and the last few hundred bytes, enough to find the message's id. */
  head: string;
  tail: string;
}

const HEAD_BYTES = 4096;
const TAIL_BYTES = 256;
const NEWLINE = 0x0a;
const CR = 0x0d;

export class NdjsonLineReader {
  readonly #maxLineBytes: number;
  readonly #onLine: (line: string) => void;
  readonly #onOversize: (line: OversizeLine) => void;
  #chunks: Buffer[] = [];
  #length = 0;
  #discarding = false;
  #discardBytes = 0;
  #head = "";
  #tail: Buffer = Buffer.alloc(0);

  constructor(
    maxLineBytes: number,
    onLine: (line: string) => void,
    onOversize: (line: OversizeLine) => void,
  ) {
    this.#maxLineBytes = maxLineBytes;
    this.#onLine = onLine;
    this.#onOversize = onOversize;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      this.#take(chunk.subarray(start, nl === -1 ? chunk.length : nl));
      if (nl === -1) return;
      this.#finishLine();
      start = nl + 1;
    }
  }

  /** End of stream: a last line without its newline still counts. */
  end(): void {
    if (this.#length > 0 || this.#discarding) this.#finishLine();
  }

  #take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.#discarding) {
      this.#discardBytes += piece.length;
      this.#keepTail(piece);
      return;
    }
    if (this.#length + piece.length > this.#maxLineBytes) {
      const all = Buffer.concat([...this.#chunks, piece]);
      this.#head = all.subarray(0, HEAD_BYTES).toString("utf8");
      this.#discardBytes = all.length;
      this.#tail = Buffer.alloc(0);
      this.#keepTail(all);
      this.#chunks = [];
      this.#length = 0;
      this.#discarding = true;
      return;
    }
    this.#chunks.push(piece);
    this.#length += piece.length;
  }

  #keepTail(piece: Buffer): void {
    const joined = piece.length >= TAIL_BYTES ? piece : Buffer.concat([this.#tail, piece]);
    this.#tail = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
  }

  #finishLine(): void {
    if (this.#discarding) {
      const tail = this.#tail.toString("utf8").replace(/\r$/, "");
      const line: OversizeLine = { bytes: this.#discardBytes, head: this.#head, tail };
      this.#discarding = false;
      this.#discardBytes = 0;
      this.#head = "";
      this.#tail = Buffer.alloc(0);
      this.#onOversize(line);
      return;
    }
    let buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#length = 0;
    if (buf.length > 0 && buf[buf.length - 1] === CR) buf = buf.subarray(0, buf.length - 1);
    // Splitting on the byte 0x0A never cuts a UTF-8 sequence, so decoding per line is safe.
    const line = buf.toString("utf8");
    if (line.trim() === "") return;
    this.#onLine(line);
  }
}

const ID = String.raw`(-?\d+|"(?:[^"\\]|\\.)*")`;
const JSONRPC_FIRST = String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?`;
const ID_FIRST = new RegExp(`${JSONRPC_FIRST}"id"\\s*:\\s*${ID}`);
const STREAM_EVENT_FIRST = new RegExp(
  `${JSONRPC_FIRST}"method"\\s*:\\s*"stream/event"\\s*,\\s*"params"\\s*:\\s*\\{\\s*"requestId"\\s*:\\s*${ID}`,
);
// `"id":5}` right before the end of the line is the top-level object's last member.
const ID_LAST = new RegExp(`"id"\\s*:\\s*${ID}\\s*\\}\\s*$`);

/**
 * Best guess at which request an oversize line answers, from its first and last bytes: the
 * top-level `id` when it comes first or last (how JSON.stringify and most encoders order a
 * response), or a `stream/event`'s `requestId`. Null when it cannot be told.
 */
export function sniffRequestId(line: OversizeLine): number | string | null {
  const match =
    ID_FIRST.exec(line.head) ?? STREAM_EVENT_FIRST.exec(line.head) ?? ID_LAST.exec(line.tail);
  if (!match?.[1]) return null;
  try {
    return JSON.parse(match[1]) as number | string;
  } catch {
    return null;
  }
}
