// SSE ids the relay gives, as the hub keeps and sends them back (`Last-Event-ID`). Pure.
//
// An id is sent back as an HTTP header, so only header-safe text of bounded length is kept:
// one non-ASCII character or a 100 KB id would otherwise make every reconnect fail (invalid
// header, 431) and, once stored, every restart too. Stored ids are scoped to the relay URL and
// hub id, so another relay (a changed --gateway-url) never receives this one's id.

/** Longest id kept: real relay ids (Redis stream ids, `<ms>-<seq>`) are about 20 characters. */
export const MAX_EVENT_ID_CHARS = 256;

const RESUMABLE = new RegExp(`^[\\x21-\\x7e]{1,${MAX_EVENT_ID_CHARS}}$`);

/** True when `id` can be sent back as `Last-Event-ID`: 1–256 visible ASCII characters. */
export function isResumableEventId(id: string): boolean {
  return RESUMABLE.test(id);
}

/** Why an id is not kept, for the one log line that says so (never the whole id). */
export function whyNotResumable(id: string): string {
  if (id.length > MAX_EVENT_ID_CHARS)
    return `it is ${id.length} characters long (at most ${MAX_EVENT_ID_CHARS})`;
  return "it holds characters other than visible ASCII (a header cannot carry them)";
}

/** A short, printable preview of an id for logs. */
export function previewEventId(id: string): string {
  const safe = id.slice(0, 40).replace(/[^\x21-\x7e]/g, "?");
  return id.length > 40 ? `${safe}…` : safe;
}

/** What a stored id belongs to: one relay (normalised base URL) and one hub id. */
export function eventIdScope(gatewayUrl: string, hubId: string): string {
  return `${gatewayUrl} ${hubId}`;
}
