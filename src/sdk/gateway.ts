// HybroGateway: call agents through the Hybro Gateway API (hybro.ai, or the development relay)
// from your own code — discover, send, stream, card.
import { setTimeout as sleep } from "node:timers/promises";
import type { Dispatcher } from "undici";
import { Agent, request } from "../system/undici.ts";
import {
  type AgentCardResponse,
  DEFAULT_GATEWAY_URL,
  type DiscoveredAgent,
  type DiscoverRequest,
  type GatewaySendResponse,
} from "../wire/gateway.ts";
import { isRedirect, redirectText } from "../wire/redirect.ts";
import { readSseEvents } from "../wire/sse.ts";
import { GatewayConnectionError, GatewayError, gatewayErrorFromResponse } from "./errors.ts";
import {
  buildUserMessage,
  type GatewayTask,
  isSendResponse,
  type MessageInput,
  taskText,
} from "./message.ts";
import { type RateLimitInfo, rateLimitFromHeaders } from "./rate-limit.ts";
import { DEFAULT_RETRY_SETTINGS, retryDelayMs } from "./retry-policy.ts";
import {
  type GatewayStreamEvent,
  isTerminalStreamEvent,
  parseStreamEvent,
} from "./stream-event.ts";

export const DEFAULT_GATEWAY_BASE_URL = `${DEFAULT_GATEWAY_URL}/api/v1`;
/** Waiting for an answer (a `send` waits for the whole turn) and for each stream chunk. */
export const DEFAULT_GATEWAY_TIMEOUT_MS = 120_000;
export const DEFAULT_GATEWAY_CONNECT_TIMEOUT_MS = 10_000;
/** Environment variable the key is read from when `apiKey` is not given. */
export const GATEWAY_API_KEY_ENV = "HYBRO_API_KEY";

export interface HybroGatewayOptions {
  /** Defaults to `process.env.HYBRO_API_KEY`. */
  apiKey?: string | undefined;
  /** Defaults to `https://api.hybro.ai/api/v1`; the development relay's is `<relay url>/api/v1`. */
  baseUrl?: string | undefined;
  /** Headers and body-idle timeout of the client's own connection pool. */
  timeoutMs?: number | undefined;
  connectTimeoutMs?: number | undefined;
  /**
   * Automatic retries of a 429/503 that carries `Retry-After` (default 2; 0 turns them off).
   * Waits are cut short by the call's `signal`.
   */
  maxRetries?: number | undefined;
  /** A longer `Retry-After` is not waited out but thrown as the error (default 30 s). */
  maxRetryWaitMs?: number | undefined;
  /** Your own undici dispatcher (proxy, mock, shared pool); it is never closed by this client. */
  dispatcher?: Dispatcher | undefined;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}
export interface DiscoverOptions extends CallOptions {
  limit?: number | undefined;
}
export interface SendOptions extends CallOptions {
  /** Continue this conversation; a new one starts when absent. */
  contextId?: string | undefined;
  /** Continue this task (e.g. reply to an agent that asked for input). */
  taskId?: string | undefined;
}

/** The result of `send`: the agent's A2A task, with its answer text pulled out. */
export interface SendResult {
  task: GatewayTask;
  /** The answer: the artifacts' text, or the final status message's text. */
  text: string;
  /** `task.status.state`: `completed`, `failed`, `input-required`, … */
  state: string;
  taskId: string;
  contextId: string;
  /** The response body as received (`{result: Task}`). */
  raw: GatewaySendResponse;
}

interface Response {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData["body"];
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (error as { name?: string } | null)?.name === "AbortError";
}

function invalidResponse(status: number, message: string): GatewayError {
  return new GatewayError({ status, code: "invalid_response", message });
}

export class HybroGateway {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownAgent: Agent | undefined;
  readonly #retry: typeof DEFAULT_RETRY_SETTINGS;
  readonly #streams = new Set<AbortController>();
  #rateLimit: RateLimitInfo | null = null;
  #closed = false;

  constructor(options: HybroGatewayOptions = {}) {
    const apiKey = options.apiKey ?? process.env[GATEWAY_API_KEY_ENV];
    if (apiKey === undefined || apiKey.trim() === "") {
      throw new GatewayError({
        status: 0,
        code: "missing_api_key",
        message: `HybroGateway needs an API key: pass { apiKey } or set ${GATEWAY_API_KEY_ENV}`,
      });
    }
    this.#apiKey = apiKey.trim();
    this.baseUrl = (options.baseUrl ?? DEFAULT_GATEWAY_BASE_URL).replace(/\/+$/, "");
    this.#retry = {
      maxRetries: options.maxRetries ?? DEFAULT_RETRY_SETTINGS.maxRetries,
      maxRetryWaitMs: options.maxRetryWaitMs ?? DEFAULT_RETRY_SETTINGS.maxRetryWaitMs,
    };
    if (options.dispatcher) {
      this.#dispatcher = options.dispatcher;
    } else {
      const timeoutMs = options.timeoutMs ?? DEFAULT_GATEWAY_TIMEOUT_MS;
      this.#ownAgent = new Agent({
        connect: { timeout: options.connectTimeoutMs ?? DEFAULT_GATEWAY_CONNECT_TIMEOUT_MS },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      this.#dispatcher = this.#ownAgent;
    }
  }

  /** `X-RateLimit-*` of the last response that carried them; null before any. */
  get rateLimit(): RateLimitInfo | null {
    return this.#rateLimit;
  }

  /** Agents matching a free-text query, best match first. */
  async discover(query: string, options: DiscoverOptions = {}): Promise<DiscoveredAgent[]> {
    const body: DiscoverRequest = { query };
    if (options.limit !== undefined) body.limit = options.limit;
    const res = await this.#call("POST", "/gateway/agents/discover", body, options.signal);
    const json = await this.#json(res);
    const agents = (json as { agents?: unknown } | null)?.agents;
    if (!Array.isArray(agents)) {
      throw invalidResponse(res.statusCode, "discover: the response has no `agents` list");
    }
    return agents.filter(
      (a): a is DiscoveredAgent =>
        typeof a === "object" && a !== null && typeof (a as DiscoveredAgent).agent_id === "string",
    );
  }

  /** Sends one message and waits for the whole turn; the result holds the A2A task. */
  async send(agentId: string, input: MessageInput, options: SendOptions = {}): Promise<SendResult> {
    const message = buildUserMessage(input, options);
    const res = await this.#call(
      "POST",
      `${agentPath(agentId)}/message/send`,
      { message },
      options.signal,
    );
    const json = await this.#json(res);
    if (!isSendResponse(json)) {
      throw invalidResponse(res.statusCode, "send: the response is not {result: Task}");
    }
    const task = json.result;
    return {
      task,
      text: taskText(task),
      state: task.status.state,
      taskId: task.id,
      contextId: typeof task.contextId === "string" ? task.contextId : message.contextId,
      raw: json,
    };
  }

  /**
   * Sends one message and yields the turn's relay events as they arrive, ending after
   * `processing_status`. Leaving the loop early closes the HTTP stream, which cancels the turn.
   */
  async *stream(
    agentId: string,
    input: MessageInput,
    options: SendOptions = {},
  ): AsyncGenerator<GatewayStreamEvent, void, undefined> {
    const message = buildUserMessage(input, options);
    const controller = new AbortController();
    const signal = options.signal
      ? AbortSignal.any([controller.signal, options.signal])
      : controller.signal;
    this.#streams.add(controller);
    let res: Response | undefined;
    try {
      res = await this.#call(
        "POST",
        `${agentPath(agentId)}/message/stream`,
        { message },
        signal,
        "text/event-stream",
      );
      try {
        for await (const sse of readSseEvents(res.body)) {
          const event = parseStreamEvent(sse.data);
          if (event === null) continue;
          const failure = streamFailure(event, res.statusCode);
          if (failure) throw failure;
          yield event;
          if (isTerminalStreamEvent(event)) return;
        }
      } catch (error) {
        if (error instanceof GatewayError) throw error;
        if (isAbort(error, signal)) throw signal.reason ?? error;
        throw new GatewayConnectionError({
          status: res.statusCode,
          code: (error as { code?: string }).code ?? "stream_error",
          message: `the stream from the gateway broke off: ${(error as Error).message}`,
          cause: error,
        });
      }
      throw new GatewayConnectionError({
        status: res.statusCode,
        code: "incomplete_stream",
        message: "the gateway closed the stream before the turn finished",
      });
    } finally {
      // Closing the socket is what tells the relay the caller left (it then cancels the turn).
      this.#streams.delete(controller);
      controller.abort();
      res?.body.destroy();
    }
  }

  /** The agent's card, with its URL masked by the gateway. */
  async getCard(agentId: string, options: CallOptions = {}): Promise<AgentCardResponse> {
    const res = await this.#call("GET", `${agentPath(agentId)}/card`, undefined, options.signal);
    const json = await this.#json(res);
    if (typeof json !== "object" || json === null || !("agent_card" in json)) {
      throw invalidResponse(res.statusCode, "card: the response has no `agent_card`");
    }
    return json as AgentCardResponse;
  }

  /** Ends open streams and closes the connection pool this client made (not a given one). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const reason = new GatewayError({
      status: 0,
      code: "client_closed",
      message: "HybroGateway was closed while the stream was open",
    });
    for (const controller of this.#streams) controller.abort(reason);
    this.#streams.clear();
    await this.#ownAgent?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** One call with automatic retries; resolves with a 2xx response, throws the mapped error. */
  async #call(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    accept = "application/json",
  ): Promise<Response> {
    if (this.#closed) {
      throw new GatewayError({
        status: 0,
        code: "client_closed",
        message: "HybroGateway is closed",
      });
    }
    const url = this.baseUrl + path;
    const headers: Record<string, string> = {
      "x-api-key": this.#apiKey,
      accept,
      "user-agent": "hybro-hub-sdk",
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      let res: Response;
      try {
        res = await request(url, {
          method,
          headers,
          body: payload,
          signal,
          dispatcher: this.#dispatcher,
        });
      } catch (error) {
        if (isAbort(error, signal)) throw signal?.reason ?? error;
        throw new GatewayConnectionError({
          status: 0,
          code: (error as { code?: string }).code ?? "connection_error",
          message: `cannot reach the gateway at ${new URL(url).origin}: ${(error as Error).message}`,
          cause: error,
        });
      }
      const limits = rateLimitFromHeaders(res.headers);
      if (limits) this.#rateLimit = limits;
      if (res.statusCode >= 200 && res.statusCode < 300) return res;
      if (isRedirect(res.statusCode)) {
        // Never followed (the key would go wherever it points): say where, so the URL gets fixed.
        await res.body.dump().catch(() => undefined);
        const message = redirectText(res.statusCode, headerText(res.headers.location));
        throw new GatewayError({
          status: res.statusCode,
          code: `http_${res.statusCode}`,
          message,
          detail: { message },
        });
      }

      const retryAfter = headerText(res.headers["retry-after"]);
      let text = "";
      try {
        text = await res.body.text();
      } catch (error) {
        if (isAbort(error, signal)) throw signal?.reason ?? error;
      }
      const waitMs = retryDelayMs(res.statusCode, retryAfter, attempt, this.#retry);
      if (waitMs === null) throw gatewayErrorFromResponse(res.statusCode, text, retryAfter);
      try {
        await sleep(waitMs, undefined, { signal });
      } catch (error) {
        throw signal?.reason ?? error;
      }
    }
  }

  async #json(res: Response): Promise<unknown> {
    let text: string;
    try {
      text = await res.body.text();
    } catch (error) {
      if ((error as { name?: string }).name === "AbortError") throw error;
      throw new GatewayConnectionError({
        status: res.statusCode,
        code: (error as { code?: string }).code ?? "connection_error",
        message: `the gateway's answer broke off: ${(error as Error).message}`,
        cause: error,
      });
    }
    try {
      return JSON.parse(text);
    } catch {
      throw invalidResponse(
        res.statusCode,
        `the gateway answered with non-JSON: ${text.slice(0, 200)}`,
      );
    }
  }
}

/**
 * A gateway-level failure sent inside a stream (`{"type":"error","error":code,"message"}`,
 * e.g. `agent_timeout`) as the error to throw; null for any other event.
 */
function streamFailure(event: GatewayStreamEvent, status: number): GatewayError | null {
  if (event.type !== "unrecognized") return null;
  const raw = event.raw as Record<string, unknown> | null;
  if (typeof raw !== "object" || raw === null || raw["type"] !== "error") return null;
  const { type: _type, ...detail } = raw;
  const code = typeof detail["error"] === "string" ? detail["error"] : "stream_error";
  const message =
    typeof detail["message"] === "string" ? detail["message"] : `the stream failed: ${code}`;
  return new GatewayError({ status, code, message, detail });
}

function agentPath(agentId: string): string {
  return `/gateway/agents/${encodeURIComponent(agentId)}`;
}
