// The command stream `GET /api/v1/relay/hub/{hub_id}/events` (relay-wire.md sections 2 and 4).
//
// Our own loop on undici + the one SSE reader (wire/sse.ts) rather than the `eventsource` package: that
// package closes for good on any non-200 (401, 429, 5xx alike), reconnects after a fixed 3 s
// with no growth, cap or jitter, has no read timeout, and cannot honour Retry-After or ask us
// to register again on a 404. Here every answer is classified (errors.ts), reconnects use capped
// exponential backoff with full jitter (also after a clean close, so never a hot loop), silence
// beyond `streamReadTimeoutMs` ends the connection, and `Last-Event-ID` is sent on reconnect.
// Setup problems seen on the stream (the relay's `error` event, another hub with the same id)
// are told once and slow the reconnects down (stream-health.ts); an SSE id is kept only if it
// can be sent back as a header (event-id.ts).
import { Backoff, type Random } from "../async/backoff.ts";
import { type Clock, systemClock } from "../async/clock.ts";
import { untilSettled } from "../async/deferred.ts";
import type { Logger } from "../log/logger.ts";
import type { RelayCommand } from "../wire/relay.ts";
import { type ParsedRelayCommand, readRelayCommandData } from "../wire/relay-command.ts";
import { readSseEvents, type SseEvent, SseEventTooLargeError } from "../wire/sse.ts";
import type { RelayClient } from "./client.ts";
import {
  classifyNetworkError,
  type RelayAuthError,
  RelayError,
  relayText,
  streamRefusedError,
} from "./errors.ts";
import { isResumableEventId, previewEventId, whyNotResumable } from "./event-id.ts";
import { failurePlan } from "./failure-policy.ts";
import type { RelayLinkSettings } from "./settings.ts";
import { type SessionVerdict, StreamHealth, type StreamProblem } from "./stream-health.ts";

export type StreamConnection = "connecting" | "open" | "backoff" | "stopped";

interface CommandStreamState {
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
  /** A setup problem the sessions show (the relay refuses the hub, another hub uses its id). */
  problem: StreamProblem | null;
}

export interface CommandStreamOptions {
  client: RelayClient;
  hubId: string;
  settings: RelayLinkSettings;
  logger: Logger;
  /** The id to resume after (`Last-Event-ID` of the first connection), e.g. kept from an earlier run. */
  lastEventId?: string | null;
  /**
   * Each command in stream order; a missing `type` arrives as `user_message`. `eventId`: the
   * event's SSE id when it carried a usable one, `""` when it cleared the id, else null.
   */
  onCommand: (command: RelayCommand, eventId: string | null, parsed: ParsedRelayCommand) => void;
  /** 404, or the relay refused the hub: register again (rejects on auth failure or abort). */
  onNotRegistered: (signal: AbortSignal) => Promise<void>;
  /** 401/403: the stream stops for good. */
  onAuthError: (error: RelayAuthError) => void;
  /** The relay refused a stream that carried `Last-Event-ID`: the id is dropped; forget it too. */
  onEventIdDropped?: () => void;
  /** The relay answered 200 `text/event-stream`. */
  onOpen?: () => void;
  /**
   * Backpressure: a promise while the hub should take no more commands (its answers are not
   * sent yet); the stream is not read further until it settles. Asked after each command.
   */
  intake?: () => Promise<void> | null;
  /** A session ended: `error` null for a clean close by the relay. */
  onClose?: (error: RelayError | null) => void;
  random?: Random;
  /** Clock for the "healthy session" rule and the setup patterns; tests may pin it. */
  now?: () => number;
  /** Time for the reconnect waits (and `now`, unless that is given); default the system clock. */
  clock?: Clock;
}

/** One connection attempt, as the reconnect loop sees it afterwards. */
interface SessionReport {
  /** The relay answered 200 `text/event-stream`. */
  opened: boolean;
  /** It sent `connection_ready`. */
  ready: boolean;
  /** The relay's words when it refused the stream (the `error` event). */
  refusal: string | null;
  /** Why it ended; null for a clean end by the relay (or an abort). */
  failure: RelayError | null;
  /** The `Last-Event-ID` this attempt sent. */
  sentEventId: string | null;
}

const TURN_TYPES: ReadonlySet<string> = new Set(["user_message", "user_reply", "cancel_task"]);
const PREVIEW_CHARS = 200;

export class CommandStream {
  private readonly options: CommandStreamOptions;
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly health: StreamHealth;
  private connection: StreamConnection = "stopped";
  private lastEventId: string | null = null;
  private reconnects = 0;
  private lastError: string | null = null;
  private nextAttemptAt: number | null = null;
  private backoffMs: number | null = null;
  /** Set once the current session has proven itself (long enough, or a turn arrived). */
  private sessionHealthy = false;
  /** The session being read, for dispatch to note `connection_ready` and refusals in. */
  private current: SessionReport | null = null;
  /** How the previous session ended, while no stream has been accepted since (repeats log quietly). */
  private lastEnd: string | null = null;
  /** Sessions that failed or ended early since a stream was last accepted. */
  private failedInARow = 0;
  private unusableIdLogged = false;

  constructor(options: CommandStreamOptions) {
    this.options = options;
    this.random = options.random ?? Math.random;
    const clock = options.clock ?? systemClock;
    this.clock = options.now ? { ...clock, now: options.now } : clock;
    this.now = () => this.clock.now();
    this.health = new StreamHealth(options.hubId, options.settings, this.now);
    this.lastEventId = options.lastEventId ?? null;
  }

  /** The id to resume after, read when the link starts (not when it is built). */
  resumeAfter(eventId: string | null): void {
    this.lastEventId = eventId;
  }

  state(): CommandStreamState {
    return {
      connection: this.connection,
      lastEventId: this.lastEventId,
      reconnects: this.reconnects,
      lastError: this.lastError,
      nextAttemptAt: this.nextAttemptAt,
      backoffMs: this.backoffMs,
      problem: this.health.problem(),
    };
  }

  /** Holds the stream until `signal` aborts or the key is refused. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { settings } = this.options;
    // A session that stayed up `streamHealthyAfterMs`, or carried a turn, starts it over.
    const backoff = new Backoff(
      {
        baseDelayMs: settings.reconnectBaseDelayMs,
        maxDelayMs: settings.reconnectMaxDelayMs,
        jitter: "full",
        stableRunMs: settings.streamHealthyAfterMs,
      },
      { clock: this.clock, random: this.random },
    );
    while (!signal.aborted) {
      this.connection = "connecting";
      this.nextAttemptAt = null;
      this.sessionHealthy = false;
      const startedAt = this.now();
      backoff.runStarted();
      const report = await this.session(signal, startedAt);
      if (signal.aborted) break;
      if (!backoff.runEnded() && this.sessionHealthy) backoff.reset();
      const failure = report.failure;
      const plan = failure ? failurePlan("events", failure) : null;
      this.lastError = failure ? failure.message : null;
      this.options.onClose?.(failure);

      if (plan?.stop) {
        this.options.onAuthError(failure as RelayAuthError);
        break;
      }
      const verdict = this.health.ended(
        report.refusal !== null
          ? { kind: "refused", reason: report.refusal }
          : failure
            ? { kind: "failed" }
            : { kind: "closed", ready: report.ready },
      );
      if (report.sentEventId !== null && !report.opened && failure && idMayBeTheCause(failure)) {
        this.dropEventId(report.sentEventId, failure);
      }

      // Retry-After and the setup floor are floors: the backoff keeps growing under them.
      const waitMs = backoff.nextDelayMs(
        Math.max(failure?.retryAfterMs ?? 0, this.health.floorMs(this.random)),
      );
      this.reconnects += 1;
      this.logEnd(report, verdict, waitMs);
      this.connection = "backoff";
      this.backoffMs = waitMs;
      this.nextAttemptAt = this.now() + waitMs;
      // Ref'd on purpose: while the stream waits to reconnect, this timer is what keeps the
      // daemon's process alive.
      await this.clock.sleep(waitMs, signal).catch(() => undefined);
      if (signal.aborted) break;
      if (plan?.reregister) {
        try {
          await this.options.onNotRegistered(signal);
        } catch {
          break; // auth failure (reported by the link) or abort
        }
      }
    }
    this.connection = "stopped";
    this.nextAttemptAt = null;
  }

  /** One connection, from connect to its end; never throws (an abort ends it quietly). */
  private async session(signal: AbortSignal, startedAt: number): Promise<SessionReport> {
    const { client, hubId, settings, logger } = this.options;
    const report: SessionReport = {
      opened: false,
      ready: false,
      refusal: null,
      failure: null,
      sentEventId: this.lastEventId,
    };
    this.current = report;
    const connection = new AbortController();
    const sessionSignal = AbortSignal.any([signal, connection.signal]);
    let readTimedOut = false;
    /** Not reading by choice (backpressure): silence then is ours, not a dead connection. */
    let holding = false;
    const watchdog = setTimeout(() => {
      if (holding) {
        watchdog.refresh();
        return;
      }
      readTimedOut = true;
      connection.abort();
    }, settings.streamReadTimeoutMs);
    watchdog.unref();
    try {
      const { body } = await client.openEvents(hubId, {
        lastEventId: report.sentEventId,
        signal: sessionSignal,
      });
      report.opened = true;
      this.connection = "open";
      watchdog.refresh();
      // Quiet while sessions keep failing; `connection_ready` then says the stream is back.
      logger[this.failedInARow === 0 ? "info" : "debug"](
        this.lastEventId ? { lastEventId: this.lastEventId } : {},
        "event stream open",
      );
      this.options.onOpen?.();

      const events = readSseEvents(body, {
        maxEventChars: settings.streamMaxEventChars,
        onChunk: () => watchdog.refresh(),
        onId: (id) => this.keepEventId(id),
        onRetry: (ms) =>
          logger.debug({ retryMs: ms }, "relay suggested a retry delay (our backoff rules)"),
        onSkipped: (why) => logger.debug({ err: why }, "malformed SSE line skipped"),
      });
      for await (const event of events) {
        this.dispatch(event, startedAt);
        if (report.refusal !== null) break; // the relay ends a refused stream; do not wait for it
        const held = this.options.intake?.();
        if (held) {
          holding = true;
          await untilSettled(held, sessionSignal).finally(() => {
            holding = false;
            watchdog.refresh();
          });
        }
      }
    } catch (error) {
      if (!signal.aborted && report.refusal === null) {
        report.failure =
          readTimedOut && !signal.aborted
            ? new RelayError(
                "transient",
                "events",
                `no data on the event stream for ${settings.streamReadTimeoutMs} ms (the relay sends heartbeats about every 30 s); the connection is dead`,
                { code: "ReadTimeout", cause: error },
              )
            : error instanceof SseEventTooLargeError
              ? new RelayError(
                  "transient",
                  "events",
                  `relay sent an event larger than ${settings.streamMaxEventChars} characters`,
                  { code: "EventTooLarge", cause: error },
                )
              : error instanceof RelayError
                ? error
                : classifyNetworkError("events", error);
      }
    } finally {
      clearTimeout(watchdog);
      connection.abort();
      this.current = null;
    }
    if (report.refusal !== null) report.failure = streamRefusedError(report.refusal);
    else if (report.failure?.kind === "hub_refused") {
      // A 403 about the hub on the stream itself: the same setup problem as the `error` event.
      report.refusal = relayText(report.failure.detail?.message || report.failure.message);
    }
    return report;
  }

  /** Hands one `data:` payload on, parsed (wire/relay-command.ts); bad data is logged and skipped. */
  private dispatch(message: SseEvent, startedAt: number): void {
    const { logger } = this.options;
    const report = this.current;
    if (report?.refusal != null) return; // nothing after a refusal counts
    const data = readRelayCommandData(message.data);
    if (data.kind === "not_json" || data.kind === "not_object") {
      logger.warn(
        { data: message.data.slice(0, PREVIEW_CHARS) },
        data.kind === "not_json"
          ? "relay sent a command that is not JSON; skipped"
          : "relay sent a command that is not a JSON object; skipped",
      );
      return;
    }
    if (data.kind === "refused") {
      // The relay refuses this stream (hybro.ai: the hub id is not the key's account's).
      if (report) report.refusal = relayText(data.reason);
      return;
    }
    const { type, command: parsed } = data;
    if (parsed.kind === "unknown") {
      logger.debug({ type }, "relay sent an unknown command type; ignored");
      return;
    }
    if (type === "connection_ready" && report) this.accepted(report);
    if (
      TURN_TYPES.has(type) ||
      this.now() - startedAt >= this.options.settings.streamHealthyAfterMs
    ) {
      this.sessionHealthy = true;
    }
    // As received, for the inspector and the tests; the hub runs `parsed`.
    const command = data.raw as unknown as RelayCommand;
    const id = message.id;
    const usableId = id === undefined ? null : id === "" || isResumableEventId(id) ? id : null;
    try {
      this.options.onCommand(command, usableId, parsed);
    } catch (error) {
      logger.error(
        { err: error instanceof Error ? error.message : String(error), type },
        "command handler threw; the stream goes on",
      );
    }
  }

  /** `connection_ready`: the relay accepted this stream; a refusal or a run of failures is over. */
  private accepted(report: SessionReport): void {
    report.ready = true;
    const { logger } = this.options;
    const refusal = this.health.ready();
    if (refusal) {
      logger.info(
        { hubId: this.options.hubId },
        "the relay accepts this hub's command stream again",
      );
    } else if (this.failedInARow > 0) {
      logger.info({ failedAttempts: this.failedInARow }, "event stream open again");
    }
    this.failedInARow = 0;
    this.lastEnd = null;
  }

  /** An SSE `id:` line: kept only if it can be sent back as `Last-Event-ID`. */
  private keepEventId(id: string): void {
    if (id === "") {
      this.lastEventId = null;
      return;
    }
    if (isResumableEventId(id)) {
      this.lastEventId = id;
      return;
    }
    this.options.logger[this.unusableIdLogged ? "debug" : "warn"](
      { id: previewEventId(id), length: id.length },
      `relay sent an SSE id the hub cannot send back as Last-Event-ID (${whyNotResumable(id)}); ignored, the hub resumes after the last usable id`,
    );
    this.unusableIdLogged = true;
  }

  /** The relay refused a stream that carried `Last-Event-ID`: try without it. */
  private dropEventId(sent: string, failure: RelayError): void {
    this.options.logger.warn(
      { lastEventId: previewEventId(sent), status: failure.status },
      `the relay refused the event stream while it carried Last-Event-ID (${failure.message}); the id is dropped and the hub reconnects without it (commands sent while it was away may not be replayed)`,
    );
    if (this.lastEventId === sent) this.lastEventId = null;
    this.options.onEventIdDropped?.();
  }

  /** One line per kind of end; the same end again, with no accepted stream between, logs quietly. */
  private logEnd(report: SessionReport, verdict: SessionVerdict, waitMs: number): void {
    const { logger, hubId } = this.options;
    const failure = report.failure;
    const key = failure
      ? `${failure.kind}/${failure.status ?? ""}/${failure.code ?? ""}`
      : report.ready
        ? "closed"
        : "closed-at-once";
    const repeated = key === this.lastEnd;
    this.lastEnd = key;
    if (failure || !report.ready) this.failedInARow += 1;
    const quiet = repeated ? "debug" : null;
    if (verdict.ended) {
      logger.info(
        { hubId },
        "the relay has kept this hub's command stream open for a while: the other hub with this id seems gone",
      );
    }
    const problem = verdict.problem;
    if (report.refusal !== null && problem) {
      logger[verdict.started ? "error" : "debug"](
        { call: "events", hubId, reason: report.refusal, refusals: problem.sessions },
        `${problem.message} (next try in ${waitMs} ms)`,
      );
    } else if (failure === null && problem?.kind === "duplicate_hub") {
      logger[verdict.started ? "error" : "debug"](
        { call: "events", hubId, closes: problem.sessions },
        verdict.started
          ? `${problem.message} (next try in ${waitMs} ms)`
          : `relay ended the event stream again (another hub with this id); reconnecting in ${waitMs} ms`,
      );
    } else if (failure === null && report.ready) {
      logger[quiet ?? "info"](`relay closed the event stream; reconnecting in ${waitMs} ms`);
    } else if (failure === null) {
      logger[quiet ?? "warn"](
        { call: "events" },
        `the relay ended the event stream at once, before connection_ready (is it restarting, or does a proxy end long requests?); reconnecting in ${waitMs} ms, with growing delays while it goes on`,
      );
    } else if (failure.kind === "permanent") {
      logger[quiet ?? "error"](
        { call: "events", status: failure.status },
        `${failure.message}; reconnecting in ${waitMs} ms`,
      );
    } else if (failure.kind === "not_registered") {
      logger[quiet ?? "warn"]({ call: "events" }, failure.message);
    } else {
      logger[quiet ?? "warn"](
        { call: "events", code: failure.code },
        `event stream: ${failure.message} (reconnecting in ${waitMs} ms)`,
      );
    }
  }
}

/** Failures a `Last-Event-ID` can cause: the relay refused the request itself (400, 413, 431, …) or the header could not be sent. */
function idMayBeTheCause(failure: RelayError): boolean {
  return failure.kind === "permanent" || failure.code === "UND_ERR_INVALID_ARG";
}
