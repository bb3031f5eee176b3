// The command stream `GET /api/v1/relay/hub/{hub_id}/events` (relay-wire.md sections 2 and 4).
//
// Our own loop on undici + eventsource-parser rather than the `eventsource` package: that
// package closes for good on any non-200 (401, 429, 5xx alike), reconnects after a fixed 3 s
// with no growth, cap or jitter, has no read timeout, and cannot honour Retry-After or ask us
// to register again on a 404. Here every answer is classified (errors.ts), reconnects use capped
// exponential backoff with full jitter (also after a clean close, so never a hot loop), silence
// beyond `streamReadTimeoutMs` ends the connection, and `Last-Event-ID` is sent on reconnect.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { Logger } from "../log/logger.ts";
import type { RelayCommand, RelayCommandType } from "../wire/relay.ts";
import { fullJitterDelayMs, type Random } from "./backoff.ts";
import type { RelayClient } from "./client.ts";
import { delay } from "./delay.ts";
import { classifyNetworkError, type RelayAuthError, RelayError } from "./errors.ts";
import type { RelayLinkSettings } from "./settings.ts";

export type StreamConnection = "connecting" | "open" | "backoff" | "stopped";

export interface CommandStreamState {
  connection: StreamConnection;
  /** The last SSE `id:` the relay gave (sent back as `Last-Event-ID`). */
  lastEventId: string | null;
  /** Reconnect attempts made since start. */
  reconnects: number;
  /** Why the last session ended (null after a clean close or before any). */
  lastError: string | null;
  /** When the next connect is due (epoch ms) while in backoff. */
  nextAttemptAt: number | null;
  /** The wait chosen before the current/last reconnect. */
  backoffMs: number | null;
}

export interface CommandStreamOptions {
  client: RelayClient;
  hubId: string;
  settings: RelayLinkSettings;
  logger: Logger;
  /** The id to resume after (`Last-Event-ID` of the first connection), e.g. kept from an earlier run. */
  lastEventId?: string | null;
  /** Each command in stream order; a missing `type` arrives as `user_message`. */
  onCommand: (command: RelayCommand, eventId: string | null) => void;
  /** 404: register again (resolves when registered; rejects on auth failure or abort). */
  onNotRegistered: (signal: AbortSignal) => Promise<void>;
  /** 401/403: the stream stops for good. */
  onAuthError: (error: RelayAuthError) => void;
  /** The relay answered 200 `text/event-stream`. */
  onOpen?: () => void;
  /** A session ended: `error` null for a clean close by the relay. */
  onClose?: (error: RelayError | null) => void;
  random?: Random;
  /** Clock for the "healthy session" rule; tests may pin it. */
  now?: () => number;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set<RelayCommandType>([
  "connection_ready",
  "heartbeat",
  "user_message",
  "user_reply",
  "cancel_task",
]);
const TURN_TYPES: ReadonlySet<string> = new Set(["user_message", "user_reply", "cancel_task"]);
const PREVIEW_CHARS = 200;

export class CommandStream {
  private readonly options: CommandStreamOptions;
  private readonly random: Random;
  private readonly now: () => number;
  private connection: StreamConnection = "stopped";
  private lastEventId: string | null = null;
  private reconnects = 0;
  private lastError: string | null = null;
  private nextAttemptAt: number | null = null;
  private backoffMs: number | null = null;
  /** Set once the current session has proven itself (long enough, or a turn arrived). */
  private sessionHealthy = false;

  constructor(options: CommandStreamOptions) {
    this.options = options;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.lastEventId = options.lastEventId ?? null;
  }

  state(): CommandStreamState {
    return {
      connection: this.connection,
      lastEventId: this.lastEventId,
      reconnects: this.reconnects,
      lastError: this.lastError,
      nextAttemptAt: this.nextAttemptAt,
      backoffMs: this.backoffMs,
    };
  }

  /** Holds the stream until `signal` aborts or the key is refused. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { settings, logger } = this.options;
    let attempt = 0;
    while (!signal.aborted) {
      this.connection = "connecting";
      this.nextAttemptAt = null;
      this.sessionHealthy = false;
      const startedAt = this.now();
      let failure: RelayError | null = null;
      try {
        await this.session(signal, startedAt);
      } catch (error) {
        if (signal.aborted) break;
        failure = error instanceof RelayError ? error : classifyNetworkError("events", error);
      }
      if (signal.aborted) break;
      if (this.sessionHealthy || this.now() - startedAt >= settings.streamHealthyAfterMs)
        attempt = 0;
      this.lastError = failure ? failure.message : null;
      this.options.onClose?.(failure);

      if (failure?.kind === "auth") {
        this.options.onAuthError(failure as RelayAuthError);
        break;
      }
      if (failure?.kind === "not_registered") {
        logger.warn({ call: "events" }, failure.message);
        try {
          await this.options.onNotRegistered(signal);
        } catch {
          break; // auth failure (reported by the link) or abort
        }
      }

      // Retry-After is a floor: the backoff keeps growing even if the relay says "0".
      const waitMs = Math.max(
        failure?.retryAfterMs ?? 0,
        fullJitterDelayMs(
          attempt,
          settings.reconnectBaseDelayMs,
          settings.reconnectMaxDelayMs,
          this.random,
        ),
      );
      attempt += 1;
      this.reconnects += 1;
      if (failure === null) {
        logger.info(`relay closed the event stream; reconnecting in ${waitMs} ms`);
      } else if (failure.kind === "permanent") {
        logger.error(
          { call: "events", status: failure.status },
          `${failure.message}; reconnecting in ${waitMs} ms`,
        );
      } else if (failure.kind !== "not_registered") {
        logger.warn(
          { call: "events", code: failure.code },
          `event stream: ${failure.message} (reconnecting in ${waitMs} ms)`,
        );
      }
      this.connection = "backoff";
      this.backoffMs = waitMs;
      this.nextAttemptAt = this.now() + waitMs;
      // Ref'd on purpose: while the stream waits to reconnect, this timer is what keeps the
      // daemon's process alive.
      await delay(waitMs, signal);
    }
    this.connection = "stopped";
    this.nextAttemptAt = null;
  }

  /** One connection: resolves on a clean end, throws a RelayError (or abort) otherwise. */
  private async session(signal: AbortSignal, startedAt: number): Promise<void> {
    const { client, hubId, settings, logger } = this.options;
    const connection = new AbortController();
    const sessionSignal = AbortSignal.any([signal, connection.signal]);
    let readTimedOut = false;
    const watchdog = setTimeout(() => {
      readTimedOut = true;
      connection.abort();
    }, settings.streamReadTimeoutMs);
    watchdog.unref();
    try {
      const { body } = await client.openEvents(hubId, {
        lastEventId: this.lastEventId,
        signal: sessionSignal,
      });
      this.connection = "open";
      watchdog.refresh();
      logger.info(this.lastEventId ? { lastEventId: this.lastEventId } : {}, "event stream open");
      this.options.onOpen?.();

      let parseFailure: string | null = null;
      const parser = createParser({
        maxBufferSize: settings.streamMaxEventChars,
        onId: (id) => {
          this.lastEventId = id === "" ? null : id;
        },
        onEvent: (message) => this.dispatch(message, startedAt),
        onRetry: (ms) =>
          logger.debug({ retryMs: ms }, "relay suggested a retry delay (our backoff rules)"),
        onError: (error) => {
          if (error.type === "max-buffer-size-exceeded") parseFailure = error.message;
          else logger.debug({ err: error.message }, "malformed SSE line skipped");
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of body) {
        watchdog.refresh();
        parser.feed(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }));
        if (parseFailure !== null) {
          throw new RelayError(
            "transient",
            "events",
            `relay sent an event larger than ${settings.streamMaxEventChars} characters (${parseFailure})`,
            { code: "EventTooLarge" },
          );
        }
      }
    } catch (error) {
      if (readTimedOut && !signal.aborted) {
        throw new RelayError(
          "transient",
          "events",
          `no data on the event stream for ${settings.streamReadTimeoutMs} ms (the relay sends heartbeats about every 30 s); the connection is dead`,
          { code: "ReadTimeout", cause: error },
        );
      }
      throw error;
    } finally {
      clearTimeout(watchdog);
      connection.abort();
    }
  }

  /** Parses one `data:` payload and hands the command on; bad data is logged and skipped. */
  private dispatch(message: EventSourceMessage, startedAt: number): void {
    const { logger } = this.options;
    let value: unknown;
    try {
      value = JSON.parse(message.data);
    } catch {
      logger.warn(
        { data: message.data.slice(0, PREVIEW_CHARS) },
        "relay sent a command that is not JSON; skipped",
      );
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      logger.warn(
        { data: message.data.slice(0, PREVIEW_CHARS) },
        "relay sent a command that is not a JSON object; skipped",
      );
      return;
    }
    const raw = value as Record<string, unknown>;
    const type = raw.type === undefined || raw.type === null ? "user_message" : String(raw.type);
    if (!KNOWN_TYPES.has(type)) {
      logger.debug({ type }, "relay sent an unknown command type; ignored");
      return;
    }
    if (
      TURN_TYPES.has(type) ||
      this.now() - startedAt >= this.options.settings.streamHealthyAfterMs
    ) {
      this.sessionHealthy = true;
    }
    const command = (raw.type === type ? raw : { ...raw, type }) as unknown as RelayCommand;
    try {
      this.options.onCommand(command, message.id ?? null);
    } catch (error) {
      logger.error(
        { err: error instanceof Error ? error.message : String(error), type },
        "command handler threw; the stream goes on",
      );
    }
  }
}
