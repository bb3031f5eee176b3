// Publishing to the relay (relay-wire.md sections 3, 4 and 6): per-room order, batches, coalesced
// stream chunks, retries the relay recognises (each event's `data.response_seq` and `data.task_id`
// are fixed when it is queued). `publish()` only enqueues; sending happens here.
//
// Order: one POST per room in flight at a time, always from the head of the room's queue, and a
// failed batch goes back to the head; so an event never overtakes an earlier one of its room.
// Coalescing: streamed chunks (`artifact_update`, non-final `task_status`) wait up to
// `publishCoalesceMs` from the first unsent chunk so a token stream shares POSTs; any other
// event (task_submitted, the terminal group, …) goes out at once with whatever is queued before
// it, so a turn's answer is never held back by the window.
import { type HubObserver, NULL_OBSERVER } from "../inspector/observer.ts";
import type { Logger } from "../log/logger.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import { fullJitterDelayMs, type Random } from "./backoff.ts";
import {
  classifyNetworkError,
  type RelayAuthError,
  RelayError,
  refusedEventIndex,
} from "./errors.ts";
import { InMemoryPublishQueue, type PublishBatch, type PublishQueue } from "./publish-queue.ts";
import { ResponseSequence, stampEvent } from "./response-seq.ts";
import type { RelayLinkSettings } from "./settings.ts";

export interface PublisherOptions {
  /** One POST; throws a RelayError (or anything, read as a network failure). */
  send: (roomId: string, events: readonly PublishedEvent[], signal: AbortSignal) => Promise<void>;
  /** 404: register the hub again; rejects on auth failure or abort. */
  reregister: (signal: AbortSignal) => Promise<void>;
  /** 401/403: publishing stops (events stay queued) and the link is told. */
  onAuthError: (error: RelayAuthError) => void;
  settings: RelayLinkSettings;
  logger: Logger;
  queue?: PublishQueue;
  /** Where `data.response_seq` comes from (the outbox keeps its high-water mark); default in memory. */
  sequence?: ResponseSequence;
  random?: Random;
  /** The local inspector's hooks (queued, acked, failed); default none. */
  observer?: HubObserver;
}

export interface PublisherStats {
  /** POST attempts. */
  posts: number;
  /** Events acknowledged by the relay. */
  eventsSent: number;
  /** POSTs acknowledged by the relay. */
  batches: number;
  /** Failed attempts that will be (or were) tried again. */
  retries: number;
  /** Events given up on (permanent 4xx, the in-memory bound, or the queue's own bounds/TTL). */
  dropped: number;
  /** Events not yet acknowledged. */
  queued: number;
}

interface RoomState {
  /** A POST (or the re-register before its retry) is in flight. */
  sending: boolean;
  /** A send is scheduled on the microtask queue. */
  pending: boolean;
  timer: NodeJS.Timeout | null;
  timerKind: "coalesce" | "retry" | null;
  /** Failed attempts in a row. */
  attempts: number;
  maxBatch: number;
  /** A one-off smaller next batch: the events before one the relay refused. */
  nextBatch: number | null;
  /** A non-chunk event waits: send without the coalesce window. */
  urgent: boolean;
  /** When the first unsent chunk was queued (start of its coalesce window). */
  chunkSince: number | null;
}

export class Publisher {
  private readonly options: PublisherOptions;
  private readonly settings: RelayLinkSettings;
  private readonly logger: Logger;
  private readonly queue: PublishQueue;
  private readonly random: Random;
  private readonly sequence: ResponseSequence;
  private readonly observer: HubObserver;
  private readonly rooms = new Map<string, RoomState>();
  private readonly controller = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly flushWaiters = new Set<(idle: boolean) => void>();
  private readonly counters = { posts: 0, eventsSent: 0, batches: 0, retries: 0, dropped: 0 };
  /** Refusals already logged, by kind (status, code, field), and how often each came. */
  private readonly refusals = new Map<string, number>();
  private authError: RelayAuthError | null = null;
  private closed = false;
  private flushing = 0;
  private overflowing = false;

  constructor(options: PublisherOptions) {
    this.options = options;
    this.settings = options.settings;
    this.logger = options.logger;
    this.queue = options.queue ?? new InMemoryPublishQueue();
    this.random = options.random ?? Math.random;
    this.sequence = options.sequence ?? new ResponseSequence();
    this.observer = options.observer ?? NULL_OBSERVER;
    this.resume();
  }

  /**
   * Queues events of a room for the relay; never blocks, never throws. Each event gets its
   * `data.response_seq` here, once (and `data.task_id` if it was made without one), and keeps
   * both across retries: the relay's key for dropping a retried event.
   */
  publish(roomId: string, events: readonly PublishedEvent[]): void {
    try {
      if (typeof roomId !== "string" || roomId === "" || !Array.isArray(events)) {
        this.logger.error(
          { roomId: String(roomId) },
          "publish needs a room id and a list of events; ignored",
        );
        return;
      }
      if (events.length === 0) return;
      if (this.closed) {
        this.logger.warn({ roomId, events: events.length }, "publish after close; events dropped");
        this.counters.dropped += events.length;
        return;
      }
      if (this.queue.depth() + events.length > this.settings.publishMaxQueuedEvents) {
        this.counters.dropped += events.length;
        if (!this.overflowing) {
          this.overflowing = true;
          this.logger.error(
            { roomId, limit: this.settings.publishMaxQueuedEvents },
            "publish queue is full (relay unreachable for long?); new events are dropped until it drains",
          );
        }
        return;
      }
      const stamped = events.map((event) => stampEvent(event, this.sequence));
      this.queue.append(roomId, stamped);
      this.observer.queued(roomId, stamped);
      const room = this.room(roomId);
      if (stamped.some(isUrgent)) room.urgent = true;
      else if (room.chunkSince === null) room.chunkSince = Date.now();
      this.schedule(roomId);
    } catch (error) {
      this.logger.error(
        { roomId, err: error instanceof Error ? error.message : String(error) },
        "publish failed to queue events",
      );
    }
  }

  /** Starts sending whatever the queue already holds (e.g. a durable outbox after a restart). */
  resume(): void {
    for (const roomId of this.queue.rooms()) {
      this.room(roomId).urgent = true;
      this.schedule(roomId);
    }
  }

  /** Waits until every queued event is acknowledged: true, or false on timeout/stop. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.queue.depth() === 0) return true;
    if (this.closed || this.authError) return false;
    this.flushing += 1;
    try {
      // No more waiting for coalesce windows: everything queued is ready now.
      for (const [roomId, room] of this.rooms) {
        if (room.timerKind === "coalesce") this.clearTimer(room);
        this.schedule(roomId);
      }
      return await new Promise<boolean>((resolve) => {
        const finish = (idle: boolean): void => {
          clearTimeout(timer);
          this.flushWaiters.delete(finish);
          resolve(idle);
        };
        // Ref'd: a shutdown awaiting the flush must not exit underneath it.
        const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
        this.flushWaiters.add(finish);
      });
    } finally {
      this.flushing -= 1;
    }
  }

  /** Events not yet acknowledged. */
  depth(): number {
    return this.queue.depth();
  }

  stats(): PublisherStats {
    const dropped = this.counters.dropped + (this.queue.dropped?.() ?? 0);
    return { ...this.counters, dropped, queued: this.queue.depth() };
  }

  /** The auth failure that stopped publishing, if any. */
  stoppedBy(): RelayAuthError | null {
    return this.authError;
  }

  /** Stops sending: in-flight POSTs are aborted and their events stay queued. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.controller.abort();
    for (const room of this.rooms.values()) this.clearTimer(room);
    this.notifyFlush(false);
    await Promise.allSettled([...this.inFlight]);
  }

  private get stopped(): boolean {
    return this.closed || this.authError !== null;
  }

  private room(roomId: string): RoomState {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = {
        sending: false,
        pending: false,
        timer: null,
        timerKind: null,
        attempts: 0,
        maxBatch: this.settings.publishMaxBatchEvents,
        nextBatch: null,
        urgent: false,
        chunkSince: null,
      };
      this.rooms.set(roomId, room);
    }
    return room;
  }

  /** Decides when the room's next POST goes: now, after the coalesce window, or not yet. */
  private schedule(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (!room || this.stopped) return;
    if (room.sending || room.pending || room.timerKind === "retry") return;
    const depth = this.queue.roomDepth(roomId);
    if (depth === 0) {
      this.clearTimer(room);
      this.rooms.delete(roomId);
      return;
    }
    if (room.urgent || this.flushing > 0 || depth >= room.maxBatch) {
      this.clearTimer(room);
      room.pending = true;
      queueMicrotask(() => {
        room.pending = false;
        this.startSend(roomId);
      });
      return;
    }
    if (room.timerKind === "coalesce") return;
    const since = room.chunkSince ?? Date.now();
    const waitMs = Math.max(0, since + this.settings.publishCoalesceMs - Date.now());
    this.setTimer(roomId, room, "coalesce", waitMs);
  }

  private startSend(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (!room || this.stopped || room.sending) return;
    const batch = this.queue.take(roomId, Math.min(room.maxBatch, room.nextBatch ?? room.maxBatch));
    room.nextBatch = null;
    if (!batch) {
      this.schedule(roomId);
      this.checkIdle();
      return;
    }
    if (this.queue.roomDepth(roomId) === batch.events.length) {
      room.urgent = false;
      room.chunkSince = null;
    } else {
      room.chunkSince = Date.now();
    }
    room.sending = true;
    const done = this.deliver(roomId, room, batch)
      .catch((error: unknown) => {
        this.logger.error(
          { roomId, err: error instanceof Error ? error.message : String(error) },
          "publish failed unexpectedly; the batch stays queued",
        );
      })
      .finally(() => {
        room.sending = false;
        this.inFlight.delete(done);
        this.schedule(roomId);
        this.checkIdle();
      });
    this.inFlight.add(done);
  }

  private async deliver(roomId: string, room: RoomState, batch: PublishBatch): Promise<void> {
    const signal = this.controller.signal;
    const count = batch.events.length;
    this.counters.posts += 1;
    let failure: RelayError;
    try {
      await this.options.send(roomId, batch.events, signal);
      this.queue.ack(batch);
      this.observer.acked(roomId, batch.events);
      if (room.attempts > 0) this.logger.info({ roomId }, "publishing to the relay works again");
      room.attempts = 0;
      this.counters.batches += 1;
      this.counters.eventsSent += count;
      return;
    } catch (error) {
      if (signal.aborted) {
        this.queue.release(batch);
        return;
      }
      failure = error instanceof RelayError ? error : classifyNetworkError("publish", error);
    }

    // Every way out below but the final refusal keeps the events queued for another POST.
    if (failure.kind !== "permanent")
      this.observer.failed(roomId, batch.events, failure.message, true);
    switch (failure.kind) {
      case "auth":
        this.queue.release(batch);
        this.stopForAuth(failure as RelayAuthError);
        return;
      case "permanent":
        if (failure.status === 413 && count > 1) {
          // Too large together: halve the batch and try again at once.
          this.queue.release(batch);
          room.maxBatch = Math.max(1, Math.ceil(count / 2));
          room.urgent = true;
          this.counters.retries += 1;
          this.observer.failed(roomId, batch.events, failure.message, true);
          this.logger.warn(
            { roomId, events: count },
            "relay found the publish batch too large; splitting it",
          );
          return;
        }
        if (failure.status === 422 && count > 1) {
          // The relay refuses a whole POST for one event it cannot read: send the events before
          // it, then it alone, so only that one is lost.
          const bad = refusedEventIndex(failure);
          if (bad !== null && bad < count) {
            this.queue.release(batch);
            room.nextBatch = Math.max(1, bad);
            room.urgent = true;
            this.counters.retries += 1;
            this.observer.failed(roomId, batch.events, failure.message, true);
            return;
          }
        }
        this.queue.ack(batch);
        this.counters.dropped += count;
        this.observer.failed(roomId, batch.events, failure.message, false);
        this.logRefusal(roomId, failure, batch);
        return;
      case "not_registered":
        this.queue.release(batch);
        room.attempts += 1;
        this.counters.retries += 1;
        this.logger.warn({ roomId }, failure.message);
        try {
          await this.options.reregister(signal);
        } catch {
          return; // abort, or an auth failure the link reports
        }
        this.retryLater(roomId, room, failure);
        return;
      default:
        this.queue.release(batch);
        room.attempts += 1;
        this.counters.retries += 1;
        this.retryLater(roomId, room, failure);
    }
  }

  /**
   * A refused batch is logged once per kind of refusal (status and field): a relay that refuses
   * every event of some kind must not flood the log. Later ones are counted at debug level.
   */
  private logRefusal(roomId: string, failure: RelayError, batch: PublishBatch): void {
    const field = typeof failure.detail?.field === "string" ? failure.detail.field : "";
    const kind = `${failure.status}:${failure.code ?? ""}:${field.replace(/\d+/g, "#")}`;
    const types = [...new Set(batch.events.map((e) => e.type))];
    const count = batch.events.length;
    const seen = this.refusals.get(kind) ?? 0;
    this.refusals.set(kind, seen + 1);
    if (seen > 0) {
      this.logger.debug(
        { roomId, status: failure.status, types, times: seen + 1 },
        failure.message,
      );
      return;
    }
    this.logger.error(
      { roomId, status: failure.status, types },
      `${failure.message} (${count} event${count === 1 ? "" : "s"} of room ${roomId}); further refusals like this one are logged at debug level only`,
    );
  }

  private retryLater(roomId: string, room: RoomState, failure: RelayError): void {
    if (this.stopped) return;
    const waitMs = Math.max(
      failure.retryAfterMs ?? 0,
      fullJitterDelayMs(
        room.attempts - 1,
        this.settings.publishRetryBaseDelayMs,
        this.settings.publishRetryMaxDelayMs,
        this.random,
      ),
    );
    if (failure.kind !== "not_registered") {
      // One warning when a room starts failing, then every tenth attempt: an outage with many
      // rooms must not flood the log.
      const level = room.attempts === 1 || room.attempts % 10 === 0 ? "warn" : "debug";
      this.logger[level](
        { roomId, attempt: room.attempts, queued: this.queue.roomDepth(roomId) },
        `publish: ${failure.message} (next try in ${waitMs} ms)`,
      );
    }
    this.setTimer(roomId, room, "retry", waitMs);
  }

  private setTimer(
    roomId: string,
    room: RoomState,
    kind: "coalesce" | "retry",
    waitMs: number,
  ): void {
    this.clearTimer(room);
    room.timerKind = kind;
    room.timer = setTimeout(() => {
      room.timer = null;
      room.timerKind = null;
      this.startSend(roomId);
    }, waitMs);
    room.timer.unref();
  }

  private clearTimer(room: RoomState): void {
    if (room.timer) clearTimeout(room.timer);
    room.timer = null;
    room.timerKind = null;
  }

  /** The key was refused elsewhere: stop sending; queued events stay queued. */
  halt(error: RelayAuthError): void {
    this.stopForAuth(error, false);
  }

  private stopForAuth(error: RelayAuthError, notify = true): void {
    if (this.authError) return;
    this.authError = error;
    for (const room of this.rooms.values()) this.clearTimer(room);
    this.notifyFlush(false);
    if (notify) this.options.onAuthError(error);
  }

  private checkIdle(): void {
    const depth = this.queue.depth();
    if (this.overflowing && depth <= this.settings.publishMaxQueuedEvents / 2) {
      this.overflowing = false;
      this.logger.info("publish queue drained below half; accepting events again");
    }
    if (depth === 0) this.notifyFlush(true);
  }

  private notifyFlush(idle: boolean): void {
    for (const finish of [...this.flushWaiters]) finish(idle);
  }
}

/** Everything but streamed chunks goes out without waiting for the coalesce window. */
function isUrgent(event: PublishedEvent): boolean {
  if (event.type === "artifact_update") return false;
  if (event.type === "task_status") return event.data?.final === true;
  return true;
}
