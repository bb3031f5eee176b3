// The outbox database as its users see it: there while it works; on the first failure (disk
// full, file removed, permissions changed, corruption found late) it is reported once and the
// hub goes on from memory, so a broken disk never stops a conversation. While it is gone the
// file is tried again now and then (once started); once it opens, what memory holds is written to
// it (see Outbox) and the hub is durable again without a restart. Constructing opens nothing.
import type { Logger } from "../log/logger.ts";
import type { OpenDatabaseResult, OutboxDatabase } from "./database.ts";

interface OutboxReopen {
  /** Opens the database file again (never throws). */
  open: () => OpenDatabaseResult;
  /** How long between tries while the database is gone. */
  intervalMs: number;
}

export class OutboxStore {
  readonly file: string | null;
  readonly #logger: Logger;
  readonly #reopen: OutboxReopen | null;
  #db: OutboxDatabase | null;
  #failure: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** Retrying a database that is gone is allowed (after `start`). */
  #started = false;
  #closed = false;
  /** Called with a reopened database before it is used: write what memory holds to it. */
  #onReopen: (db: OutboxDatabase) => void = () => {};

  constructor(
    db: OutboxDatabase | null,
    file: string | null,
    logger: Logger,
    reopen: OutboxReopen | null = null,
  ) {
    this.#db = db;
    this.file = file;
    this.#logger = logger;
    this.#reopen = file === null ? null : reopen;
  }

  /**
   * Opens the file the first time (nothing in memory to catch up on yet); returns why it cannot
   * be used, or null when it is in use (or there is no file). Call before `start`.
   */
  open(): string | null {
    if (this.#db || this.#closed || !this.#reopen) return null;
    const opened = this.#reopen.open();
    if (!opened.ok) return opened.error;
    this.#db = opened.db;
    return null;
  }

  /** From now on a database that is gone (or never opened) is tried again every `intervalMs`. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    if (!this.#db) this.#scheduleReopen();
  }

  /** Writes reach the disk (false: never opened, failed since, or closed). */
  get durable(): boolean {
    return this.#db !== null;
  }

  /** Why the database stopped being used, if it failed while running. */
  get failure(): string | null {
    return this.#failure;
  }

  /** Sets what runs on a reopened database before it is used (the outbox's catch-up). */
  onReopen(catchUp: (db: OutboxDatabase) => void): void {
    this.#onReopen = catchUp;
  }

  /** Runs one database step; undefined when there is no database (or the step just failed). */
  use<T>(what: string, step: (db: OutboxDatabase) => T): T | undefined {
    const db = this.#db;
    if (!db) return undefined;
    try {
      return step(db);
    } catch (error) {
      this.#failure = error instanceof Error ? error.message : String(error);
      this.#db = null;
      this.#logger.error(
        { file: this.file, step: what },
        `outbox database ${this.file} failed (${this.#failure}); unsent events and accepted turns are kept in memory only until it works again (tried every ${Math.round((this.#reopen?.intervalMs ?? 0) / 1000)} s; a restart before that loses them): check free disk space and the file's permissions`,
      );
      try {
        db.close();
      } catch {
        // already broken
      }
      this.#scheduleReopen();
      return undefined;
    }
  }

  /** Tries the file once now (also what the timer does); true when it is in use again. */
  tryReopen(): boolean {
    if (this.#db || this.#closed || !this.#reopen) return this.#db !== null;
    const opened = this.#reopen.open();
    if (!opened.ok) {
      this.#logger.debug({ file: this.file, err: opened.error }, "outbox database still unusable");
      return false;
    }
    try {
      this.#onReopen(opened.db);
    } catch (error) {
      this.#logger.debug(
        { file: this.file, err: error instanceof Error ? error.message : String(error) },
        "outbox database opened but could not take the events kept in memory",
      );
      try {
        opened.db.close();
      } catch {
        // already broken
      }
      return false;
    }
    this.#db = opened.db;
    this.#failure = null;
    this.#logger.info(
      { file: this.file },
      `outbox database ${this.file} works again: what was kept in memory is written to it, unsent events survive a restart again`,
    );
    return true;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const db = this.#db;
    this.#db = null;
    if (!db) return;
    try {
      db.close();
    } catch (error) {
      this.#logger.warn(
        { file: this.file, err: error instanceof Error ? error.message : String(error) },
        "outbox database did not close cleanly; it is checked again on the next start",
      );
    }
  }

  #scheduleReopen(): void {
    if (!this.#reopen || !this.#started || this.#timer || this.#closed) return;
    this.#timer = setInterval(() => {
      if (this.tryReopen() && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    }, this.#reopen.intervalMs);
    this.#timer.unref();
  }
}
