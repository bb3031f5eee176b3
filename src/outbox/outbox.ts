// The hub's durable outbox, in one place: the publish queue (events written before they are
// sent, deleted when the relay acknowledged them), the accepted-turn ledger (duplicates, and
// the unfinished turns hub/recovery.ts answers after a restart), the command stream's last event
// id and the response_seq mark. Storage only: it runs no turn and imports no hub or relay code.
//
// Everything is in `<data dir>/outbox.sqlite`. If that file cannot be used (damaged, or the
// directory is not writable) the hub says so in one line and runs from memory: nothing is lost
// while it runs, only a restart forgets what was unsent.
//
// Message content at rest: an event's row is deleted as soon as the relay acknowledges it (and
// secure_delete zeroes its bytes; the WAL is truncated once the queue is empty). Unsent events
// are dropped after `eventTtlMs` (24 h). Accepted turns keep ids only, never message text.
import { join } from "node:path";
import type { Logger } from "../log/logger.ts";
import { withDefaults } from "../system/settings.ts";
import { DurableAcceptedTurns } from "./accepted-turn-ledger.ts";
import { type AcceptedTurnRow, OUTBOX_DB_FILE, openOutboxDatabase } from "./database.ts";
import { DurablePublishQueue, type OutboxQueueStats } from "./durable-queue.ts";
import { LAST_EVENT_ID, StoredEventIds } from "./event-ids.ts";
import { ResponseSequence, stampEvent } from "./response-seq.ts";
import { DEFAULT_OUTBOX_SETTINGS, type OutboxSettings } from "./settings.ts";
import { OutboxStore } from "./store.ts";

const RESPONSE_SEQ_HIGH_WATER = "response_seq_high_water";

interface OutboxOptions {
  /** Folder of `outbox.sqlite` (the hub's data directory); null keeps everything in memory. */
  dir: string | null;
  logger: Logger;
  settings?: Partial<OutboxSettings>;
}

interface OutboxStats extends OutboxQueueStats {
  file: string | null;
  /** Why the database is not (or no longer) used; null while it works or when none was asked for. */
  failure: string | null;
  /** Turns an earlier run left unfinished, found at open. */
  unfinishedAtStart: number;
}

export class Outbox {
  readonly queue: DurablePublishQueue;
  readonly acceptedTurns: DurableAcceptedTurns;
  /** The command stream's last SSE id, kept between runs so the relay can replay what a killed hub never handled. */
  readonly eventIds: StoredEventIds;
  /** Where every published event's `data.response_seq` comes from; its high-water mark is kept here. */
  readonly responseSeq: ResponseSequence;
  readonly #store: OutboxStore;
  readonly #logger: Logger;
  readonly #settings: OutboxSettings;
  #openFailure: string | null = null;
  #unfinished: AcceptedTurnRow[] = [];
  #unfinishedAtStart = 0;
  #sweepTimer: NodeJS.Timeout | null = null;
  #opened = false;
  #closed = false;

  /** Opens nothing and starts nothing: `open`, then `start`, then `close`. */
  constructor(options: OutboxOptions) {
    const logger = options.logger;
    const settings = withDefaults(DEFAULT_OUTBOX_SETTINGS, options.settings);
    this.#logger = logger;
    this.#settings = settings;
    const dir = options.dir;
    const store =
      dir === null
        ? new OutboxStore(null, null, logger)
        : new OutboxStore(null, join(dir, OUTBOX_DB_FILE), logger, {
            open: () => openOutboxDatabase(dir),
            intervalMs: settings.reopenIntervalMs,
          });
    this.#store = store;
    this.queue = new DurablePublishQueue({ store, settings, logger });
    this.acceptedTurns = new DurableAcceptedTurns({ store, settings });
    this.eventIds = new StoredEventIds(store);
    this.responseSeq = new ResponseSequence({
      store: {
        load: () => {
          const value = store.use("read the response_seq mark", (db) =>
            db.getMeta(RESPONSE_SEQ_HIGH_WATER),
          );
          return value == null ? null : Number(value);
        },
        save: (highWater) => {
          store.use("save the response_seq mark", (db) =>
            db.setMeta(RESPONSE_SEQ_HIGH_WATER, String(highWater)),
          );
        },
      },
    });

    // The database usable again: what memory holds goes to it before it is used.
    store.onReopen((db) => {
      const ended = this.queue.writeTo(db);
      this.acceptedTurns.writeTo(db, ended);
      db.setMeta(RESPONSE_SEQ_HIGH_WATER, String(this.responseSeq.reservedUpTo));
      const lastEventId = this.eventIds.saved;
      if (lastEventId !== null) db.setMeta(LAST_EVENT_ID, lastEventId);
      this.queue.caughtUp();
    });
  }

  /**
   * Opens `outbox.sqlite` (or says in one line why it cannot, and goes on in memory), reads back
   * the unsent events and the turns an earlier run left unfinished, and applies the TTL once.
   * Call once, before anything is queued or accepted; never throws.
   */
  open(): void {
    if (this.#opened || this.#closed) return;
    this.#opened = true;
    const logger = this.#logger;
    const failure = this.#store.open();
    if (failure !== null) {
      this.#openFailure = failure;
      const file = this.#store.file;
      logger.error(
        { file },
        `cannot use the outbox database ${file} (${failure}); unsent events are kept in memory only until it can be used: if the file is damaged move it aside, if the directory is read-only make it writable; the hub tries it again every ${Math.round(this.#settings.reopenIntervalMs / 1000)} s and needs no restart (a restart before then loses what memory holds)`,
      );
    }
    const loaded = this.queue.load((event) => stampEvent(event, this.responseSeq));
    this.#unfinished = this.acceptedTurns.unfinished();
    this.#unfinishedAtStart = this.#unfinished.length;
    this.acceptedTurns.prune();
    this.queue.sweepExpired();
    if (loaded.events > 0 || this.#unfinished.length > 0) {
      logger.info(
        { events: loaded.events, rooms: loaded.rooms, unfinishedTurns: this.#unfinished.length },
        `outbox: ${loaded.events} unsent event(s) from an earlier run go out first; ${this.#unfinished.length} turn(s) it left unfinished will be answered`,
      );
    }
  }

  /** Starts the timers: the TTL sweep, and retrying a database that cannot be used. */
  start(): void {
    if (this.#sweepTimer || this.#closed) return;
    this.#store.start();
    this.#sweepTimer = setInterval(() => {
      this.queue.sweepExpired();
      this.acceptedTurns.prune();
    }, this.#settings.ttlSweepIntervalMs);
    this.#sweepTimer.unref();
  }

  /** Events reach the disk (false: memory only). */
  get durable(): boolean {
    return this.#store.durable;
  }

  get file(): string | null {
    return this.#store.file;
  }

  /**
   * The turns an earlier run accepted and never gave a terminal group (found at `open`), handed
   * out once: the hub's restart recovery answers them.
   */
  takeUnfinished(): AcceptedTurnRow[] {
    return this.#unfinished.splice(0);
  }

  stats(): OutboxStats {
    return {
      ...this.queue.stats(),
      file: this.#store.file,
      failure: this.#store.durable ? null : (this.#store.failure ?? this.#openFailure),
      unfinishedAtStart: this.#unfinishedAtStart,
    };
  }

  /** Stops timers and closes the database (after the publisher has stopped). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
    this.queue.close();
    this.#store.close();
  }
}

/** Opens the outbox in `dir` (or in memory for null) and starts its timers; never throws. */
export function openOutbox(options: OutboxOptions): Outbox {
  const outbox = new Outbox(options);
  outbox.open();
  outbox.start();
  return outbox;
}
