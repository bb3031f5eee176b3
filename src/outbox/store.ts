// The outbox database as its users see it: there while it works; on the first failure (disk
// full, file removed, permissions changed, corruption found late) it is reported once and the
// hub goes on from memory, so a broken disk never stops a conversation.
import type { Logger } from "../log/logger.ts";
import type { OutboxDatabase } from "./database.ts";

export class OutboxStore {
  readonly file: string | null;
  readonly #logger: Logger;
  #db: OutboxDatabase | null;
  #failure: string | null = null;

  constructor(db: OutboxDatabase | null, file: string | null, logger: Logger) {
    this.#db = db;
    this.file = file;
    this.#logger = logger;
  }

  /** Writes reach the disk (false: never opened, failed since, or closed). */
  get durable(): boolean {
    return this.#db !== null;
  }

  /** Why the database stopped being used, if it failed while running. */
  get failure(): string | null {
    return this.#failure;
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
        `outbox database ${this.file} failed (${this.#failure}); unsent events and accepted turns are kept in memory only from now on and will not survive a restart: check free disk space and the file's permissions, then restart the hub`,
      );
      try {
        db.close();
      } catch {
        // already broken
      }
      return undefined;
    }
  }

  close(): void {
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
}
