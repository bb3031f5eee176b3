// The hub's durable outbox, in one place: the publish queue (events written before they are
// sent, deleted when the relay acknowledged them), the accepted-turn ledger (duplicates and
// restart recovery), the command stream's last event id, and the recovery run at start.
//
// Everything is in `<data dir>/outbox.sqlite`. If that file cannot be used (damaged, or the
// directory is not writable) the hub says so in one line and runs from memory: nothing is lost
// while it runs, only a restart forgets what was unsent.
//
// Message content at rest: an event's row is deleted as soon as the relay acknowledges it (and
// secure_delete zeroes its bytes; the WAL is truncated once the queue is empty). Unsent events
// are dropped after `eventTtlMs` (24 h). Accepted turns keep ids only, never message text.
import type { EventSink, OpenOutlet, Roster } from "../hub/hub.ts";
import type { Logger } from "../log/logger.ts";
import type { EventIdStore } from "../relay/relay-link.ts";
import { ResponseSequence, stampEvent } from "../relay/response-seq.ts";
import { withDefaults } from "../system/settings.ts";
import { DurableAcceptedTurns } from "./accepted-turn-ledger.ts";
import { type AcceptedTurnRow, openOutboxDatabase } from "./database.ts";
import { DurablePublishQueue, type OutboxQueueStats } from "./durable-queue.ts";
import { type RecoveryReport, recoverTurns } from "./recovery.ts";
import {
  DEFAULT_OUTBOX_SETTINGS,
  DEFAULT_RECOVERY_SETTINGS,
  type OutboxSettings,
  type RecoverySettings,
} from "./settings.ts";
import { OutboxStore } from "./store.ts";

const LAST_EVENT_ID = "last_event_id";
const RESPONSE_SEQ_HIGH_WATER = "response_seq_high_water";

export interface OutboxOptions {
  /** Folder of `outbox.sqlite` (the hub's data directory); null keeps everything in memory. */
  dir: string | null;
  logger: Logger;
  settings?: Partial<OutboxSettings>;
  recovery?: Partial<RecoverySettings>;
}

export interface OutboxStats extends OutboxQueueStats {
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
  readonly eventIds: EventIdStore;
  /** Where every published event's `data.response_seq` comes from; its high-water mark is kept here. */
  readonly responseSeq: ResponseSequence;
  readonly #store: OutboxStore;
  readonly #logger: Logger;
  readonly #recoverySettings: RecoverySettings;
  readonly #openFailure: string | null;
  readonly #unfinished: AcceptedTurnRow[];
  readonly #unfinishedAtStart: number;
  #sweepTimer: NodeJS.Timeout | null = null;
  #recovery: { controller: AbortController; done: Promise<RecoveryReport> } | null = null;
  #closed = false;
  /** The last event id saved (kept too while the database is unusable). */
  #lastEventId: string | null = null;

  constructor(options: OutboxOptions) {
    const logger = options.logger;
    const settings = withDefaults(DEFAULT_OUTBOX_SETTINGS, options.settings);
    this.#logger = logger;
    this.#recoverySettings = withDefaults(DEFAULT_RECOVERY_SETTINGS, options.recovery);
    let failure: string | null = null;
    let store: OutboxStore;
    if (options.dir === null) {
      store = new OutboxStore(null, null, logger);
    } else {
      const dir = options.dir;
      const reopen = { open: () => openOutboxDatabase(dir), intervalMs: settings.reopenIntervalMs };
      const opened = reopen.open();
      if (opened.ok) {
        store = new OutboxStore(opened.db, opened.db.file, logger, reopen);
      } else {
        failure = opened.error;
        store = new OutboxStore(null, opened.file, logger, reopen);
        logger.error(
          { file: opened.file },
          `cannot use the outbox database ${opened.file} (${opened.error}); unsent events are kept in memory only until it can be used: if the file is damaged move it aside, if the directory is read-only make it writable; the hub tries it again every ${Math.round(settings.reopenIntervalMs / 1000)} s and needs no restart (a restart before then loses what memory holds)`,
        );
      }
    }
    this.#store = store;
    this.#openFailure = failure;
    this.queue = new DurablePublishQueue({ store, settings, logger });
    this.acceptedTurns = new DurableAcceptedTurns({ store, settings });
    // One id, kept with its scope (relay URL and hub id): another relay never gets it.
    this.eventIds = {
      load: (scope: string) => {
        const kept = store.use("read the last event id", (db) => db.getMeta(LAST_EVENT_ID));
        return kept ? scopedEventId(kept, scope) : null;
      },
      save: (scope: string, eventId: string | null) => {
        const value = eventId === null ? "" : JSON.stringify({ scope, id: eventId });
        this.#lastEventId = value;
        store.use("save the last event id", (db) => db.setMeta(LAST_EVENT_ID, value));
      },
    };

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
      if (this.#lastEventId !== null) db.setMeta(LAST_EVENT_ID, this.#lastEventId);
      this.queue.caughtUp();
    });

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
    this.#sweepTimer = setInterval(() => {
      this.queue.sweepExpired();
      this.acceptedTurns.prune();
    }, settings.ttlSweepIntervalMs);
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
   * Answers, once, the turns an earlier run accepted and never finished (see recovery.ts), through
   * `sink` (the relay link, so the answers queue behind that turn's earlier events), each turn
   * through its `outlet` when given (the privacy guard).
   */
  recover(options: {
    roster: Pick<Roster, "get">;
    sink: EventSink;
    outlet?: OpenOutlet;
  }): Promise<RecoveryReport> {
    if (this.#recovery) return this.#recovery.done;
    const controller = new AbortController();
    const turns = this.#unfinished.splice(0);
    const done = recoverTurns(turns, {
      roster: options.roster,
      sink: options.sink,
      ...(options.outlet ? { outlet: options.outlet } : {}),
      logger: this.#logger,
      settings: this.#recoverySettings,
      signal: controller.signal,
    }).catch((error: unknown) => {
      this.#logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        "answering the turns an earlier run left unfinished failed; they are tried again on the next start",
      );
      return { resumed: 0, failed: 0 };
    });
    this.#recovery = { controller, done };
    return done;
  }

  /** Cuts recovery short (turns still being asked about are answered HubRestarted now). */
  async stopRecovery(): Promise<void> {
    const recovery = this.#recovery;
    if (!recovery) return;
    recovery.controller.abort();
    await recovery.done.catch(() => undefined);
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
    this.#recovery?.controller.abort();
    this.queue.close();
    this.#store.close();
  }
}

/** The id in a kept `{scope, id}` value when it belongs to `scope` (an unscoped old value: none). */
function scopedEventId(kept: string, scope: string): string | null {
  try {
    const value = JSON.parse(kept) as { scope?: unknown; id?: unknown } | null;
    return value?.scope === scope && typeof value.id === "string" ? value.id : null;
  } catch {
    return null;
  }
}

/** Opens the outbox in `dir` (or in memory for null); never throws. */
export function openOutbox(options: OutboxOptions): Outbox {
  return new Outbox(options);
}
