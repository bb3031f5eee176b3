// What a route handler gets: the request, the authenticated key, path parameters, the relay,
// and the headers (rate limits) every answer must carry.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Reply } from "./http-io.ts";
import type { ApiFamily } from "./rate-limit.ts";
import type { RelayCore } from "./relay-core.ts";
import type { ApiKeyRecord } from "./store.ts";

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  key: ApiKeyRecord;
  params: Record<string, string>;
  core: RelayCore;
  /** Headers every response to this request carries (`X-RateLimit-*`). */
  headers: Record<string, string>;
  /** The body as JSON (400/413/422 on bad input). */
  json(): Promise<unknown>;
}

/** A reply to write, or "streamed" when the handler took over the response (SSE). */
export type HandlerResult = Reply | "streamed";
type Handler = (ctx: RequestContext) => Promise<HandlerResult> | HandlerResult;

export interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Literal segments, or `:name` for a parameter. */
  path: string[];
  family: ApiFamily;
  /** Scope the key needs; null = any valid key. */
  scope: string | null;
  handler: Handler;
}
