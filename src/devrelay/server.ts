// The HTTP front of the development relay: one pipeline for every request — route, key,
// rate limit, scope, handler — and one error shape. Bad input is a 4xx; a bug is a logged
// 500; nothing here throws out of the request handler.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "../system/http-server.ts";
import { scopesAllow } from "./api-key.ts";
import { RelayHttpError } from "./errors.ts";
import { pathSegments, presentedKey, readJson, writeError, writeReply } from "./http-io.ts";
import { type RateDecision, rateLimitMessage, windowWords } from "./rate-limit.ts";
import type { RelayCore } from "./relay-core.ts";
import type { RequestContext } from "./request-context.ts";
import { matchRoute } from "./routes.ts";

/** Safety cap on discarding an oversized body, so the client still reads our 413. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/** Whole seconds, rounded up, at least 1: `Retry-After` and `X-RateLimit-Reset` resolution. */
function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** `X-RateLimit-*` of the window closest to refusing (none when the family has no limits). */
function rateHeaders(decision: RateDecision): Record<string, string> {
  const window = decision.window;
  if (!window) return {};
  return {
    "X-RateLimit-Limit": String(window.limit),
    "X-RateLimit-Remaining": String(window.remaining),
    "X-RateLimit-Reset": String(Math.ceil(window.resetAtMs / 1000)),
  };
}

/** The address a request came from, for throttling failed authentications. */
function sourceOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "unknown";
}

/** The key behind the request; failures are counted per source, and a source over them waits. */
function authenticate(core: RelayCore, req: IncomingMessage) {
  const source = sourceOf(req);
  const blocked = core.authFailures.blocked(source);
  if (blocked) {
    throw new RelayHttpError(
      429,
      "too_many_failed_authentications",
      `Too many failed authentications from this address: at most ${blocked.window.limit} ${windowWords(blocked.window.windowMs)}; retry in ${seconds(blocked.retryAfterMs)} s with a valid key`,
      {},
      { "Retry-After": String(seconds(blocked.retryAfterMs)) },
    );
  }
  try {
    return core.keys.authenticate(presentedKey(req));
  } catch (error) {
    if (error instanceof RelayHttpError && error.status === 401) {
      core.authFailures.failed(source);
      if (core.authFailures.blocked(source)) {
        core.logger.warn(
          { source },
          "too many failed authentications from one address; it waits now",
        );
      }
    }
    throw error;
  }
}

async function handle(core: RelayCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let headers: Record<string, string> = {};
  try {
    const segments = pathSegments(req.url);
    const match = matchRoute(req.method ?? "GET", segments);
    if (match.kind === "none") {
      throw new RelayHttpError(404, "not_found", "No such endpoint");
    }
    if (match.kind === "wrong_method") {
      throw new RelayHttpError(
        405,
        "method_not_allowed",
        `Method ${req.method} is not allowed here; use ${match.allowed.join(", ")}`,
        { allowed: match.allowed },
        { Allow: match.allowed.join(", ") },
      );
    }
    const { route, params } = match;
    const key = authenticate(core, req);

    const decision = core.limiter.take(route.family, key.id, key.userId);
    headers = rateHeaders(decision);
    if (!decision.allowed && decision.window) {
      throw new RelayHttpError(
        429,
        "rate_limit_exceeded",
        rateLimitMessage(decision.window),
        {},
        { "Retry-After": String(seconds(decision.retryAfterMs)) },
      );
    }
    if (route.scope !== null && !scopesAllow(key.scopes, route.scope)) {
      throw new RelayHttpError(
        403,
        "insufficient_scope",
        `This API key lacks the "${route.scope}" scope`,
        { required_scope: route.scope, provided_scopes: key.scopes },
      );
    }
    const context: RequestContext = {
      req,
      res,
      key,
      params,
      core,
      headers,
      json: () => readJson(req, core.settings.maxBodyBytes),
    };
    const result = await route.handler(context);
    if (result !== "streamed") writeReply(res, result, headers);
  } catch (error) {
    if (error instanceof RelayHttpError) {
      if (error.status === 413) {
        res.setHeader("Connection", "close");
        drain(req);
      }
      writeError(res, error, headers);
      return;
    }
    core.logger.error(
      { err: error, method: req.method, url: req.url },
      "relay request failed; this is a relay bug",
    );
    const internal = new RelayHttpError(
      500,
      "internal_error",
      "Internal relay error; see the relay log",
    );
    if (!res.headersSent) writeError(res, internal, headers);
    else res.destroy();
  }
}

/** Reads and discards the rest of a refused body (up to a cap) so the client gets the answer. */
function drain(req: IncomingMessage): void {
  let seen = 0;
  req.on("data", (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > MAX_DRAIN_BYTES) req.destroy();
  });
  req.resume();
}

export function createRelayServer(core: RelayCore): Server {
  const server = createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
    handle(core, req, res).catch((error: unknown) => {
      core.logger.error({ err: error }, "relay request handler crashed; this is a relay bug");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    // Malformed HTTP (bad request line, huge headers): a plain 400, then close.
    if (socket.writable && error.code !== "ECONNRESET") {
      const status =
        error.code === "HPE_HEADER_OVERFLOW"
          ? "431 Request Header Fields Too Large"
          : "400 Bad Request";
      const body = JSON.stringify({
        detail: { error: "invalid_request", message: "Malformed HTTP request" },
      });
      socket.end(
        `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    } else {
      socket.destroy();
    }
  });
  return server;
}
