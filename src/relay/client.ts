// One-shot relay calls (relay-wire.md section 1) over undici with our own dispatcher: explicit
// connect/headers/body timeouts (undici's 300 s defaults would hide a dead relay for minutes),
// a whole-call deadline on top (those two are idle timeouts: a relay dribbling one byte every
// 10 s would pass them for ever), a size cap on every answer read, the proxy variables honoured,
// and every failure returned as a classified RelayError.
import { readFileSync } from "node:fs";
import type { Dispatcher } from "undici";
import { Agent, EnvHttpProxyAgent } from "../system/undici.ts";
import { DEFAULT_GATEWAY_URL } from "../wire/gateway.ts";
import type {
  HubStatus,
  HubStatusResponse,
  PublishedEvent,
  SyncAgent,
  SyncResponse,
} from "../wire/relay.ts";
import { HUB_API_PREFIX } from "../wire/relay.ts";
import {
  answerTooLargeError,
  callDeadlineError,
  classifyNetworkError,
  classifyResponse,
  type RelayCall,
  RelayError,
  wrongContentTypeError,
} from "./errors.ts";
import { type RelayLinkSettings, relayLinkSettings } from "./settings.ts";

interface RelayClientOptions {
  /** Relay base URL; default `https://api.hybro.ai`; a trailing `/` is ignored. */
  gatewayUrl?: string;
  /** Read on every call, so a rotated key is used without a restart. */
  apiKey: () => string;
  /** Where the key came from ("--api-key", "HYBRO_API_KEY", "config file"), for auth messages. */
  keySource: string;
  settings?: Partial<RelayLinkSettings>;
  /** Default `hybro-hub/<package version>`. */
  userAgent?: string;
  /** Where to read `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` from; default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** `register`'s answer; `user_id` is null when the relay left it out (never a crash). */
interface RegisterResult {
  hub_id: string;
  user_id: string | null;
}

/** An open command stream: the SSE body, to be read until it ends or the signal aborts. */
interface OpenEventStream {
  body: AsyncIterable<Uint8Array | string>;
}

/** Of an error answer only this much is read: enough for the relay's reason. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export class RelayClient {
  readonly gatewayUrl: string;
  readonly keySource: string;
  readonly settings: RelayLinkSettings;
  /** True when the calls go through a proxy from the environment. */
  readonly proxied: boolean;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly apiKey: () => string;
  private readonly userAgent: string;
  private readonly dispatcher: Dispatcher;

  constructor(options: RelayClientOptions) {
    this.gatewayUrl = normaliseGatewayUrl(options.gatewayUrl ?? DEFAULT_GATEWAY_URL);
    const url = new URL(this.gatewayUrl);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.keySource = options.keySource;
    this.settings = relayLinkSettings(options.settings);
    this.userAgent = options.userAgent ?? `hybro-hub/${hubVersion()}`;

    const agentOptions = {
      connect: { timeout: this.settings.connectTimeoutMs },
      headersTimeout: this.settings.requestTimeoutMs,
      bodyTimeout: this.settings.requestTimeoutMs,
    };
    const env = options.env ?? process.env;
    const httpProxy = env.HTTP_PROXY ?? env.http_proxy;
    const httpsProxy = env.HTTPS_PROXY ?? env.https_proxy;
    const noProxy = env.NO_PROXY ?? env.no_proxy;
    this.proxied = Boolean(httpProxy || httpsProxy);
    this.dispatcher = this.proxied
      ? // Empty strings, not undefined: our `env` is authoritative (undici would read process.env).
        new EnvHttpProxyAgent({
          ...agentOptions,
          httpProxy: httpProxy ?? "",
          httpsProxy: httpsProxy ?? "",
          noProxy: noProxy ?? "",
        })
      : new Agent(agentOptions);
  }

  /** `POST /register`: binds `hubId` to the key's user. */
  async register(hubId: string, signal?: AbortSignal): Promise<RegisterResult> {
    const body = await this.call("register", "POST", "/register", { hub_id: hubId }, signal);
    const answer = asRecord(body);
    return {
      hub_id: typeof answer.hub_id === "string" ? answer.hub_id : hubId,
      user_id: typeof answer.user_id === "string" ? answer.user_id : null,
    };
  }

  /** `POST /{hub}/agents/sync` with the whole roster (`prune_missing: true`). */
  async syncAgents(
    hubId: string,
    agents: SyncAgent[],
    signal?: AbortSignal,
  ): Promise<SyncResponse> {
    const body = await this.call(
      "sync",
      "POST",
      `/${encodeURIComponent(hubId)}/agents/sync`,
      { agents, prune_missing: true },
      signal,
    );
    const synced = asRecord(body).synced;
    return { synced: Array.isArray(synced) ? (synced as SyncResponse["synced"]) : [] };
  }

  /** `POST /{hub}/heartbeat`. */
  async heartbeat(hubId: string, signal?: AbortSignal): Promise<void> {
    await this.call("heartbeat", "POST", `/${encodeURIComponent(hubId)}/heartbeat`, null, signal);
  }

  /** `POST /{hub}/publish`: events of one room, in order. */
  async publish(
    hubId: string,
    roomId: string,
    events: readonly PublishedEvent[],
    signal?: AbortSignal,
  ): Promise<void> {
    await this.call(
      "publish",
      "POST",
      `/${encodeURIComponent(hubId)}/publish`,
      { room_id: roomId, events },
      signal,
    );
  }

  /** `GET /status`: every hub of the key's user (missing counts read as 0). */
  async status(signal?: AbortSignal): Promise<HubStatusResponse> {
    const body = await this.call("status", "GET", "/status", null, signal);
    const hubs = asRecord(body).hubs;
    return {
      hubs: (Array.isArray(hubs) ? hubs : []).map((raw): HubStatus => {
        const hub = asRecord(raw);
        return {
          hub_id: String(hub.hub_id ?? ""),
          is_online: hub.is_online === true,
          agent_count: count(hub.agent_count),
          active_agent_count: count(hub.active_agent_count),
          inactive_agent_count: count(hub.inactive_agent_count),
        };
      }),
    };
  }

  /**
   * `GET /{hub}/events`: resolves once the relay answered 200 `text/event-stream`; throws a
   * classified RelayError otherwise. Aborting `signal` ends the body.
   */
  async openEvents(
    hubId: string,
    options: { lastEventId?: string | null; signal: AbortSignal },
  ): Promise<OpenEventStream> {
    const headers = this.headers(false);
    const keyUsed = headers["x-api-key"]!;
    headers.accept = "text/event-stream";
    headers["cache-control"] = "no-store";
    if (options.lastEventId) headers["last-event-id"] = options.lastEventId;
    const response = await this.send("events", {
      method: "GET",
      path: `${this.basePath}${HUB_API_PREFIX}/${encodeURIComponent(hubId)}/events`,
      headers,
      signal: options.signal,
      // The stream's own watchdog (streamReadTimeoutMs) fires first; this is a backstop.
      bodyTimeout: this.settings.streamReadTimeoutMs * 2,
    });
    await this.throwIfFailed("events", response, keyUsed);
    const contentType = headerText(response.headers["content-type"]);
    if (!contentType?.toLowerCase().startsWith("text/event-stream")) {
      discard(response.body);
      throw wrongContentTypeError(contentType);
    }
    return { body: response.body };
  }

  /** Ends every connection at once (in-flight calls fail). */
  async close(): Promise<void> {
    await this.dispatcher.destroy().catch(() => undefined);
  }

  private async call(
    call: RelayCall,
    method: "GET" | "POST",
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const deadline = new CallDeadline(call, this.settings.requestDeadlineMs, signal);
    try {
      const headers = this.headers(body !== null);
      const response = await this.send(call, {
        method,
        path: `${this.basePath}${HUB_API_PREFIX}${path}`,
        headers,
        body: body === null ? null : JSON.stringify(body),
        signal: deadline.signal,
      });
      await this.throwIfFailed(call, response, headers["x-api-key"]!);
      if (response.statusCode === 204) {
        await response.body.dump().catch(() => undefined);
        return {};
      }
      const text = await this.readText(call, response, this.settings.maxAnswerBytes, true);
      if (text.trim() === "") return {};
      try {
        return JSON.parse(text) as unknown;
      } catch {
        // A 2xx whose body we do not need (heartbeat, publish) is still a success.
        return {};
      }
    } catch (error) {
      throw deadline.explain(error);
    } finally {
      deadline.end();
    }
  }

  private async send(
    call: RelayCall,
    options: Omit<Dispatcher.RequestOptions, "origin">,
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await this.dispatcher.request({ ...options, origin: this.origin });
    } catch (error) {
      if (options.signal && (options.signal as AbortSignal).aborted) throw error;
      throw classifyNetworkError(call, error, "connect");
    }
  }

  private async throwIfFailed(
    call: RelayCall,
    response: Dispatcher.ResponseData,
    keyUsed: string,
  ): Promise<void> {
    if (response.statusCode >= 200 && response.statusCode < 300) return;
    if ((response.statusCode === 401 || response.statusCode === 403) && keyUsed !== this.apiKey()) {
      // The key was replaced while this call was in flight (rotation: new key saved, old one
      // revoked): the refusal is about the old key, so try again at once with the new one.
      await response.body.dump().catch(() => undefined);
      throw new RelayError(
        "transient",
        call,
        `relay refused the previous API key (${response.statusCode}) after it was replaced; retrying with the new key`,
        { status: response.statusCode, retryAfterMs: 0 },
      );
    }
    const bodyText = await this.readText(call, response, MAX_ERROR_BODY_BYTES, false).catch(
      () => "",
    );
    const error = classifyResponse({
      call,
      status: response.statusCode,
      headers: response.headers,
      bodyText: this.mask(bodyText),
      keySource: this.keySource,
      maxRetryAfterMs: this.settings.maxRetryAfterMs,
    });
    if (error) throw error;
  }

  /**
   * The body as text, at most `maxBytes`: beyond it the rest is discarded and the text cut
   * there, or (`mustFit`, an answer we need whole) the call fails as a too-large answer.
   */
  private async readText(
    call: RelayCall,
    response: Dispatcher.ResponseData,
    maxBytes: number,
    mustFit: boolean,
  ): Promise<string> {
    const declared = Number(headerText(response.headers["content-length"]));
    if (mustFit && Number.isFinite(declared) && declared > maxBytes) {
      discard(response.body);
      throw answerTooLargeError(call, response.statusCode, maxBytes);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
        if (size + bytes.length > maxBytes) {
          discard(response.body);
          if (mustFit) throw answerTooLargeError(call, response.statusCode, maxBytes);
          chunks.push(bytes.subarray(0, maxBytes - size));
          break;
        }
        size += bytes.length;
        chunks.push(bytes);
      }
    } catch (error) {
      if (error instanceof RelayError) throw error;
      throw classifyNetworkError(call, error);
    }
    return new TextDecoder().decode(Buffer.concat(chunks));
  }

  private headers(json: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      "x-api-key": this.apiKey(),
      "user-agent": this.userAgent,
      accept: "application/json",
    };
    if (json) headers["content-type"] = "application/json";
    return headers;
  }

  /** Removes the key from relay text that ends up in errors and logs. */
  private mask(text: string): string {
    const key = this.apiKey();
    return key.length >= 8 && text.includes(key) ? text.split(key).join("[REDACTED]") : text;
  }
}

/** Trailing slashes stripped; the URL must be http(s). */
function normaliseGatewayUrl(url: string): string {
  const trimmed = url.trim().replace(/\/+$/, "");
  const parsed = new URL(trimmed);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`gateway URL '${trimmed}' must start with http:// or https://`);
  }
  return trimmed;
}

let cachedVersion: string | null = null;
/** The package version for the User-Agent (read once; "0.0.0" if package.json is unreadable). */
function hubVersion(): string {
  if (cachedVersion === null) {
    try {
      const url = new URL("../../package.json", import.meta.url);
      cachedVersion = String(
        (JSON.parse(readFileSync(url, "utf8")) as { version?: unknown }).version,
      );
    } catch {
      cachedVersion = "0.0.0";
    }
  }
  return cachedVersion;
}

/**
 * The whole-call deadline of one short call: its signal aborts when the caller's does, or when
 * `deadlineMs` has passed since the call began, whatever the relay is still sending.
 */
class CallDeadline {
  readonly signal: AbortSignal;
  readonly #call: RelayCall;
  readonly #deadlineMs: number;
  readonly #outer: AbortSignal | undefined;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  readonly #onOuterAbort = () => this.#controller.abort(this.#outer?.reason);
  #expired = false;

  constructor(call: RelayCall, deadlineMs: number, outer: AbortSignal | undefined) {
    this.#call = call;
    this.#deadlineMs = deadlineMs;
    this.#outer = outer;
    this.signal = this.#controller.signal;
    this.#timer = setTimeout(() => {
      this.#expired = true;
      this.#controller.abort(callDeadlineError(call, deadlineMs));
    }, deadlineMs);
    this.#timer.unref();
    if (outer?.aborted) this.#onOuterAbort();
    else outer?.addEventListener("abort", this.#onOuterAbort, { once: true });
  }

  /** A failure of the call as the caller should see it: the deadline's error once it passed. */
  explain(error: unknown): unknown {
    if (this.#outer?.aborted) return error;
    return this.#expired ? callDeadlineError(this.#call, this.#deadlineMs) : error;
  }

  end(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener("abort", this.#onOuterAbort);
  }
}

/** Drops a body we will not read (undici reports the destroy as an error event; swallow it). */
function discard(body: Dispatcher.ResponseData["body"]): void {
  body.on("error", () => undefined);
  body.destroy();
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function headerText(value: string | string[] | undefined): string | null {
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}
