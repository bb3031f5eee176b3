// The durable PublishQueue: every event is written to sqlite before the Publisher may send it and
// deleted the moment the relay acknowledges it. The rooms' order lives in an in-memory copy (so
// `take` never reads the disk) and in the rows' sequence numbers (so a restart rebuilds the same
// order). If the database fails, the copy simply goes on alone: the hub keeps serving. The copy
// holds each event as its JSON text (parsed again only when taken for a POST): a backlog of
// 100,000 events costs its bytes, not ten times that in objects for the GC to walk.
//
// Bounds: count, bytes and age. What is dropped is always whole turns (every queued event of the
// turn, and whatever that turn publishes afterwards), oldest first, so the relay never gets a
// turn's tail without its head. One warning per episode; every dropped event is counted.
import type { Logger } from "../log/logger.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import type { NewEventRow, OutboxDatabase, StoredEventRow } from "./database.ts";
import type { PublishBatch, PublishQueue } from "./publish-queue.ts";
import type { OutboxSettings } from "./settings.ts";
import type { OutboxStore } from "./store.ts";

interface Entry {
  /** Row sequence number; null when the event lives in memory only. */
  seq: number | null;
  /** The event as written to the database. */
  json: string;
  bytes: number;
  createdAt: number;
  turn: Turn;
  room: Room;
  /** Waiting in its room, in a batch out to the relay, or gone (acknowledged or dropped). */
  state: "queued" | "out" | "gone";
}

/**
 * The unacknowledged events of one turn, and its place in the age list (oldest turn first, by
 * its first queued event): what to drop under pressure is always the list's head, O(1).
 */
interface Turn {
  id: string;
  /** Its entries not known to be gone (queued or out), oldest first; compacted now and then. */
  entries: Entry[];
  /** Entries queued or out. */
  live: number;
  /** When its first queued event was written (for the TTL). */
  since: number;
  /** In the age list; false once dropped (its in-flight events may still be out). */
  listed: boolean;
  older: Turn | null;
  newer: Turn | null;
}

interface Room {
  id: string;
  /** Entries in order from `head`; dropped ones stay as gone until passed (O(1) drops). */
  queued: Entry[];
  /** Index of the first entry not yet taken; compacted now and then. */
  head: number;
  /** Queued (not out, not gone) entries from `head`. */
  waiting: number;
  /** The batch out to the relay, and where it began in `queued` (a release goes back there). */
  out: { batch: PublishBatch; entries: Entry[]; start: number } | null;
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
/** Turns that ended while the database was unusable, remembered until it works again. */
const ENDED_IN_MEMORY_MEMORY = 100_000;

export class DurablePublishQueue implements PublishQueue {
  readonly #store: OutboxStore;
  readonly #settings: OutboxSettings;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #rooms = new Map<string, Room>();
  readonly #turns = new Map<string, Turn>();
  /** Age list of turns with unacknowledged events: `#oldest` is the first to drop. */
  #oldest: Turn | null = null;
  #newest: Turn | null = null;
  readonly #droppedTurns = new RecentIds(DROPPED_TURNS_MEMORY);
  #total = 0;
  #bytes = 0;
  #dropped = 0;
  /** Turns whose terminal group was queued while the database was unusable (bounded). */
  readonly #endedInMemory = new RecentIds(ENDED_IN_MEMORY_MEMORY);
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
   * gives an event written by an older version the stamp it lacks (see response-seq.ts);
   * the stamped event is written back at once, so every later retry sends the same.
   */
  load(stamp: (event: PublishedEvent) => PublishedEvent = (event) => event): {
    events: number;
    rooms: number;
  } {
    const corrupt: number[] = [];
    const restamped: Array<{ seq: number; json: string; bytes: number }> = [];
    const visit = (row: StoredEventRow) => {
      let json = row.json;
      let bytes = row.bytes;
      try {
        const parsed = JSON.parse(row.json) as PublishedEvent;
        if (typeof parsed !== "object" || parsed === null || typeof parsed.type !== "string") {
          throw new Error("not an event");
        }
        const event = stamp(parsed);
        if (event !== parsed) {
          json = JSON.stringify(event);
          bytes = Buffer.byteLength(json);
          restamped.push({ seq: row.seq, json, bytes });
        }
      } catch {
        corrupt.push(row.seq);
        return;
      }
      this.#push(row.roomId, row.agentMessageId, {
        seq: row.seq,
        json,
        bytes,
        createdAt: row.createdAt,
      });
    };
    this.#store.use("load events", (db) => db.eachEvent(visit));
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
    const entries: Array<{ turn: string; event: PublishedEvent; json: string; bytes: number }> = [];
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
      entries.push({ turn, event, json, bytes });
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
        const queued = this.#dropTurns([...incoming].flatMap((id) => this.#turns.get(id) ?? []));
        for (const turn of incoming) this.#droppedTurns.add(turn);
        this.#countDrops(entries.length + queued, "full", incoming.size);
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
    if (seqs === undefined) for (const turn of terminalTurns) this.#endedInMemory.add(turn);
    entries.forEach((entry, index) => {
      this.#push(roomId, entry.turn, {
        seq: seqs?.[index] ?? null,
        json: entry.json,
        bytes: entry.bytes,
        createdAt: now,
      });
    });
  }

  take(roomId: string, maxEvents: number): PublishBatch | null {
    const room = this.#rooms.get(roomId);
    if (!room || room.out || room.waiting === 0) return null;
    if (room.head > 1024 && room.head * 2 > room.queued.length) {
      room.queued = room.queued.slice(room.head);
      room.head = 0;
    }
    const wanted = Math.max(1, maxEvents);
    const entries: Entry[] = [];
    let start = -1;
    while (room.head < room.queued.length && entries.length < wanted) {
      const entry = room.queued[room.head] as Entry;
      if (entry.state === "queued") {
        if (start < 0) start = room.head;
        entry.state = "out";
        entries.push(entry);
      }
      room.head++;
    }
    room.waiting -= entries.length;
    const events = entries.map((entry) => JSON.parse(entry.json) as PublishedEvent);
    const batch: PublishBatch = { roomId, events };
    room.out = { batch, entries, start };
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
    if (room.waiting === 0) this.#rooms.delete(batch.roomId);
    this.#afterRemoval();
  }

  release(batch: PublishBatch): void {
    const room = this.#rooms.get(batch.roomId);
    if (!room || room.out?.batch !== batch) return;
    const { entries, start } = room.out;
    room.out = null;
    // Nothing moved the room's array while the batch was out (only `take` compacts it), so the
    // batch's entries are where they were: back to queued, and the head back to the first.
    for (const entry of entries) entry.state = "queued";
    room.waiting += entries.length;
    if (start >= 0) room.head = start;
  }

  rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  roomDepth(roomId: string): number {
    const room = this.#rooms.get(roomId);
    if (!room) return 0;
    return room.waiting + (room.out ? room.out.entries.length : 0);
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

  /**
   * Drops every queued event of turns whose first queued event is older than the TTL; returns
   * how many. Walks the age list from its oldest turn: O(what is dropped).
   */
  sweepExpired(): number {
    const cutoff = this.#now() - this.#settings.eventTtlMs;
    const expired: Turn[] = [];
    for (let turn = this.#oldest; turn && turn.since < cutoff; turn = turn.newer) {
      expired.push(turn);
    }
    if (expired.length === 0) return 0;
    const count = this.#dropTurns(expired);
    for (const turn of expired) this.#droppedTurns.add(turn.id);
    this.#countDrops(count, "expired", expired.length);
    this.#afterRemoval();
    return count;
  }

  /**
   * A database usable again (after it failed, or never opened): every unacknowledged event
   * memory holds replaces what the file held, in each room's order. Returns the turns whose
   * terminal group was queued while it was unusable (for their accepted-turn rows); `caughtUp`
   * forgets them once those are written.
   */
  writeTo(db: OutboxDatabase): string[] {
    const entries: Entry[] = [];
    const rows: NewEventRow[] = [];
    for (const room of this.#rooms.values()) {
      const inOrder = [...(room.out?.entries ?? []), ...room.queued.slice(room.head)];
      for (const entry of inOrder) {
        if (entry.state === "gone") continue;
        entries.push(entry);
        rows.push({
          roomId: room.id,
          agentMessageId: entry.turn.id,
          json: entry.json,
          bytes: entry.bytes,
          createdAt: entry.createdAt,
        });
      }
    }
    const seqs = db.replaceEvents(rows);
    entries.forEach((entry, index) => {
      entry.seq = seqs[index] ?? null;
    });
    return this.#endedInMemory.values();
  }

  caughtUp(): void {
    this.#endedInMemory.clear();
  }

  /** Stops the checkpoint timer (the database itself is closed by its owner). */
  close(): void {
    if (this.#checkpointTimer) clearTimeout(this.#checkpointTimer);
    this.#checkpointTimer = null;
  }

  #push(roomId: string, turnId: string, fields: Omit<Entry, "turn" | "room" | "state">): void {
    let room = this.#rooms.get(roomId);
    if (!room) {
      room = { id: roomId, queued: [], head: 0, waiting: 0, out: null };
      this.#rooms.set(roomId, room);
    }
    let turn = this.#turns.get(turnId);
    if (!turn?.listed) {
      turn = {
        id: turnId,
        entries: [],
        live: 0,
        since: fields.createdAt,
        listed: true,
        older: this.#newest,
        newer: null,
      };
      if (this.#newest) this.#newest.newer = turn;
      else this.#oldest = turn;
      this.#newest = turn;
      this.#turns.set(turnId, turn);
    }
    const entry: Entry = { ...fields, turn, room, state: "queued" };
    room.queued.push(entry);
    room.waiting += 1;
    turn.entries.push(entry);
    turn.live += 1;
    this.#total += 1;
    this.#bytes += entry.bytes;
  }

  /** The entry is acknowledged or dropped: it leaves the counts, and its turn when the last. */
  #forget(entry: Entry): void {
    entry.state = "gone";
    this.#total -= 1;
    this.#bytes -= entry.bytes;
    const turn = entry.turn;
    turn.live -= 1;
    if (turn.live === 0) {
      this.#unlist(turn);
      if (this.#turns.get(turn.id) === turn) this.#turns.delete(turn.id);
    } else if (turn.entries.length > 64 && turn.entries.length > 2 * turn.live) {
      turn.entries = turn.entries.filter((e) => e.state !== "gone");
    }
  }

  #unlist(turn: Turn): void {
    if (!turn.listed) return;
    turn.listed = false;
    if (turn.older) turn.older.newer = turn.newer;
    else this.#oldest = turn.newer;
    if (turn.newer) turn.newer.older = turn.older;
    else this.#newest = turn.older;
    turn.older = null;
    turn.newer = null;
  }

  #fits(events: number, bytes: number): boolean {
    return (
      this.#total + events <= this.#settings.maxEvents &&
      this.#bytes + bytes <= this.#settings.maxBytes
    );
  }

  /**
   * Drops whole turns, oldest first (not those in `keep`), until `events`/`bytes` fit. Each
   * victim is the age list's head: the cost is that of the events dropped, whatever the backlog.
   */
  #dropOldestTurns(events: number, bytes: number, keep: ReadonlySet<string>): void {
    const victims: Turn[] = [];
    let dropped = 0;
    let turn = this.#oldest;
    while (turn && !this.#fits(events, bytes)) {
      const next = turn.newer;
      if (!keep.has(turn.id)) {
        victims.push(turn);
        dropped += this.#dropTurns([turn]);
        this.#droppedTurns.add(turn.id);
      }
      turn = next;
    }
    if (victims.length === 0) return;
    this.#countDrops(dropped, "full", victims.length);
  }

  /**
   * Removes the queued (not in-flight) events of these turns and takes them off the age list
   * (their later events are refused); returns how many events went.
   */
  #dropTurns(turns: readonly Turn[]): number {
    const seqs: number[] = [];
    let count = 0;
    for (const turn of turns) {
      this.#unlist(turn);
      for (const entry of turn.entries) {
        if (entry.state !== "queued") continue;
        if (entry.seq !== null) seqs.push(entry.seq);
        entry.room.waiting -= 1;
        this.#forget(entry);
        count++;
        const room = entry.room;
        if (room.waiting === 0 && !room.out && this.#rooms.get(room.id) === room) {
          this.#rooms.delete(room.id);
        }
      }
    }
    this.#store.use("delete dropped events", (db) => db.deleteEvents(seqs));
    return count;
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

/** The last `capacity` ids added, with O(1) add and lookup (a ring over a set). */
class RecentIds {
  readonly #ids = new Set<string>();
  readonly #ring: Array<string | undefined>;
  #next = 0;

  constructor(capacity: number) {
    this.#ring = new Array<string | undefined>(capacity);
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  values(): string[] {
    return [...this.#ids];
  }

  clear(): void {
    this.#ids.clear();
    this.#ring.fill(undefined);
    this.#next = 0;
  }

  add(id: string): void {
    if (this.#ids.has(id)) return;
    const evicted = this.#ring[this.#next];
    if (evicted !== undefined) this.#ids.delete(evicted);
    this.#ring[this.#next] = id;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#ids.add(id);
  }
}
