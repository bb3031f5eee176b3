// Server-sent events framing. `data` is one JSON text (JSON.stringify never emits a raw
// newline, so one `data:` line always suffices).
import type { ServerResponse } from "node:http";

export function sseFrame(json: string, id?: string): string {
  return id === undefined ? `data: ${json}\n\n` : `id: ${id}\ndata: ${json}\n\n`;
}

/** A comment line: ignored by every SSE parser, keeps proxies and read timeouts happy. */
export function sseComment(text: string): string {
  return `: ${text}\n\n`;
}

/** Starts an event-stream response and sends its headers at once. */
export function openEventStream(
  res: ServerResponse,
  extraHeaders: Record<string, string> = {},
): void {
  res.writeHead(200, {
    ...extraHeaders,
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
  });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
}

/**
 * Refuses an event stream as hybro.ai does: 200 `text/event-stream`, one
 * `{"type":"error","error":…}` event, end.
 */
export function refuseEventStream(
  res: ServerResponse,
  reason: string,
  extraHeaders: Record<string, string> = {},
): void {
  openEventStream(res, extraHeaders);
  res.end(sseFrame(JSON.stringify({ type: "error", error: reason })));
}

/** True while writes to the response can still reach the peer. */
export function isWritable(res: ServerResponse): boolean {
  return !res.writableEnded && !res.destroyed && res.socket !== null && !res.socket.destroyed;
}
