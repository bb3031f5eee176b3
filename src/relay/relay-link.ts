// The relay link: every call from the hub to the relay, kept alive on its own.
//
// Start order (the Python hub's "ready before register" lesson): the hub has discovered its
// agents before it calls start(); then register, agents/sync, and the command stream. After
// that: a forced re-sync on every `connection_ready` and every `resyncIntervalMs`, debounced
// syncs on roster changes, heartbeats with backoff, re-registration on any 404 of a hub path,
// and publishing through the Publisher. Only a refused key (401/403) stops the link (`fatal`);
// a relay that refuses the hub (not the key) is a setup problem shown in `state().problem` and
// retried slowly (see stream-health.ts).
import { EventEmitter } from "node:events";
import { Backoff, type Random } from "../async/backoff.ts";
import { type Clock, systemClock } from "../async/clock.ts";
import { untilSettled } from "../async/deferred.ts";
import type { Logger } from "../log/logger.ts";
import type { HubObserver } from "../observe/observer.ts";
import type { EventIdStore } from "../outbox/event-ids.ts";
import type { PublishQueue } from "../outbox/publish-queue.ts";
import type { ResponseSequence } from "../outbox/response-seq.ts";
import type { PublishedEvent, RelayCommand, SyncAgent } from "../wire/relay.ts";
import type { ParsedRelayCommand } from "../wire/relay-command.ts";
import { RelayClient } from "./client.ts";
import type { RelayAuthError, RelayError } from "./errors.ts";
import { eventIdScope, isResumableEventId, previewEventId, whyNotResumable } from "./event-id.ts";
import { CommandStream, type StreamConnection } from "./event-stream.ts";
import { asRelayError, failurePlan } from "./failure-policy.ts";
import { Publisher, type PublisherStats, type QueuedObserver } from "./publisher.ts";
import { type RelayLinkSettings, relayLinkSettings } from "./settings.ts";
import type { StreamProblem } from "./stream-health.ts";
import { type AgentNotKept, SyncReceipts } from "./sync-receipt.ts";

export interface RelayLinkOptions {
  /** Relay base URL; default `https://api.hybro.ai`. */
  gatewayUrl?: string;
  /** Read on every call (a rotated key is used without restart). */
  apiKey: () => string;
  /** Where the key came from, named in auth errors: "--api-key", "HYBRO_API_KEY", "config file". */
  keySource: string;
  hubId: string;
  logger: Logger;
  settings?: Partial<RelayLinkSettings>;
  /** The whole roster as synced to the relay; called for every sync. */
  roster: () => SyncAgent[];
  /** Default `hybro-hub/<version>`. */
  userAgent?: string;
  /** Where unsent events live; default in memory. */
  queue?: PublishQueue;
  /** Where `data.response_seq` comes from (the durable outbox's); default in memory. */
  responseSeq?: ResponseSequence;
  /** Keeps the command stream's last event id between runs (the durable outbox); default none. */
  eventIds?: EventIdStore;
  /** Proxy variables source; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Randomness for jitter (tests seed it). */
  random?: Random;
  /** Time for the loops' waits (tests move it by hand); default the system clock. */
  clock?: Clock;
  /** The local inspector's publish hooks; default none. */
  observer?: HubObserver;
}

/**
 * One command of the relay's stream: `command` as received (for the inspector), `parsed` once at
 * the edge (wire/relay-command.ts) for the hub to run.
 */
export type CommandHandler = (command: RelayCommand, parsed: ParsedRelayCommand) => void;

export interface RelayLinkReady {
  hubId: string;
  userId: string | null;
  /** Agents the relay confirmed in the last sync. */
  agentsSynced: number;
}

export interface RelayLinkEvents {
  /** First time registered + synced + stream open with `connection_ready`. */
  ready: [RelayLinkReady];
  /** The command stream opened (200 text/event-stream). */
  connected: [];
  /** The command stream ended; `error` null for a clean close by the relay. */
  disconnected: [RelayError | null];
  /** The key was refused (401/403): the link has stopped; the daemon should exit. */
  fatal: [RelayAuthError];
  /** A sync was acknowledged. */
  synced: [number];
}

export interface RelayLinkState {
  connection: StreamConnection;
  lastEventId: string | null;
  reconnects: number;
  lastError: string | null;
  registered: boolean;
  ready: boolean;
  userId: string | null;
  agentsSynced: number;
  lastSyncAt: number | null;
  /** Current nominal heartbeat period (grows while heartbeats fail). */
  heartbeatIntervalMs: number;
  heartbeatFailures: number;
  publish: PublisherStats;
  /** Agents sent at the last sync that the relay did not keep, with the reason. */
  notKept: AgentNotKept[];
  /** A setup problem on the command stream (the relay refuses the hub, another hub uses its id). */
  problem: StreamProblem | null;
}

export class RelayLink extends EventEmitter<RelayLinkEvents> {
  readonly client: RelayClient;
  readonly hubId: string;
  readonly settings: RelayLinkSettings;
  private readonly options: RelayLinkOptions;
  private readonly logger: Logger;
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly controller = new AbortController();
  private readonly publisher: Publisher;
  private readonly stream: CommandStream;
  private readonly receipts: SyncReceipts;
  private onCommand: CommandHandler = () => undefined;
  private started = false;
  private closing: Promise<void> | null = null;
  private fatalError: RelayAuthError | null = null;
  private lastError: string | null = null;
  private registered = false;
  private userId: string | null = null;
  private registering: Promise<void> | null = null;
  private isReady = false;
  private readyWaiter: (() => void) | null = null;
  private agentsSynced = 0;
  private lastSyncAt: number | null = null;
  /** The roster the relay holds as far as we know (cleared when it may have forgotten it). */
  private lastSyncedPayload: string | null = null;
  /** The roster last acknowledged, kept for logging changes only. */
  private lastSentPayload: string | null = null;
  private syncLoop: Promise<void> | null = null;
  private syncPending = false;
  private syncPendingForce = false;
  private syncDebounce: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  /** Heartbeats back off on failure: doubled from 2× the period, equal jitter, capped. */
  private readonly heartbeatBackoff: Backoff;
  /** Current nominal heartbeat period (state()); grows while heartbeats fail. */
  private heartbeatIntervalMs: number;
  /** Ends the heartbeat loop's current wait (the stream reopened after heartbeats failed). */
  private heartbeatWake: AbortController | null = null;
  /** What stored event ids of this link belong to: this relay and hub id. */
  private readonly eventIdScope: string;
  private readonly loops: Promise<void>[] = [];

  constructor(options: RelayLinkOptions) {
    super();
    this.options = options;
    this.hubId = options.hubId;
    this.logger = options.logger;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
    this.settings = relayLinkSettings(options.settings);
    this.heartbeatIntervalMs = this.settings.heartbeatIntervalMs;
    this.heartbeatBackoff = new Backoff(
      {
        baseDelayMs: 2 * this.settings.heartbeatIntervalMs,
        maxDelayMs: this.settings.maxHeartbeatIntervalMs,
        jitter: "equal",
      },
      { clock: this.clock, random: this.random },
    );
    this.receipts = new SyncReceipts(this.logger);
    this.client = new RelayClient({
      gatewayUrl: options.gatewayUrl,
      apiKey: options.apiKey,
      keySource: options.keySource,
      settings: this.settings,
      userAgent: options.userAgent,
      env: options.env,
    });
    this.publisher = new Publisher({
      send: (roomId, events, signal) => this.client.publish(this.hubId, roomId, events, signal),
      reregister: (signal) => this.reregister(signal),
      onAuthError: (error) => this.fail(error),
      settings: this.settings,
      logger: this.logger,
      queue: options.queue,
      sequence: options.responseSeq,
      random: this.random,
      clock: this.clock,
      observer: options.observer,
    });
    this.eventIdScope = eventIdScope(this.client.gatewayUrl, this.hubId);
    this.stream = new CommandStream({
      client: this.client,
      hubId: this.hubId,
      settings: this.settings,
      logger: this.logger,
      random: this.random,
      onCommand: (command, eventId, parsed) => this.handleCommand(command, eventId, parsed),
      onNotRegistered: (signal) => this.reregister(signal),
      onAuthError: (error) => this.fail(error),
      onEventIdDropped: () => this.options.eventIds?.save(this.eventIdScope, null),
      onOpen: () => {
        // Heartbeats that failed while the stream was down wait long by now; the relay drops a
        // hub whose heartbeats stop, so send one soon.
        if (this.heartbeatBackoff.failures > 0) this.heartbeatWake?.abort();
        this.emit("connected");
      },
      onClose: (error) => {
        if (error) this.lastError = error.message;
        this.emit("disconnected", error);
      },
    });
  }

  /**
   * Registers, syncs the roster, opens the command stream and keeps all of it alive until
   * `signal` aborts or close(). Resolves when the link is ready the first time, or when it stops
   * before that (abort, or a refused key). Never rejects, so `void link.start(…)` is safe: a
   * refused key is reported by the `fatal` event, at any time. Network errors are retried
   * forever: a hub that boots without network keeps trying.
   */
  async start(onCommand: CommandHandler, signal: AbortSignal): Promise<void> {
    if (this.started) throw new Error("RelayLink.start() may be called once");
    this.started = true;
    this.onCommand = onCommand;
    if (signal.aborted) {
      await this.close();
      return;
    }
    signal.addEventListener("abort", () => void this.close(), { once: true });
    // Read now, not when built: the outbox that keeps them is opened just before the link starts.
    this.stream.resumeAfter(this.storedEventId());
    this.publisher.resume();
    const ready = new Promise<void>((resolve) => {
      this.readyWaiter = resolve;
    });
    this.loops.push(this.boot());
    await ready;
  }

  /** Roster changed: sync after `syncDebounceMs` (skipped when identical unless `force`). */
  requestSync(force = false): void {
    if (this.stopped) return;
    if (force) this.syncPendingForce = true;
    if (this.syncDebounce) clearTimeout(this.syncDebounce);
    this.syncDebounce = setTimeout(() => {
      this.syncDebounce = null;
      // Not registered yet: the sync that follows registration takes the new roster.
      if (!this.registered) this.syncPending = true;
      else void this.runSync(false);
    }, this.settings.syncDebounceMs);
    this.syncDebounce.unref();
  }

  /**
   * Queues events of a room for the relay (never blocks, never throws); `onQueued` sees them as
   * they will be published (see Publisher.publish).
   */
  publish(roomId: string, events: readonly PublishedEvent[], onQueued?: QueuedObserver): void {
    this.publisher.publish(roomId, events, onQueued);
  }

  /** The largest event one publish can carry now (the relay's body limit less the envelope). */
  maxEventBytes(): number {
    return this.publisher.maxEventBytes();
  }

  /** A promise while the room has too much unsent; see Publisher.backpressure. */
  backpressure(roomId: string): Promise<void> | null {
    return this.publisher.backpressure(roomId);
  }

  /** Events not yet acknowledged by the relay. */
  depth(): number {
    return this.publisher.depth();
  }

  /** Waits until every queued event is acknowledged (true) or `timeoutMs` passes (false). */
  flush(timeoutMs: number): Promise<boolean> {
    return this.publisher.flush(timeoutMs);
  }

  state(): RelayLinkState {
    const stream = this.stream.state();
    return {
      connection:
        this.closing || this.fatalError || !this.started
          ? "stopped"
          : stream.connection === "stopped"
            ? "connecting" // registering and syncing before the stream opens
            : stream.connection,
      lastEventId: stream.lastEventId,
      reconnects: stream.reconnects,
      lastError: this.fatalError?.message ?? this.lastError,
      registered: this.registered,
      ready: this.isReady,
      userId: this.userId,
      agentsSynced: this.agentsSynced,
      lastSyncAt: this.lastSyncAt,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      heartbeatFailures: this.heartbeatBackoff.failures,
      publish: this.publisher.stats(),
      notKept: this.receipts.list(),
      problem: stream.problem,
    };
  }

  /** Why the relay did not keep this agent at the last sync, or null. */
  notKeptReason(localAgentId: string): string | null {
    return this.receipts.reasonFor(localAgentId);
  }

  /** Stops everything: stream, timers, in-flight calls (flush first if events matter). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.controller.abort();
      this.clearTimers();
      this.readyWaiter?.();
      this.readyWaiter = null;
      await this.publisher.close();
      await Promise.allSettled([...this.loops, this.syncLoop, this.registering]);
      await this.client.close();
    })();
    return this.closing;
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  private get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  private async boot(): Promise<void> {
    try {
      await this.reregister(this.signal);
      await this.runSync(true);
    } catch {
      return; // abort, or the auth failure already reported by fail()
    }
    if (this.stopped) return;
    this.loops.push(this.heartbeatLoop());
    this.resyncTimer = setInterval(() => void this.runSync(true), this.settings.resyncIntervalMs);
    this.resyncTimer.unref();
    await this.stream.run(this.signal);
  }

  private handleCommand(
    command: RelayCommand,
    eventId: string | null,
    parsed: ParsedRelayCommand,
  ): void {
    if (parsed.kind === "connection_ready") {
      // The relay may have lost our roster while we were away: sync even if unchanged.
      this.lastSyncedPayload = null;
      void this.runSync(true);
      if (!this.isReady) {
        this.isReady = true;
        this.readyWaiter?.();
        this.readyWaiter = null;
        this.emit("ready", {
          hubId: this.hubId,
          userId: this.userId,
          agentsSynced: this.agentsSynced,
        });
      }
    }
    this.onCommand(command, parsed);
    if (eventId !== null) this.options.eventIds?.save(this.eventIdScope, eventId || null);
  }

  /** The stored id of this relay and hub, if it can still be sent as a header. */
  private storedEventId(): string | null {
    const stored = this.options.eventIds?.load(this.eventIdScope) ?? null;
    if (stored === null || stored === "" || isResumableEventId(stored)) return stored || null;
    this.logger.warn(
      { lastEventId: previewEventId(stored), length: stored.length },
      `the stored last event id cannot be sent back as Last-Event-ID (${whyNotResumable(stored)}); dropped, the hub starts without it`,
    );
    this.options.eventIds?.save(this.eventIdScope, null);
    return null;
  }

  /**
   * Registers (again), retrying network/5xx/429 failures forever with backoff; shared by every
   * caller that saw a 404. Afterwards the roster is synced again (the relay forgot it).
   */
  private reregister(signal: AbortSignal): Promise<void> {
    if (this.fatalError) return Promise.reject(this.fatalError);
    this.registering ??= this.registerUntilDone().finally(() => {
      this.registering = null;
    });
    const registering = this.registering;
    // Each caller stops waiting on its own abort.
    return signal === this.signal ? registering : untilSettled(registering, signal, abortError());
  }

  private async registerUntilDone(): Promise<void> {
    const wasRegistered = this.registered;
    this.registered = false;
    const backoff = this.reconnectBackoff();
    for (;;) {
      try {
        const answer = await this.client.register(this.hubId, this.signal);
        this.registered = true;
        this.userId = answer.user_id;
        this.logger.info(
          { hubId: this.hubId, userId: answer.user_id },
          wasRegistered
            ? "registered with the relay again"
            : `registered with the relay at ${this.client.gatewayUrl}`,
        );
        if (wasRegistered) {
          this.lastSyncedPayload = null;
          void this.runSync(true);
        }
        return;
      } catch (error) {
        if (this.stopped) throw abortError();
        const failure = asRelayError(error, "register");
        if (failurePlan("register", failure).stop) {
          this.fail(failure as RelayAuthError);
          throw failure;
        }
        const attempt = backoff.failures;
        const waitMs = backoff.nextDelayMs(failure.retryAfterMs ?? 0);
        this.lastError = failure.message;
        const level =
          failure.kind === "permanent"
            ? "error"
            : attempt === 0 || attempt % 10 === 0
              ? "warn"
              : "debug";
        this.logger[level](
          { call: "register", attempt: attempt + 1 },
          `cannot register with the relay at ${this.client.gatewayUrl}: ${failure.message} (next try in ${waitMs} ms)`,
        );
        await this.wait(waitMs, this.signal);
        if (this.stopped) throw abortError();
      }
    }
  }

  /** Runs the (single) sync loop; `force` posts even an unchanged roster. */
  private runSync(force: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.syncPending = true;
    if (force) this.syncPendingForce = true;
    this.syncLoop ??= this.syncUntilIdle().finally(() => {
      this.syncLoop = null;
    });
    return this.syncLoop;
  }

  private async syncUntilIdle(): Promise<void> {
    const backoff = this.reconnectBackoff();
    while (this.syncPending && !this.stopped) {
      const force = this.syncPendingForce;
      this.syncPending = false;
      this.syncPendingForce = false;
      let roster: SyncAgent[];
      try {
        roster = this.options.roster();
      } catch (error) {
        this.logger.error(
          { err: error instanceof Error ? error.message : String(error) },
          "could not read the agent roster; sync skipped",
        );
        continue;
      }
      const payload = JSON.stringify(roster);
      if (!force && payload === this.lastSyncedPayload) continue;
      try {
        const answer = await this.client.syncAgents(this.hubId, roster, this.signal);
        const changed = payload !== this.lastSentPayload;
        this.lastSentPayload = payload;
        this.lastSyncedPayload = payload;
        this.agentsSynced = answer.synced.length;
        this.lastSyncAt = Date.now();
        this.receipts.record(roster, answer);
        backoff.reset();
        // Periodic keep-alive syncs of an unchanged roster stay out of the info log.
        this.logger[changed ? "info" : "debug"](
          { agents: roster.length, synced: answer.synced.length },
          "agents synced with the relay",
        );
        this.emit("synced", answer.synced.length);
      } catch (error) {
        if (this.stopped) return;
        const failure = asRelayError(error, "sync");
        const plan = failurePlan("sync", failure);
        if (plan.stop) {
          this.fail(failure as RelayAuthError);
          return;
        }
        this.lastError = failure.message;
        if (!plan.retry) {
          // A refused hub is synced again after the stream is accepted (`connection_ready`).
          this.logger[failure.kind === "permanent" ? "error" : "warn"](
            { call: "sync", agents: roster.length },
            failure.message,
          );
          this.lastSyncedPayload = null;
          continue;
        }
        // Try again (forced: the relay's view is unknown), after re-registering on a 404.
        this.syncPending = true;
        this.syncPendingForce = true;
        if (plan.reregister) {
          this.logger.warn({ call: "sync" }, failure.message);
          try {
            await this.reregister(this.signal);
          } catch {
            return;
          }
        }
        const waitMs = backoff.nextDelayMs(failure.retryAfterMs ?? 0);
        if (!plan.reregister) {
          this.logger.warn(
            { call: "sync" },
            `agent sync failed: ${failure.message} (next try in ${waitMs} ms)`,
          );
        }
        await this.wait(waitMs, this.signal, true);
      }
    }
  }

  private async heartbeatLoop(): Promise<void> {
    const base = this.settings.heartbeatIntervalMs;
    const backoff = this.heartbeatBackoff;
    let waitMs = base;
    while (!this.stopped) {
      const wake = new AbortController();
      this.heartbeatWake = wake;
      await this.wait(waitMs, AbortSignal.any([this.signal, wake.signal]), true);
      this.heartbeatWake = null;
      if (this.stopped) return;
      try {
        await this.client.heartbeat(this.hubId, this.signal);
        if (backoff.failures > 0) this.logger.info("heartbeats reach the relay again");
        backoff.reset();
        this.heartbeatIntervalMs = waitMs = base;
      } catch (error) {
        if (this.stopped) return;
        const failure = asRelayError(error, "heartbeat");
        const plan = failurePlan("heartbeat", failure);
        if (plan.stop) {
          this.fail(failure as RelayAuthError);
          return;
        }
        this.lastError = failure.message;
        const ceilingMs = backoff.nextCeilingMs();
        waitMs = backoff.nextDelayMs(failure.retryAfterMs ?? 0);
        this.heartbeatIntervalMs = Math.max(ceilingMs, failure.retryAfterMs ?? 0);
        this.logger.warn(
          { call: "heartbeat", failures: backoff.failures },
          `heartbeat failed: ${failure.message} (next in about ${this.heartbeatIntervalMs} ms)`,
        );
        if (plan.reregister) {
          try {
            await this.reregister(this.signal);
          } catch {
            return;
          }
        }
      }
    }
  }

  /** A fresh backoff for one register or sync loop (full jitter: spreads a crowd of hubs). */
  private reconnectBackoff(): Backoff {
    return new Backoff(
      {
        baseDelayMs: this.settings.reconnectBaseDelayMs,
        maxDelayMs: this.settings.reconnectMaxDelayMs,
        jitter: "full",
      },
      { clock: this.clock, random: this.random },
    );
  }

  /** Waits on the link's clock; an abort ends the wait early (callers check `stopped`). */
  private async wait(ms: number, signal: AbortSignal, unref = false): Promise<void> {
    await this.clock.sleep(ms, signal, { unref }).catch(() => undefined);
  }

  /** The key was refused: report once, stop the loops; queued events stay queued. */
  private fail(error: RelayAuthError): void {
    if (this.fatalError) return;
    this.fatalError = error;
    this.lastError = error.message;
    this.logger.error({ call: error.call, status: error.status }, error.message);
    this.controller.abort();
    this.clearTimers();
    this.publisher.halt(error);
    this.readyWaiter?.();
    this.readyWaiter = null;
    this.emit("fatal", error);
  }

  private clearTimers(): void {
    if (this.syncDebounce) clearTimeout(this.syncDebounce);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.syncDebounce = null;
    this.resyncTimer = null;
  }
}

function abortError(): Error {
  return new DOMException("The relay link was stopped", "AbortError");
}
