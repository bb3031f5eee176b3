// How the inspector keeps one piece of content: as JSON text (a snapshot nothing can change later,
// and sent to the page as is), with every string passed through the turn's redactor first, and
// cut at a size cap. Pure.

/** Replaces what must not be shown (the privacy policy's redact/block findings) in one text. */
export type TextRedactor = (text: string) => string;

export interface Payload {
  /** JSON text; when `cutFromBytes` is set, only its first part (not valid JSON then). */
  json: string;
  /** UTF-8 bytes of the whole JSON (before any cut). */
  bytes: number;
  /** The whole JSON's size when it was cut to the cap, else null. */
  cutFromBytes: number | null;
  /** UTF-8 bytes of `json` as kept. */
  keptBytes: number;
}

/** JSON of `value`, strings redacted, cut to `maxBytes` (measured in UTF-8 bytes). */
export function capturePayload(
  value: unknown,
  maxBytes: number,
  redact: TextRedactor | null = null,
): Payload {
  let json: string;
  try {
    json =
      JSON.stringify(
        value,
        redact
          ? (_key, inner: unknown) => (typeof inner === "string" ? redact(inner) : inner)
          : undefined,
      ) ?? "null";
  } catch (error) {
    json = JSON.stringify(`[not serializable: ${error instanceof Error ? error.message : error}]`);
  }
  const bytes = Buffer.byteLength(json);
  if (bytes <= maxBytes) return { json, bytes, cutFromBytes: null, keptBytes: bytes };
  // Cut by bytes, then back off to a whole character.
  const cut = Buffer.from(json)
    .subarray(0, maxBytes)
    .toString("utf8")
    .replace(/\uFFFD$/, "");
  return { json: cut, bytes, cutFromBytes: bytes, keptBytes: Buffer.byteLength(cut) };
}

/** Memory a kept payload is charged with: its text plus a fixed overhead per entry. */
const ENTRY_OVERHEAD_BYTES = 96;

export function chargeOf(payload: Payload | null): number {
  return ENTRY_OVERHEAD_BYTES + (payload ? payload.keptBytes : 0);
}
