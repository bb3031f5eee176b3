// The relay link: every call from the hub to the relay, kept alive on its own. A coordinator of
// three loops, each on the one Backoff and the link's clock: register+sync (register-sync.ts),
// heartbeats (heartbeat.ts) and the command stream (event-stream.ts), plus the Publisher. It
// owns the order and what they share (the hub id, the key via the client, the last error, the
// refused key that stops them all).
//
// Start order (the Python hub's "ready before register" lesson): the hub has discovered its
// agents before it calls start(); then register, agents/sync, and the command stream. After
// that: a forced re-sync on every `connection_ready` and every `resyncIntervalMs`, debounced
// syncs on roster changes, heartbeats with backoff, re-registration on any 404 of a hub path,
// and publishing through the Publisher. Only a refused key (401/403) stops the link (`fatal`);
// a relay that refuses the hub (not the key) is a setup problem shown in `state().problem` and
// retried slowly (see stream-health.ts).
import { EventEmitter } from "node:events";
import type { Random } from "../async/backoff.ts";
import { type Clock, systemClock } from "../async/clock.ts";
import { Deferred } from "../async/deferred.ts";
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
import { HeartbeatLoop } from "./heartbeat.ts";
import { Publisher, type PublisherStats, type QueuedObserver } from "./publisher.ts";
import { RegisterSync } from "./register-sync.ts";
import { type RelayLinkSettings, relayLinkSettings } from "./settings.ts";
import type { StreamProblem } from "./stream-health.ts";
import type { AgentNotKept } from "./sync-receipt.ts";

interface RelayLinkOptions {
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
type CommandHandler = (command: RelayCommand, parsed: ParsedRelayCommand) => void;

export interface RelayLinkReady {
  hubId: string;
  userId: string | null;
  /** Agents the relay confirmed in the last sync. */
  agentsSynced: number;
}

interface RelayLinkEvents {
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
  private readonly controller = new AbortController();
  private readonly publisher: Publisher;
  private readonly registerSync: RegisterSync;
  private readonly heartbeat: HeartbeatLoop;
  private readonly stream: CommandStream;
  /** What stored event ids of this link belong to: this relay and hub id. */
  private readonly eventIdScope: string;
  /** Settles start(): ready the first time, or stopped before that. */
  private readonly firstReady = new Deferred<void>();
  private readonly loops: Promise<void>[] = [];
  /** Set by start() (once). */
  private onCommand: CommandHandler | null = null;
  private closing: Promise<void> | null = null;
  private fatalError: RelayAuthError | null = null;
  private lastError: string | null = null;
  private isReady = false;

  constructor(options: RelayLinkOptions) {
    super();
    this.options = options;
    this.hubId = options.hubId;
    this.logger = options.logger;
    const random = options.random ?? Math.random;
    const clock = options.clock ?? systemClock;
    this.settings = relayLinkSettings(options.settings);
    this.client = new RelayClient({
      gatewayUrl: options.gatewayUrl,
      apiKey: options.apiKey,
      keySource: options.keySource,
      settings: this.settings,
      userAgent: options.userAgent,
      env: options.env,
    });
    // What every loop shares: the relay, the hub, the clock, and the refused key that stops all.
    const loop = {
      client: this.client,
      hubId: this.hubId,
      settings: this.settings,
      logger: this.logger,
      clock,
      random,
      onAuthError: (error: RelayAuthError) => this.fail(error),
    };
    const onFailure = (error: RelayError) => {
      this.lastError = error.message;
    };
    const reregister = (signal: AbortSignal) => this.reregister(signal);
    this.registerSync = new RegisterSync({
      ...loop,
      onFailure,
      roster: options.roster,
      signal: this.signal,
      onSynced: (agents) => this.emit("synced", agents),
    });
    this.heartbeat = new HeartbeatLoop({ ...loop, onFailure, reregister });
    this.publisher = new Publisher({
      send: (roomId, events, signal) => this.client.publish(this.hubId, roomId, events, signal),
      reregister,
      onAuthError: loop.onAuthError,
      settings: this.settings,
      logger: this.logger,
      queue: options.queue,
      sequence: options.responseSeq,
      random,
      clock,
      observer: options.observer,
    });
    this.eventIdScope = eventIdScope(this.client.gatewayUrl, this.hubId);
    this.stream = new CommandStream({
      ...loop,
      onCommand: (command, eventId, parsed) => this.handleCommand(command, eventId, parsed),
      onNotRegistered: reregister,
      onEventIdDropped: () => this.options.eventIds?.save(this.eventIdScope, null),
      intake: () => this.publisher.intakeBackpressure(),
      onOpen: () => {
        this.heartbeat.wake();
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
    if (this.onCommand) throw new Error("RelayLink.start() may be called once");
    this.onCommand = onCommand;
    if (signal.aborted) {
      await this.close();
      return;
    }
    signal.addEventListener("abort", () => void this.close(), { once: true });
    // Read now, not when built: the outbox that keeps them is opened just before the link starts.
    this.stream.resumeAfter(this.storedEventId());
    this.publisher.resume();
    this.loops.push(this.boot());
    await this.firstReady.promise;
  }

  /** Roster changed: sync after `syncDebounceMs` (skipped when identical unless `force`). */
  requestSync(force = false): void {
    this.registerSync.requestSync(force);
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
    const registration = this.registerSync.state();
    const heartbeat = this.heartbeat.state();
    return {
      connection:
        this.closing || this.fatalError || !this.onCommand
          ? "stopped"
          : stream.connection === "stopped"
            ? "connecting" // registering and syncing before the stream opens
            : stream.connection,
      lastEventId: stream.lastEventId,
      reconnects: stream.reconnects,
      lastError: this.fatalError?.message ?? this.lastError,
      registered: registration.registered,
      ready: this.isReady,
      userId: registration.userId,
      agentsSynced: registration.agentsSynced,
      lastSyncAt: registration.lastSyncAt,
      heartbeatIntervalMs: heartbeat.heartbeatIntervalMs,
      heartbeatFailures: heartbeat.heartbeatFailures,
      publish: this.publisher.stats(),
      notKept: registration.notKept,
      problem: stream.problem,
    };
  }

  /** Why the relay did not keep this agent at the last sync, or null. */
  notKeptReason(localAgentId: string): string | null {
    return this.registerSync.notKeptReason(localAgentId);
  }

  /** Stops everything: stream, timers, in-flight calls (flush first if events matter). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.controller.abort();
      this.firstReady.resolve();
      await this.publisher.close();
      await Promise.allSettled([...this.loops, this.registerSync.settled()]);
      await this.client.close();
    })();
    return this.closing;
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The order: (agents discovered before start) → register → sync → heartbeats and stream. */
  private async boot(): Promise<void> {
    const signal = this.signal;
    try {
      await this.reregister(signal);
      await this.registerSync.sync(true);
    } catch {
      return; // abort, or the auth failure already reported by fail()
    }
    if (signal.aborted) return;
    this.loops.push(this.heartbeat.run(signal), this.registerSync.run(signal));
    await this.stream.run(signal);
  }

  private handleCommand(
    command: RelayCommand,
    eventId: string | null,
    parsed: ParsedRelayCommand,
  ): void {
    if (parsed.kind === "connection_ready") {
      this.registerSync.relayMayHaveForgotten();
      if (!this.isReady) {
        this.isReady = true;
        this.firstReady.resolve();
        const { userId, agentsSynced } = this.registerSync.state();
        this.emit("ready", { hubId: this.hubId, userId, agentsSynced });
      }
    }
    this.onCommand?.(command, parsed);
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

  /** Registers again (one registration shared by every caller that saw a 404). */
  private reregister(signal: AbortSignal): Promise<void> {
    if (this.fatalError) return Promise.reject(this.fatalError);
    return this.registerSync.register(signal);
  }

  /** The key was refused: report once, stop the loops; queued events stay queued. */
  private fail(error: RelayAuthError): void {
    if (this.fatalError) return;
    this.fatalError = error;
    this.lastError = error.message;
    this.logger.error({ call: error.call, status: error.status }, error.message);
    this.controller.abort();
    this.publisher.halt(error);
    this.firstReady.resolve();
    this.emit("fatal", error);
  }
}
