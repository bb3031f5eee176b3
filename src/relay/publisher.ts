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
//
// Relay-wide backoff: a 5xx, a 429 or a network failure says the relay (or the way to it) is
// unwell, not one room. Every room then waits, and one POST at a time probes the relay with a
// growing delay; the first that gets through lets all rooms go again. Without it, a backlog of
// many rooms would keep the hub busy POSTing into an outage, each room on its own timer.
//
// Size: no POST body is larger than the relay's limit (`publishMaxBodyBytes`, lowered for the rest
// of the run by a 413): an event too large is split when queued (event-split.ts), each piece its
// own stamped event; a batch is cut to fit; an event refused alone is split again and its pieces
// sent before anything behind it. A turn's events stop being read from its agent while its room
// holds more than `publishRoomHighWaterBytes` unsent (`backpressure`), and the command stream is
// not read further while more than `publishIntakeHighWaterEvents` are unsent and the relay takes
// them (`intakeBackpressure`): a flood of turns waits at the relay, so memory stays bounded.
import { Backoff, type Random } from "../async/backoff.ts";
import { type Clock, systemClock, type Timer } from "../async/clock.ts";
import type { Logger } from "../log/logger.ts";
import { type HubObserver, NULL_OBSERVER } from "../observe/observer.ts";
import {
  InMemoryPublishQueue,
  type PublishBatch,
  type PublishQueue,
} from "../outbox/publish-queue.ts";
import { ResponseSequence, stampEvent } from "../outbox/response-seq.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import {
  classifyNetworkError,
  type RelayAuthError,
  RelayError,
  refusedEventIndex,
} from "./errors.ts";
import { jsonBytes, splitEvent } from "./event-split.ts";
import { failurePlan } from "./failure-policy.ts";
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
  /** Time for the coalesce window, the retry waits and flush's timeout; default the system clock. */
  clock?: Clock;
  /** The local inspector's hooks (queued, acked, failed); default none. */
  observer?: HubObserver;
}

/**
 * Told, once events are queued, what each became as it will be published: stamped, and split
 * into pieces when too large (index i: the pieces of the i-th event given to `publish`).
 */
export type QueuedObserver = (queued: ReadonlyArray<readonly PublishedEvent[]>) => void;

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
  timer: Timer | null;
  timerKind: "coalesce" | "retry" | null;
  /** This room's retries: full jitter from `publishRetryBaseDelayMs`, reset when a POST gets through. */
  backoff: Backoff;
  maxBatch: number;
  /** A one-off smaller next batch: the events before one the relay refused. */
  nextBatch: number | null;
  /** A non-chunk event waits: send without the coalesce window. */
  urgent: boolean;
  /** When the first unsent chunk was queued (start of its coalesce window). */
  chunkSince: number | null;
  /**
   * The pieces of an event the relay refused as too large, sent before anything else of the
   * room; the queue's batch holding that event is acknowledged once they are all delivered.
   */
  front: { events: PublishedEvent[]; of: PublishBatch } | null;
}

/** What one POST sends, and what to do with it once delivered or not. */
interface Sendable {
  events: readonly PublishedEvent[];
  delivered(): void;
  /** Not delivered: back where it came from (same order). */
  release(): void;
  /** Given up on for good. */
  drop(): void;
}

/** Room the POST body leaves around its events (`room_id`, brackets). */
const ENVELOPE_ALLOWANCE_BYTES = 512;
/** A learned body limit never goes below this: a relay refusing such bodies refuses something else. */
const MIN_PUBLISH_BODY_BYTES = 16 * 1024;
/** What a piece's own `response_seq` may add over the number it was cut with. */
const STAMP_SLACK_BYTES = 64;
/** Bodies above this whose connection broke are retried smaller at once (see cutWhileLarge). */
const CUT_SPLIT_MIN_BYTES = 256 * 1024;

export class Publisher {
  private readonly options: PublisherOptions;
  private readonly settings: RelayLinkSettings;
  private readonly logger: Logger;
  private readonly queue: PublishQueue;
  private readonly random: Random;
  private readonly clock: Clock;
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
  /** Probes in a row that failed as the relay's trouble (`failures`; 0 while publishing works). */
  private readonly relayBackoff: Backoff;
  /** While the relay fails: when the next probe may go, and the room whose POST probes now. */
  private relayRetryAt = 0;
  private relayProbe: string | null = null;
  private relayTimer: Timer | null = null;
  /** Rooms ready to send that wait for the relay to work again. */
  private readonly parked = new Set<string>();
  /** Largest body the relay takes, as far as we know (learned down from 413s). */
  private bodyLimit: number;
  /** JSON bytes of each queued event (computed once). */
  private readonly sizes = new WeakMap<PublishedEvent, number>();
  /** Unsent bytes per room (events queued through `publish` this run), for backpressure. */
  private readonly roomBytes = new Map<string, number>();
  /**
   * Bytes of each event counted in `roomBytes`, by its stamp (a durable queue hands back copies
   * read from their JSON text, so the event objects themselves are not the same).
   */
  private readonly counted = new Map<string, number>();
  private readonly drainWaiters = new Map<string, Array<() => void>>();
  /** The command stream waiting for the queue to go down (see `intakeBackpressure`). */
  private intakeWaiters: Array<() => void> = [];
  /** Turns whose content the relay refused for good, with why: their end is sent as a failure. */
  private readonly lostTurns = new Map<string, string>();

  constructor(options: PublisherOptions) {
    this.options = options;
    this.settings = options.settings;
    this.logger = options.logger;
    this.queue = options.queue ?? new InMemoryPublishQueue();
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
    this.sequence = options.sequence ?? new ResponseSequence();
    this.observer = options.observer ?? NULL_OBSERVER;
    this.bodyLimit = Math.max(MIN_PUBLISH_BODY_BYTES, this.settings.publishMaxBodyBytes);
    this.relayBackoff = this.retryBackoff();
  }

  /** The largest event (JSON bytes) one POST can carry now. */
  maxEventBytes(): number {
    return this.bodyLimit - ENVELOPE_ALLOWANCE_BYTES;
  }

  /**
   * A promise while the room holds more unsent bytes than the high-water mark, settling when it
   * is down to half; null when there is room. Producers wait on it before making more events.
   */
  backpressure(roomId: string): Promise<void> | null {
    if ((this.roomBytes.get(roomId) ?? 0) <= this.settings.publishRoomHighWaterBytes) return null;
    if (this.closed || this.authError) return null;
    return new Promise((resolve) => {
      const waiters = this.drainWaiters.get(roomId) ?? [];
      waiters.push(resolve);
      this.drainWaiters.set(roomId, waiters);
    });
  }

  /**
   * A promise while the queue holds more than `publishIntakeHighWaterEvents` and the relay takes
   * events, settling once it is down to half (or the relay fails, or publishing stops); null
   * otherwise. The command stream waits on it before reading more commands, so turns arriving
   * faster than their answers can be sent wait at the relay. While the relay fails there is none:
   * the outbox is the buffer then, within its own bounds.
   */
  intakeBackpressure(): Promise<void> | null {
    if (this.queue.depth() <= this.settings.publishIntakeHighWaterEvents) return null;
    if (this.stopped || this.relayBackoff.failures > 0) return null;
    return new Promise((resolve) => this.intakeWaiters.push(resolve));
  }

  /** Wakes the command stream when the queue went down to half, or whenever `force`. */
  private wakeIntake(force: boolean): void {
    if (this.intakeWaiters.length === 0) return;
    if (!force && this.queue.depth() > this.settings.publishIntakeHighWaterEvents / 2) return;
    const waiters = this.intakeWaiters;
    this.intakeWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Queues events of a room for the relay; never blocks, never throws. Each event gets its
   * `data.response_seq` here, once (and `data.task_id` if it was made without one), and keeps
   * both across retries: the relay's key for dropping a retried event. `onQueued` sees the
   * queued events exactly as they will be serialised (not called when they are dropped).
   */
  publish(roomId: string, events: readonly PublishedEvent[], onQueued?: QueuedObserver): void {
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
      const pieces = events.map((event) => this.fitted(stampEvent(event, this.sequence)));
      const stamped = pieces.flat();
      let bytes = this.roomBytes.get(roomId) ?? 0;
      for (const event of stamped) {
        const size = this.sizeOf(event);
        bytes += size;
        this.counted.set(stampOf(event), size);
      }
      this.roomBytes.set(roomId, bytes);
      this.queue.append(roomId, stamped);
      this.observer.queued(roomId, pieces);
      const room = this.room(roomId);
      if (stamped.some(isUrgent)) room.urgent = true;
      else if (room.chunkSince === null) room.chunkSince = this.clock.now();
      this.schedule(roomId);
      this.tell(roomId, onQueued, pieces);
    } catch (error) {
      this.logger.error(
        { roomId, err: error instanceof Error ? error.message : String(error) },
        "publish failed to queue events",
      );
    }
  }

  private tell(
    roomId: string,
    onQueued: QueuedObserver | undefined,
    pieces: ReadonlyArray<readonly PublishedEvent[]>,
  ): void {
    try {
      onQueued?.(pieces);
    } catch (error) {
      this.logger.error(
        { roomId, err: error instanceof Error ? error.message : String(error) },
        "an observer of queued events failed (the events are queued)",
      );
    }
  }

  /**
   * Starts sending whatever the queue already holds (e.g. a durable outbox after a restart).
   * Not done when built: the owner says when (RelayLink.start, once the outbox is open).
   */
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
      // No more waiting for coalesce windows, nor for the relay's backoff: try now.
      if (this.relayBackoff.failures > 0 && this.relayProbe === null) this.wakeParked(true);
      for (const [roomId, room] of this.rooms) {
        if (room.timerKind === "coalesce") this.clearTimer(room);
        this.schedule(roomId);
      }
      return await new Promise<boolean>((resolve) => {
        const timeout = new AbortController();
        const finish = (idle: boolean): void => {
          timeout.abort();
          this.flushWaiters.delete(finish);
          resolve(idle);
        };
        // A sleep, not a timer: ref'd, so a shutdown awaiting the flush does not exit under it.
        this.clock.sleep(timeoutMs, timeout.signal).then(
          () => finish(false),
          () => undefined,
        );
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
    this.clearRelayTimer();
    this.notifyFlush(false);
    this.wakeIntake(true);
    await Promise.allSettled([...this.inFlight]);
    for (const waiters of this.drainWaiters.values()) for (const wake of waiters) wake();
    this.drainWaiters.clear();
  }

  private sizeOf(event: PublishedEvent): number {
    let size = this.sizes.get(event);
    if (size === undefined) {
      size = jsonBytes(event);
      this.sizes.set(event, size);
    }
    return size;
  }

  /** Acknowledged (or dropped) events leave the room's byte count; waiting producers may go on. */
  private forget(roomId: string, events: readonly PublishedEvent[]): void {
    let bytes = this.roomBytes.get(roomId) ?? 0;
    for (const event of events) {
      const stamp = stampOf(event);
      const size = this.counted.get(stamp);
      if (size === undefined) continue;
      this.counted.delete(stamp);
      bytes -= size;
    }
    if (bytes <= 0) this.roomBytes.delete(roomId);
    else this.roomBytes.set(roomId, bytes);
    const waiters = this.drainWaiters.get(roomId);
    if (waiters && bytes <= this.settings.publishRoomHighWaterBytes / 2) {
      this.drainWaiters.delete(roomId);
      for (const wake of waiters) wake();
    }
  }

  /** How many events from the head of `events` fit in one body (at least one). */
  private fitting(events: readonly PublishedEvent[]): number {
    let used = ENVELOPE_ALLOWANCE_BYTES;
    for (let i = 0; i < events.length; i++) {
      used += this.sizeOf(events[i]!) + 1;
      if (used > this.bodyLimit) return Math.max(1, i);
    }
    return events.length;
  }

  /**
   * The relay refused `bodyBytes` as too large: the limit is its stated `max_bytes`, else half
   * of what it refused (never below the floor). True when the limit went down.
   */
  private learnLimit(bodyBytes: number, failure: RelayError): boolean {
    const stated = failure.detail?.["max_bytes"];
    const next =
      typeof stated === "number" && Number.isFinite(stated) && stated < bodyBytes
        ? Math.floor(stated)
        : Math.floor(bodyBytes / 2);
    const limit = Math.max(MIN_PUBLISH_BODY_BYTES, Math.min(this.bodyLimit, next));
    if (limit >= this.bodyLimit) return false;
    this.bodyLimit = limit;
    this.logger.warn(
      { refusedBytes: bodyBytes, limitBytes: limit },
      `relay refused a publish of ${bodyBytes} bytes as too large; publishing at most ${limit} bytes per request from now on (large answers are split)`,
    );
    return true;
  }

  /** An event of a turn whose content was lost: its completed end becomes a failure that says so. */
  private rewriteLost(event: PublishedEvent): PublishedEvent {
    const reason = this.lostTurns.get(event.agent_message_id);
    if (reason === undefined) return event;
    if (event.type === "agent_response") {
      const { task_id, response_seq, run_id, context_id } = event.data;
      return {
        type: "agent_error",
        agent_message_id: event.agent_message_id,
        data: {
          error: reason,
          error_type: "AnswerTooLarge",
          state: "failed",
          task_id,
          ...(response_seq === undefined ? {} : { response_seq }),
          ...(run_id === undefined ? {} : { run_id }),
          ...(context_id ? { context_id } : {}),
        },
      };
    }
    if (event.type === "processing_status" && event.data.status === "completed") {
      return { ...event, data: { ...event.data, status: "failed" } };
    }
    return event;
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
        backoff: this.retryBackoff(),
        maxBatch: this.settings.publishMaxBatchEvents,
        nextBatch: null,
        urgent: false,
        chunkSince: null,
        front: null,
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
    if (room.front) {
      room.pending = true;
      queueMicrotask(() => {
        room.pending = false;
        this.startSend(roomId);
      });
      return;
    }
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
    const since = room.chunkSince ?? this.clock.now();
    const waitMs = Math.max(0, since + this.settings.publishCoalesceMs - this.clock.now());
    this.setTimer(roomId, room, "coalesce", waitMs);
  }

  private startSend(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (!room || this.stopped || room.sending) return;
    if (!this.mayPost(roomId)) {
      this.parked.add(roomId);
      return;
    }
    let sendable: Sendable;
    if (room.front) {
      // A piece cut before the limit went down again: cut it to the limit now.
      const head = room.front.events[0];
      if (head && this.sizeOf(head) > this.maxEventBytes()) {
        room.front.events.splice(0, 1, ...this.cut(roomId, head));
      }
      sendable = this.frontSendable(roomId, room);
    } else {
      const batch = this.queue.take(
        roomId,
        Math.min(room.maxBatch, room.nextBatch ?? room.maxBatch),
      );
      room.nextBatch = null;
      if (!batch) {
        if (this.relayProbe === roomId) {
          // Nothing to probe with after all: another room takes the probe.
          this.relayProbe = null;
          this.wakeParked(false);
        }
        this.schedule(roomId);
        this.checkIdle();
        return;
      }
      const fits = this.fitting(batch.events);
      if (fits < batch.events.length) {
        // Too many bytes together: send the head that fits, the rest right after.
        this.queue.release(batch);
        room.nextBatch = fits;
        room.urgent = true;
        this.schedule(roomId);
        return;
      }
      if (this.queue.roomDepth(roomId) === batch.events.length) {
        room.urgent = false;
        room.chunkSince = null;
      } else {
        room.chunkSince = this.clock.now();
      }
      sendable = {
        events: batch.events.map((event) => this.rewriteLost(event)),
        delivered: () => {
          this.queue.ack(batch);
          this.forget(roomId, batch.events);
        },
        release: () => this.queue.release(batch),
        drop: () => {
          this.queue.ack(batch);
          this.forget(roomId, batch.events);
        },
      };
      if (batch.events.length === 1) {
        const split = this.splittable(roomId, room, batch);
        // An event queued whole before the limit went down (or by an older version): cut it now.
        if (this.sizeOf(batch.events[0]!) > this.maxEventBytes() && split.tooLarge()) {
          this.schedule(roomId);
          return;
        }
        sendable = { ...sendable, ...split };
      }
    }
    room.sending = true;
    const done = this.deliver(roomId, room, sendable)
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

  /** The head of the room's refused-as-too-large pieces, as much as one body takes. */
  private frontSendable(roomId: string, room: RoomState): Sendable & { tooLarge: () => boolean } {
    const front = room.front!;
    const count = this.fitting(front.events);
    const events = front.events.slice(0, count);
    const done = () => {
      front.events.splice(0, count);
      if (front.events.length > 0) return;
      room.front = null;
      this.queue.ack(front.of);
      this.forget(roomId, front.of.events);
    };
    return {
      events,
      tooLarge: () => {
        // A piece refused again (the limit was lower still): cut it smaller, in place.
        const pieces = this.cut(roomId, front.events[0]!);
        if (pieces.length < 2) return false;
        front.events.splice(0, 1, ...pieces);
        return true;
      },
      delivered: done,
      release: () => {},
      // A piece dropped for good is gone like a delivered one; the turn's end says so.
      drop: done,
    };
  }

  /**
   * For a batch of one event: what to do when the relay refuses it as too large, which `deliver`
   * calls through `tooLarge` (split it under the learned limit and send the pieces first).
   */
  private splittable(
    roomId: string,
    room: RoomState,
    batch: PublishBatch,
  ): { tooLarge: () => boolean } {
    return {
      tooLarge: () => {
        const pieces = this.cut(roomId, batch.events[0]!);
        if (pieces.length < 2) return false;
        room.front = { events: pieces, of: batch };
        this.logger.info(
          { roomId, pieces: pieces.length },
          "relay refused one event as too large; sending it in pieces",
        );
        return true;
      },
    };
  }

  /** `fitted` for an event already queued whole (the inspector is told of its pieces). */
  private cut(roomId: string, event: PublishedEvent): PublishedEvent[] {
    const pieces = this.fitted(event);
    if (pieces.length > 1) this.observer.cut(roomId, event, pieces);
    return pieces;
  }

  /** A stamped event, or its pieces (each stamped) when it is larger than one body may be. */
  private fitted(event: PublishedEvent): PublishedEvent[] {
    if (this.sizeOf(event) <= this.maxEventBytes()) return [event];
    // Room for the pieces' own numbers, which may be a digit longer.
    const pieces = splitEvent(event, this.maxEventBytes() - STAMP_SLACK_BYTES);
    if (pieces.length < 2) return [event];
    return this.restamped(pieces, (event.data as { response_seq?: number }).response_seq);
  }

  /**
   * Pieces of a refused event with their own numbers; the first keeps the refused event's (the
   * relay never stored it), so after a restart that re-sends the event whole it is still one key.
   */
  private restamped(pieces: readonly PublishedEvent[], seq: number | undefined): PublishedEvent[] {
    return pieces.map((piece, i) => {
      const data = { ...piece.data } as Record<string, unknown>;
      delete data.response_seq;
      if (i === 0 && seq !== undefined) data.response_seq = seq;
      return stampEvent({ ...piece, data } as unknown as PublishedEvent, this.sequence);
    });
  }

  private async deliver(
    roomId: string,
    room: RoomState,
    sendable: Sendable & { tooLarge?: () => boolean },
  ): Promise<void> {
    const signal = this.controller.signal;
    const events = sendable.events;
    const count = events.length;
    this.counters.posts += 1;
    let failure: RelayError;
    try {
      await this.options.send(roomId, events, signal);
      sendable.delivered();
      this.observer.acked(roomId, events);
      if (this.relayBackoff.failures > 0) this.relayWorks();
      else if (room.backoff.failures > 0)
        this.logger.info({ roomId }, "publishing to the relay works again");
      room.backoff.reset();
      this.counters.batches += 1;
      this.counters.eventsSent += count;
      return;
    } catch (error) {
      if (this.relayProbe === roomId) this.relayProbe = null;
      if (signal.aborted) {
        sendable.release();
        return;
      }
      failure = error instanceof RelayError ? error : classifyNetworkError("publish", error);
    }

    // Every way out below but the final refusal keeps the events queued for another POST.
    if (failure.kind !== "permanent") this.observer.failed(roomId, events, failure.message, true);
    // The relay answered this POST itself (not a 5xx, 429 or network failure): it is reachable.
    if (
      this.relayBackoff.failures > 0 &&
      (failure.kind === "permanent" || failure.kind === "not_registered")
    ) {
      this.relayWorks();
    }
    const plan = failurePlan("publish", failure);
    if (plan.stop) {
      sendable.release();
      this.stopForAuth(failure as RelayAuthError);
      return;
    }
    if (!plan.retry) {
      if (failure.status === 413) {
        const bodyBytes =
          ENVELOPE_ALLOWANCE_BYTES + events.reduce((sum, e) => sum + this.sizeOf(e) + 1, 0);
        this.learnLimit(bodyBytes, failure);
        if (count > 1) {
          // Too large together: try again at once in smaller bodies (fewer events too, for a
          // relay whose limit is below what we may learn).
          sendable.release();
          room.maxBatch = Math.max(1, Math.ceil(count / 2));
          room.urgent = true;
          this.counters.retries += 1;
          this.observer.failed(roomId, events, failure.message, true);
          return;
        }
        if (count === 1 && sendable.tooLarge?.()) {
          this.counters.retries += 1;
          this.observer.failed(roomId, events, failure.message, true);
          return;
        }
        sendable.drop();
        this.counters.dropped += count;
        this.observer.failed(roomId, events, failure.message, false);
        for (const event of events) {
          if (this.lostTurns.size >= 1_000) {
            const oldest = this.lostTurns.keys().next().value;
            if (oldest !== undefined) this.lostTurns.delete(oldest);
          }
          this.lostTurns.set(
            event.agent_message_id,
            `Part of the agent's answer could not be delivered: the relay refused an event of ${this.sizeOf(event)} bytes as too large even alone.`,
          );
        }
        this.logRefusal(roomId, failure, events);
        return;
      }
      if (failure.status === 422 && count > 1) {
        // The relay refuses a whole POST for one event it cannot read: send the events before
        // it, then it alone, so only that one is lost.
        const bad = refusedEventIndex(failure);
        if (bad !== null && bad < count) {
          sendable.release();
          room.nextBatch = Math.max(1, bad);
          room.urgent = true;
          this.counters.retries += 1;
          this.observer.failed(roomId, events, failure.message, true);
          return;
        }
      }
      sendable.drop();
      this.counters.dropped += count;
      this.observer.failed(roomId, events, failure.message, false);
      this.logRefusal(roomId, failure, events);
      return;
    }
    if (plan.reregister) {
      sendable.release();
      this.counters.retries += 1;
      this.logger.warn({ roomId }, failure.message);
      try {
        await this.options.reregister(signal);
      } catch {
        return; // abort, or an auth failure the link reports
      }
      this.retryLater(roomId, room, failure);
      return;
    }
    if (failure.code === "ReadError" && this.cutWhileLarge(roomId, room, sendable)) return;
    sendable.release();
    this.counters.retries += 1;
    this.relayFails(failure);
    this.retryLater(roomId, room, failure);
  }

  /** True when a room may POST now: always while the relay works, else only as the one probe. */
  private mayPost(roomId: string): boolean {
    if (this.relayBackoff.failures === 0) return true;
    if (this.relayProbe !== null) return this.relayProbe === roomId;
    const waitMs = this.relayRetryAt - this.clock.now();
    if (waitMs > 0) {
      // A room can park after the wake-up timer fired (the clock's time lags its timers).
      if (this.relayTimer === null) this.wakeParkedIn(waitMs);
      return false;
    }
    this.relayProbe = roomId;
    return true;
  }

  /** A POST failed as the relay's trouble: every room waits; the next probe after a backoff. */
  private relayFails(failure: RelayError): void {
    this.relayProbe = null;
    // POSTs already under way when the relay began failing count once, with the first.
    if (this.relayBackoff.failures > 0 && this.clock.now() < this.relayRetryAt) return;
    const waitMs = this.relayBackoff.nextDelayMs(failure.retryAfterMs ?? 0);
    const failures = this.relayBackoff.failures;
    this.wakeIntake(true);
    this.relayRetryAt = this.clock.now() + waitMs;
    // One warning when the relay starts failing, then every tenth probe.
    const level = failures === 1 || failures % 10 === 0 ? "warn" : "debug";
    this.logger[level](
      { failures, queued: this.queue.depth() },
      `publish: ${failure.message} (every room waits for the relay; next try in ${waitMs} ms)`,
    );
    this.wakeParkedIn(waitMs);
  }

  private wakeParkedIn(waitMs: number): void {
    this.clearRelayTimer();
    this.relayTimer = this.clock.timer(waitMs, () => {
      this.relayTimer = null;
      this.wakeParked(false);
    });
  }

  /** A POST got through after failures: every waiting room may go again. */
  private relayWorks(): void {
    this.relayBackoff.reset();
    this.relayRetryAt = 0;
    this.relayProbe = null;
    this.clearRelayTimer();
    this.logger.info(
      { queued: this.queue.depth() },
      "publishing to the relay works again; every room sends what it queued",
    );
    this.wakeParked(false);
  }

  /** The parked rooms try again (the first to run probes; the others park again if it fails). */
  private wakeParked(now: boolean): void {
    if (now) this.relayRetryAt = 0;
    const rooms = [...this.parked];
    this.parked.clear();
    for (const roomId of rooms) {
      const room = this.rooms.get(roomId);
      if (!room) continue;
      room.urgent = true;
      this.schedule(roomId);
    }
  }

  private retryBackoff(): Backoff {
    return new Backoff(
      {
        baseDelayMs: this.settings.publishRetryBaseDelayMs,
        maxDelayMs: this.settings.publishRetryMaxDelayMs,
        jitter: "full",
      },
      { clock: this.clock, random: this.random },
    );
  }

  private clearRelayTimer(): void {
    this.relayTimer?.cancel();
    this.relayTimer = null;
  }

  /**
   * The connection broke while a large body was out: a proxy in front of the relay may cut a
   * body it finds too large instead of answering 413. Sending the same body again with backoff
   * would wait for nothing (a retry of an oversized answer once stalled about a minute), so the
   * limit goes down by half (not below CUT_SPLIT_MIN_BYTES) and smaller bodies go at once.
   */
  private cutWhileLarge(
    roomId: string,
    room: RoomState,
    sendable: Sendable & { tooLarge?: () => boolean },
  ): boolean {
    const bodyBytes =
      ENVELOPE_ALLOWANCE_BYTES + sendable.events.reduce((sum, e) => sum + this.sizeOf(e) + 1, 0);
    if (bodyBytes <= CUT_SPLIT_MIN_BYTES) return false;
    const limit = Math.max(CUT_SPLIT_MIN_BYTES, Math.floor(bodyBytes / 2));
    const lowered = limit < this.bodyLimit;
    if (lowered) {
      this.bodyLimit = limit;
      this.logger.warn(
        { roomId, bodyBytes, limitBytes: limit },
        `the connection broke while a publish of ${bodyBytes} bytes was sent; trying at once with at most ${limit} bytes per request`,
      );
    }
    if (sendable.events.length > 1) {
      if (!lowered) return false;
      sendable.release();
      room.maxBatch = Math.max(1, Math.ceil(sendable.events.length / 2));
      room.urgent = true;
    } else if (!sendable.tooLarge?.()) {
      return false;
    }
    this.counters.retries += 1;
    return true;
  }

  /**
   * A refused batch is logged once per kind of refusal (status and field): a relay that refuses
   * every event of some kind must not flood the log. Later ones are counted at debug level.
   */
  private logRefusal(roomId: string, failure: RelayError, events: readonly PublishedEvent[]): void {
    const field = typeof failure.detail?.field === "string" ? failure.detail.field : "";
    const kind = `${failure.status}:${failure.code ?? ""}:${field.replace(/\d+/g, "#")}`;
    const types = [...new Set(events.map((e) => e.type))];
    const count = events.length;
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
    const waitMs = room.backoff.nextDelayMs(failure.retryAfterMs ?? 0);
    if (failure.kind !== "not_registered") {
      // The relay-wide warning is relayFails' (an outage with many rooms must not flood the log).
      this.logger.debug(
        { roomId, attempt: room.backoff.failures, queued: this.queue.roomDepth(roomId) },
        `publish: ${failure.message} (this room's next try in ${waitMs} ms at the earliest)`,
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
    room.timer = this.clock.timer(waitMs, () => {
      room.timer = null;
      room.timerKind = null;
      this.startSend(roomId);
    });
  }

  private clearTimer(room: RoomState): void {
    room.timer?.cancel();
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
    this.clearRelayTimer();
    this.notifyFlush(false);
    this.wakeIntake(true);
    if (notify) this.options.onAuthError(error);
  }

  private checkIdle(): void {
    this.wakeIntake(false);
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

/** What tells a queued event apart: its turn, task and `response_seq` (fixed when queued). */
function stampOf(event: PublishedEvent): string {
  const data = event.data as unknown as Record<string, unknown>;
  return `${event.agent_message_id}\n${String(data.task_id)}\n${String(data.response_seq)}`;
}
