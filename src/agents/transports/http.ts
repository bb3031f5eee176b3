// A2A JSON-RPC over HTTP: one POST per call, SSE for streams, the card from the well-known paths.
// Its own undici dispatcher: no 300 s header/body cut-offs (a blocking send or a quiet stream
// may take as long as the turn allows; deadlines come from the caller's signal), and a pool
// large enough for many concurrent turns to one agent.

import type { Dispatcher } from "undici";
import { jsonRpcErrorOf, jsonRpcRequest, jsonRpcResult, newRequestId } from "../../a2a/jsonrpc.ts";
import { isRecord } from "../../a2a/model.ts";
import {
  classifyNetworkFailure,
  errorCodeOf,
  type NetworkPhase,
} from "../../a2a/network-errors.ts";
import {
  type A2ADialect,
  type AgentTransport,
  JsonRpcError,
  type RpcCallOptions,
  TransportError,
} from "../../a2a/transport.ts";
import { type Logger, silentLogger } from "../../log/logger.ts";
import { withDefaults } from "../../system/settings.ts";
import { Agent, request } from "../../system/undici.ts";
import { isRedirect, redirectText } from "../../wire/redirect.ts";
import { DEFAULT_MAX_EVENT_CHARS, readSseEvents, SseEventTooLargeError } from "../../wire/sse.ts";
import { cardAnswerProblem, readCardText } from "./card-body.ts";

export interface HttpTransportSettings {
  /** TCP (and TLS) connect limit. */
  connectTimeoutMs: number;
  /** One card request (GET of one card path); the registry's probe deadline bounds them all. */
  cardRequestTimeoutMs: number;
  /** Silence allowed between body chunks; 0 = none (the turn deadline bounds a stream). */
  bodyTimeoutMs: number;
  /** Largest unary response body. */
  maxBodyBytes: number;
  /** Largest single SSE event. */
  maxEventChars: number;
  /** Sockets per agent origin (concurrent turns beyond this queue in the pool). */
  connections: number;
  /** Idle keep-alive socket lifetime (the server's `Keep-Alive: timeout` wins when shorter). */
  keepAliveTimeoutMs: number;
}

const DEFAULT_HTTP_TRANSPORT_SETTINGS: HttpTransportSettings = {
  connectTimeoutMs: 10_000,
  cardRequestTimeoutMs: 3_000,
  bodyTimeoutMs: 0,
  maxBodyBytes: 32 * 1024 * 1024,
  maxEventChars: DEFAULT_MAX_EVENT_CHARS,
  connections: 128,
  keepAliveTimeoutMs: 4_000,
};

interface HttpTransportOptions {
  /** The agent's base URL from the local config (card and default endpoint). */
  baseUrl: string;
  /** Full card URL from the config; else the well-known paths under `baseUrl`. */
  cardUrl?: string;
  /** Extra headers on every request (e.g. the agent's own token). */
  headers?: Record<string, string>;
  /** A shared dispatcher; the transport then neither owns nor closes it. */
  dispatcher?: Dispatcher;
  settings?: Partial<HttpTransportSettings>;
  logger?: Logger;
}

const CARD_PATHS = ["/.well-known/agent-card.json", "/.well-known/agent.json"];

export class HttpTransport implements AgentTransport {
  readonly kind = "http" as const;
  readonly #baseUrl: string;
  readonly #cardUrl: string | undefined;
  readonly #headers: Record<string, string>;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #settings: HttpTransportSettings;
  readonly #logger: Logger;
  #endpoints: Partial<Record<A2ADialect, string>> = {};
  #closed = false;

  constructor(options: HttpTransportOptions) {
    this.#baseUrl = options.baseUrl;
    this.#cardUrl = options.cardUrl;
    this.#headers = { ...options.headers };
    this.#settings = withDefaults(DEFAULT_HTTP_TRANSPORT_SETTINGS, options.settings);
    this.#logger = options.logger ?? silentLogger();
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        connections: this.#settings.connections,
        keepAliveTimeout: this.#settings.keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.#settings.keepAliveTimeoutMs, 60_000),
        headersTimeout: 0,
        bodyTimeout: this.#settings.bodyTimeoutMs,
        connect: { timeout: this.#settings.connectTimeoutMs },
      });
  }

  get baseUrl(): string {
    return this.#baseUrl;
  }

  /** Interface URLs from the card, per dialect. A dialect without one uses the other's, else `baseUrl`. */
  useEndpoints(endpoints: Partial<Record<A2ADialect, string>>): void {
    this.#endpoints = { ...endpoints };
  }

  endpointFor(dialect: A2ADialect): string {
    return (
      this.#endpoints[dialect] ??
      this.#endpoints[dialect === "1.0" ? "0.3" : "1.0"] ??
      this.#baseUrl
    );
  }

  async call(method: string, params: unknown, options: RpcCallOptions): Promise<unknown> {
    const id = newRequestId();
    const url = this.endpointFor(options.dialect);
    const response = await this.#post(url, id, method, params, options, "application/json");
    const text = await this.#readBody(response.body, options.signal, url);
    return interpretResponse(response, text, id, url);
  }

  async *stream(method: string, params: unknown, options: RpcCallOptions): AsyncIterable<unknown> {
    const id = newRequestId();
    const url = this.endpointFor(options.dialect);
    const response = await this.#post(
      url,
      id,
      method,
      params,
      options,
      "text/event-stream, application/json",
    );
    const body = response.body;
    try {
      const contentType = String(response.headers["content-type"] ?? "").toLowerCase();
      if (!contentType.includes("text/event-stream") || response.statusCode >= 300) {
        // A plain JSON body answering a stream call: an error, or a single result.
        const text = await this.#readBody(body, options.signal, url);
        yield interpretResponse(response, text, id, url);
        return;
      }
      for await (const event of readSseEvents(body, {
        maxEventChars: this.#settings.maxEventChars,
      })) {
        for (const record of sseRecords(event.data)) {
          let data: unknown;
          try {
            data = JSON.parse(record);
          } catch {
            if (event.event === "error") {
              throw new TransportError(
                "InvalidAgentResponse",
                `agent stream error: ${clip(record)}`,
              );
            }
            const note = `a stream event that is not JSON: ${JSON.stringify(clip(record, 120))}`;
            this.#logger.warn({ url }, `skipped ${note}`);
            options.onUnreadable?.(note);
            continue;
          }
          const error = jsonRpcErrorOf(data);
          if (error) throw error;
          if (event.event === "error") {
            throw new TransportError("InvalidAgentResponse", `agent stream error: ${clip(record)}`);
          }
          yield isRecord(data) && ("result" in data || "jsonrpc" in data)
            ? jsonRpcResult(data, id)
            : data;
        }
      }
    } catch (error) {
      throw classify(error, options.signal, url, "read");
    } finally {
      if (!body.destroyed) body.destroy();
    }
  }

  /**
   * The card from `cardUrl` or the well-known paths; null when none serves one. A card too
   * large to read, or paths that only redirect, are errors that say so (not "no card").
   */
  async fetchCard(signal: AbortSignal): Promise<Record<string, unknown> | null> {
    const urls = this.#cardUrl
      ? [this.#cardUrl]
      : CARD_PATHS.map((p) => wellKnown(this.#baseUrl, p));
    const redirects: string[] = [];
    for (const url of urls) {
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), this.#settings.cardRequestTimeoutMs);
      const attempt = AbortSignal.any([signal, timeout.signal]);
      try {
        const response = await request(url, {
          method: "GET",
          dispatcher: this.#dispatcher,
          headers: { ...this.#headers, accept: "application/json", "a2a-version": "1.0" },
          signal: attempt,
        });
        const problem = cardAnswerProblem(response);
        if (problem !== null) {
          await response.body.dump().catch(() => undefined);
          if (isRedirect(response.statusCode)) redirects.push(`${url} answered ${problem}`);
          continue;
        }
        const card: unknown = JSON.parse(await readCardText(response, url));
        if (isRecord(card)) return card;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (error instanceof TransportError && error.errorType === "CardTooLarge") throw error;
        this.#logger.debug({ url, err: String(error) }, "no agent card at this URL");
      } finally {
        clearTimeout(timer);
      }
    }
    if (redirects.length > 0) {
      throw new TransportError("CardRedirect", `no agent card: ${redirects.join("; ")}`);
    }
    return null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsDispatcher) await this.#dispatcher.close().catch(() => {});
  }

  async #post(
    url: string,
    id: string,
    method: string,
    params: unknown,
    options: RpcCallOptions,
    accept: string,
  ): Promise<Dispatcher.ResponseData> {
    if (options.signal.aborted) throw options.signal.reason;
    const headers: Record<string, string> = {
      ...this.#headers,
      "content-type": "application/json",
      accept,
    };
    if (options.dialect === "1.0") headers["a2a-version"] = "1.0";
    try {
      return await request(url, {
        method: "POST",
        dispatcher: this.#dispatcher,
        headers,
        body: jsonRpcRequest(id, method, params),
        signal: options.signal,
      });
    } catch (error) {
      throw classify(error, options.signal, url, "connect");
    }
  }

  async #readBody(body: Dispatcher.ResponseData["body"], signal: AbortSignal, url: string) {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > this.#settings.maxBodyBytes) {
          body.destroy();
          throw new TransportError(
            "InvalidAgentResponse",
            `agent at ${url} sent a response larger than ${this.#settings.maxBodyBytes} bytes`,
          );
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      throw classify(error, signal, url, "read");
    }
    return Buffer.concat(chunks).toString("utf8");
  }
}

/**
 * The JSON texts in one SSE `data` field: usually one; some servers frame each as a JSON text
 * sequence record (RFC 7464: 0x1E before it), and may put several in one event. An empty field
 * (a keep-alive) has none.
 */
function sseRecords(data: string): string[] {
  const records: string[] = [];
  for (const piece of data.split("\u001e")) {
    const record = piece.replace(/^\uFEFF/, "").trim();
    if (record !== "") records.push(record);
  }
  return records;
}

function clip(text: string, max = 500): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** `base` + an absolute path, keeping the base path (no relative-URL resolution pitfalls). */
export function wellKnown(base: string, path: string): string {
  const url = new URL(base);
  url.pathname = url.pathname.replace(/\/+$/, "") + path;
  url.search = "";
  url.hash = "";
  return url.toString();
}

/** HTTP status + body → the JSON-RPC result, or the right error (§5.4 of the reference). */
function interpretResponse(
  response: Dispatcher.ResponseData,
  text: string,
  id: string,
  url: string,
): unknown {
  const status = response.statusCode;
  if (isRedirect(status)) {
    const location = response.headers.location;
    const where = redirectText(status, Array.isArray(location) ? location[0] : location);
    throw new TransportError("HTTPStatusError", `agent at ${url} answered ${where}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    if (status >= 200 && status < 300) {
      throw new TransportError(
        "InvalidAgentResponse",
        `agent at ${url} answered HTTP ${status} with a body that is not JSON`,
      );
    }
    throw new TransportError("HTTPStatusError", `agent at ${url} answered HTTP ${status}`);
  }
  const error = jsonRpcErrorOf(body);
  if (error) throw error;
  if (status < 200 || status >= 300) {
    throw new TransportError("HTTPStatusError", `agent at ${url} answered HTTP ${status}`);
  }
  return jsonRpcResult(body, id);
}

/** Any failure → the caller's abort reason, our own error, or a classified TransportError. */
function classify(error: unknown, signal: AbortSignal, url: string, phase: NetworkPhase): unknown {
  if (signal.aborted) return signal.reason;
  if (error instanceof TransportError || error instanceof JsonRpcError) return error;
  if (error instanceof SseEventTooLargeError) {
    return new TransportError(
      "InvalidAgentResponse",
      `agent at ${url} sent a stream event larger than ${error.maxEventChars} characters (maxEventChars)`,
      { cause: error },
    );
  }
  const code = errorCodeOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  const network = classifyNetworkFailure(error, phase);
  if (network) {
    const { errorType, connectionClass } = network;
    const words = {
      ConnectTimeout: `could not connect to the agent at ${url} in time`,
      ReadTimeout: `the agent at ${url} stopped answering (${detail})`,
      ConnectError: network.closedByPeer
        ? `the agent at ${url} closed the connection (${network.code})`
        : `could not reach the agent at ${url} (${network.code}); is it running?`,
      ReadError: `the agent at ${url} closed the connection mid-response (${network.code})`,
    }[errorType];
    return new TransportError(errorType, words, { cause: error, connectionClass });
  }
  if (code === "UND_ERR_INVALID_ARG" || error instanceof TypeError) {
    return new TransportError("InvalidURL", `cannot call the agent at ${url}: ${detail}`, {
      cause: error,
    });
  }
  return new TransportError(
    phase === "connect" ? "ConnectError" : "ReadError",
    `${detail} (${url})`,
    {
      cause: error,
    },
  );
}
