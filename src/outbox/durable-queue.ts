// The durable PublishQueue: every event is written to sqlite before the Publisher may send it and
// deleted the moment the relay acknowledges it. The rooms' order lives in an in-memory copy (so
// `take` never reads the disk) and in the rows' sequence numbers (so a restart rebuilds the same
// order). If the database fails, the copy simply goes on alone: the hub keeps serving.
//
// Bounds: count, bytes and age. What is dropped is always whole turns (every queued event of the
// turn, and whatever that turn publishes afterwards), oldest first, so the relay never gets a
// turn's tail without its head. One warning per episode; every dropped event is counted.
import type { Logger } from "../log/logger.ts";
import type { PublishBatch, PublishQueue } from "../relay/publish-queue.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import type { NewEventRow } from "./database.ts";
import type { OutboxSettings } from "./settings.ts";
import type { OutboxStore } from "./store.ts";

interface Entry {
  /** Row sequence number; null when the event lives in memory only. */
  seq: number | null;
  event: PublishedEvent;
  bytes: number;
  createdAt: number;
  turn: string;
  /** Queue order across rooms (oldest first), for choosing what to drop. */
  order: number;
}

interface Room {
  queued: Entry[];
  /** Index of the first queued entry (those before it were taken); compacted now and then. */
  head: number;
  out: { batch: PublishBatch; entries: Entry[] } | null;
}

export interface OutboxQueueStats {
  /** Unacknowledged events (queued + out). */
  depth: number;
  /** Bytes of their JSON. */
  bytes: number;
  /** Events dropped by the bounds or the TTL since start. */
  dropped: number;
  /** Events written to the database (false: memory only). */
  durable: boolean;
}

/** Remembered ids of dropped turns (their later events are dropped too). */
const DROPPED_TURNS_MEMORY = 10_000;

export class DurablePublishQueue implements PublishQueue {
  readonly #store: OutboxStore;
  readonly #settings: OutboxSettings;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #rooms = new Map<string, Room>();
  readonly #droppedTurns = new Set<string>();
  #total = 0;
  #bytes = 0;
  #dropped = 0;
  #order = 0;
  /** Events dropped since the outbox was last empty; the first drop of an episode is logged. */
  #episodeDrops = 0;
  #checkpointTimer: NodeJS.Timeout | null = null;

  constructor(options: {
    store: OutboxStore;
    settings: OutboxSettings;
    logger: Logger;
    now?: () => number;
  }) {
    this.#store = options.store;
    this.#settings = options.settings;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Reads the unsent events of earlier runs back, in their order. Call once, before use. `stamp`
   * gives an event written by an older version the stamp it lacks (see relay/response-seq.ts);
   * the stamped event is written back at once, so every later retry sends the same.
   */
  load(stamp: (event: PublishedEvent) => PublishedEvent = (event) => event): {
    events: number;
    rooms: number;
  } {
    const rows = this.#store.use("load events", (db) => db.loadEvents()) ?? [];
    const corrupt: number[] = [];
    const restamped: Array<{ seq: number; json: string; bytes: number }> = [];
    for (const row of rows) {
      let event: PublishedEvent;
      let bytes = row.bytes;
      try {
        const parsed = JSON.parse(row.json) as PublishedEvent;
        if (typeof parsed !== "object" || parsed === null || typeof parsed.type !== "string") {
          throw new Error("not an event");
        }
        event = stamp(parsed);
        if (event !== parsed) {
          const json = JSON.stringify(event);
          bytes = Buffer.byteLength(json);
          restamped.push({ seq: row.seq, json, bytes });
        }
      } catch {
        corrupt.push(row.seq);
        continue;
      }
      this.#push(row.roomId, {
        seq: row.seq,
        event,
        bytes,
        createdAt: row.createdAt,
        turn: row.agentMessageId,
        order: this.#order++,
      });
    }
    this.#store.use("stamp events of an older version", (db) => db.updateEvents(restamped));
    if (corrupt.length > 0) {
      this.#store.use("delete unreadable events", (db) => db.deleteEvents(corrupt));
      this.#dropped += corrupt.length;
      this.#logger.warn(
        { file: this.#store.file, events: corrupt.length },
        "outbox held unreadable events; they were removed (their turns may lack events at the relay)",
      );
    }
    return { events: this.#total, rooms: this.#rooms.size };
  }

  append(roomId: string, events: readonly PublishedEvent[]): void {
    if (events.length === 0) return;
    const now = this.#now();
    const entries: Entry[] = [];
    const rows: NewEventRow[] = [];
    let refused = 0;
    for (const event of events) {
      const turn = String(event.agent_message_id);
      if (this.#droppedTurns.has(turn)) {
        refused++;
        continue;
      }
      const json = JSON.stringify(event);
      const bytes = Buffer.byteLength(json);
      entries.push({ seq: null, event, bytes, createdAt: now, turn, order: 0 });
      rows.push({ roomId, agentMessageId: turn, json, bytes, createdAt: now });
    }
    if (refused > 0) this.#countDrops(refused);
    if (entries.length === 0) return;

    const bytes = rows.reduce((sum, row) => sum + row.bytes, 0);
    if (!this.#fits(entries.length, bytes)) {
      const incoming = new Set(entries.map((entry) => entry.turn));
      this.#dropOldestTurns(entries.length, bytes, incoming);
      if (!this.#fits(entries.length, bytes)) {
        // Too big even alone: this turn is the one that goes.
        for (const turn of incoming) this.#rememberDropped(turn);
        this.#countDrops(entries.length, "full", incoming.size);
        return;
      }
    }

    // A terminal group marks its turn finished in the same transaction (see database.ts).
    const terminalTurns = [
      ...new Set(
        entries.filter((entry) => entry.event.type === "processing_status").map((e) => e.turn),
      ),
    ];
    const seqs = this.#store.use("write events", (db) => db.insertEvents(rows, terminalTurns));
    entries.forEach((entry, index) => {
      entry.seq = seqs?.[index] ?? null;
      entry.order = this.#order++;
      this.#push(roomId, entry);
    });
  }

  take(roomId: string, maxEvents: number): PublishBatch | null {
    const room = this.#rooms.get(roomId);
    if (!room || room.out || room.head >= room.queued.length) return null;
    const end = Math.min(room.queued.length, room.head + Math.max(1, maxEvents));
    const entries = room.queued.slice(room.head, end);
    room.head = end;
    if (room.head > 1024 && room.head * 2 > room.queued.length) {
      room.queued = room.queued.slice(room.head);
      room.head = 0;
    }
    const batch: PublishBatch = { roomId, events: entries.map((entry) => entry.event) };
    room.out = { batch, entries };
    return batch;
  }

  ack(batch: PublishBatch): void {
    const room = this.#rooms.get(batch.roomId);
    if (!room || room.out?.batch !== batch) return;
    const { entries } = room.out;
    room.out = null;
    const seqs = entries.flatMap((entry) => (entry.seq === null ? [] : [entry.seq]));
    this.#store.use("delete delivered events", (db) => db.deleteEvents(seqs));
    for (const entry of entries) this.#forget(entry);
    if (room.head >= room.queued.length) this.#rooms.delete(batch.roomId);
    this.#afterRemoval();
  }

  release(batch: PublishBatch): void {
    const room = this.#rooms.get(batch.roomId);
    if (!room || room.out?.batch !== batch) return;
    const { entries } = room.out;
    room.out = null;
    room.queued = [...entries, ...room.queued.slice(room.head)];
    room.head = 0;
  }

  rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  roomDepth(roomId: string): number {
    const room = this.#rooms.get(roomId);
    if (!room) return 0;
    return room.queued.length - room.head + (room.out ? room.out.entries.length : 0);
  }

  depth(): number {
    return this.#total;
  }

  dropped(): number {
    return this.#dropped;
  }

  stats(): OutboxQueueStats {
    return {
      depth: this.#total,
      bytes: this.#bytes,
      dropped: this.#dropped,
      durable: this.#store.durable,
    };
  }

  /** Drops every queued event of turns that have an event older than the TTL; returns how many. */
  sweepExpired(): number {
    const cutoff = this.#now() - this.#settings.eventTtlMs;
    const expired = new Set<string>();
    for (const room of this.#rooms.values()) {
      for (let i = room.head; i < room.queued.length; i++) {
        const entry = room.queued[i] as Entry;
        if (entry.createdAt < cutoff) expired.add(entry.turn);
      }
    }
    if (expired.size === 0) return 0;
    const count = this.#dropTurns(expired);
    this.#countDrops(count, "expired", expired.size);
    this.#afterRemoval();
    return count;
  }

  /** Stops the checkpoint timer (the database itself is closed by its owner). */
  close(): void {
    if (this.#checkpointTimer) clearTimeout(this.#checkpointTimer);
    this.#checkpointTimer = null;
  }

  #push(roomId: string, entry: Entry): void {
    let room = this.#rooms.get(roomId);
    if (!room) {
      room = { queued: [], head: 0, out: null };
      this.#rooms.set(roomId, room);
    }
    room.queued.push(entry);
    this.#total += 1;
    this.#bytes += entry.bytes;
  }

  #forget(entry: Entry): void {
    this.#total -= 1;
    this.#bytes -= entry.bytes;
  }

  #fits(events: number, bytes: number): boolean {
    return (
      this.#total + events <= this.#settings.maxEvents &&
      this.#bytes + bytes <= this.#settings.maxBytes
    );
  }

  /** Drops whole turns, oldest first (not those in `keep`), until `events`/`bytes` fit. */
  #dropOldestTurns(events: number, bytes: number, keep: ReadonlySet<string>): void {
    const turns = new Map<string, { first: number; events: number; bytes: number }>();
    for (const room of this.#rooms.values()) {
      for (let i = room.head; i < room.queued.length; i++) {
        const entry = room.queued[i] as Entry;
        if (keep.has(entry.turn)) continue;
        const seen = turns.get(entry.turn);
        if (!seen) {
          turns.set(entry.turn, { first: entry.order, events: 1, bytes: entry.bytes });
        } else {
          seen.first = Math.min(seen.first, entry.order);
          seen.events += 1;
          seen.bytes += entry.bytes;
        }
      }
    }
    const oldestFirst = [...turns.entries()].sort((a, b) => a[1].first - b[1].first);
    const victims = new Set<string>();
    let total = this.#total;
    let totalBytes = this.#bytes;
    const { maxEvents, maxBytes } = this.#settings;
    for (const [turn, size] of oldestFirst) {
      if (total + events <= maxEvents && totalBytes + bytes <= maxBytes) break;
      victims.add(turn);
      total -= size.events;
      totalBytes -= size.bytes;
    }
    if (victims.size === 0) return;
    this.#countDrops(this.#dropTurns(victims), "full", victims.size);
  }

  /** Removes the queued (not in-flight) events of these turns; returns how many. */
  #dropTurns(turns: ReadonlySet<string>): number {
    const seqs: number[] = [];
    let count = 0;
    for (const [roomId, room] of this.#rooms) {
      const kept: Entry[] = [];
      for (let i = room.head; i < room.queued.length; i++) {
        const entry = room.queued[i] as Entry;
        if (turns.has(entry.turn)) {
          if (entry.seq !== null) seqs.push(entry.seq);
          this.#forget(entry);
          count++;
        } else {
          kept.push(entry);
        }
      }
      room.queued = kept;
      room.head = 0;
      if (kept.length === 0 && !room.out) this.#rooms.delete(roomId);
    }
    for (const turn of turns) this.#rememberDropped(turn);
    this.#store.use("delete dropped events", (db) => db.deleteEvents(seqs));
    return count;
  }

  #rememberDropped(turn: string): void {
    this.#droppedTurns.add(turn);
    if (this.#droppedTurns.size > DROPPED_TURNS_MEMORY) {
      const oldest = this.#droppedTurns.values().next().value;
      if (oldest !== undefined) this.#droppedTurns.delete(oldest);
    }
  }

  #countDrops(count: number, why?: "full" | "expired", turns = 0): void {
    if (count <= 0) return;
    this.#dropped += count;
    const first = this.#episodeDrops === 0;
    this.#episodeDrops += count;
    if (!first || why === undefined) return;
    const { maxEvents, maxBytes, eventTtlMs } = this.#settings;
    const message =
      why === "full"
        ? `outbox is full (limit ${maxEvents} events / ${Math.round(maxBytes / 1048576)} MiB): dropped ${count} unsent events of the ${turns} oldest turns (is the relay unreachable?); further drops are only counted until the outbox empties`
        : `outbox dropped ${count} unsent events of ${turns} turns older than ${Math.round(eventTtlMs / 60_000)} min (the relay was unreachable that long); further drops are only counted until the outbox empties`;
    this.#logger.warn({ dropped: count, turns, file: this.#store.file }, message);
  }

  #afterRemoval(): void {
    if (this.#total !== 0) return;
    if (this.#episodeDrops > 0) {
      this.#logger.info(
        { dropped: this.#episodeDrops },
        `outbox is empty again; ${this.#episodeDrops} events were dropped while it was full or stale`,
      );
      this.#episodeDrops = 0;
    }
    // Delivered content leaves the WAL too (secure_delete already zeroes the database pages).
    if (this.#store.durable && !this.#checkpointTimer) {
      this.#checkpointTimer = setTimeout(() => {
        this.#checkpointTimer = null;
        if (this.#total === 0) this.#store.use("checkpoint", (db) => db.checkpoint());
      }, this.#settings.checkpointDelayMs);
      this.#checkpointTimer.unref();
    }
  }
}
