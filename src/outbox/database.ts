// The outbox's sqlite file (`outbox.sqlite` in the hub's data directory). Only this file speaks
// SQL. Three tables: unsent events (deleted the moment the relay acknowledges them), accepted
// turns (ids only, never message content) and a small key/value table (the command stream's
// last event id, the response_seq high-water mark). WAL with synchronous=NORMAL: a commit survives a killed process; only a power
// loss may cost the last few commits. secure_delete overwrites a deleted event's bytes, so
// message content does not linger in free pages after it was delivered.
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { prepareSqliteFile } from "../system/private-files.ts";

export const OUTBOX_DB_FILE = "outbox.sqlite";
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id TEXT NOT NULL,
  agent_message_id TEXT NOT NULL,
  event_json TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accepted_turns (
  agent_message_id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  local_agent_id TEXT NOT NULL,
  user_message_id TEXT,
  agent_task_id TEXT,
  terminal INTEGER NOT NULL DEFAULT 0,
  accepted_at INTEGER NOT NULL,
  hub_task_id TEXT,
  run_id TEXT
);
CREATE INDEX IF NOT EXISTS accepted_turns_age ON accepted_turns(accepted_at);
CREATE TABLE IF NOT EXISTS outbox_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/** For cancel_task / user_reply naming a task: after the v2 columns exist. */
const TASK_INDEXES = `
CREATE INDEX IF NOT EXISTS accepted_turns_hub_task ON accepted_turns(hub_task_id);
CREATE INDEX IF NOT EXISTS accepted_turns_agent_task ON accepted_turns(agent_task_id);
`;

export interface StoredEventRow {
  seq: number;
  roomId: string;
  agentMessageId: string;
  json: string;
  bytes: number;
  createdAt: number;
}

export interface NewEventRow {
  roomId: string;
  agentMessageId: string;
  json: string;
  bytes: number;
  createdAt: number;
}

export interface AcceptedTurnRow {
  agentMessageId: string;
  roomId: string;
  localAgentId: string;
  userMessageId: string | null;
  agentTaskId: string | null;
  /** The hub's own task id for the turn (`task_submitted`), the events' task id until the agent's is known. */
  hubTaskId: string | null;
  /** The relay's `run_id`, echoed in the turn's events. */
  runId: string | null;
  /** The turn's terminal group is in the outbox (or was delivered). */
  terminal: boolean;
  acceptedAt: number;
}

export type OpenDatabaseResult =
  | { ok: true; db: OutboxDatabase }
  | { ok: false; file: string; error: string };

type Row = Record<string, unknown>;

/** Opens (creating if needed) the outbox database in `dir`; never throws. */
export function openOutboxDatabase(dir: string): OpenDatabaseResult {
  const file = join(dir, OUTBOX_DB_FILE);
  let db: DatabaseSync | null = null;
  try {
    // Message content lives here until delivered: only this user may read it (-wal and -shm
    // included, which sqlite creates with the database's mode).
    prepareSqliteFile(file);
    db = new DatabaseSync(file, { timeout: 2_000 });
    const mode = db.prepare("PRAGMA journal_mode = WAL").get() as Row | undefined;
    if (String(mode?.journal_mode).toLowerCase() !== "wal") {
      throw new Error(`cannot switch the journal to WAL (got ${String(mode?.journal_mode)})`);
    }
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA secure_delete = ON");
    const check = db.prepare("PRAGMA quick_check").all() as Row[];
    const verdict = check.map((row) => String(Object.values(row)[0])).join("; ");
    if (verdict !== "ok") throw new Error(`integrity check failed: ${verdict.slice(0, 200)}`);
    const version = Number(
      (db.prepare("PRAGMA user_version").get() as Row | undefined)?.user_version ?? 0,
    );
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `written by a newer hybro-hub (schema ${version}, this one knows ${SCHEMA_VERSION})`,
      );
    }
    db.exec(SCHEMA);
    if (version === 1) {
      // v2: the accepted turns also keep the hub's task id and the relay's run id.
      db.exec("ALTER TABLE accepted_turns ADD COLUMN hub_task_id TEXT");
      db.exec("ALTER TABLE accepted_turns ADD COLUMN run_id TEXT");
    }
    db.exec(TASK_INDEXES);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    return { ok: true, db: new OutboxDatabase(file, db) };
  } catch (error) {
    try {
      db?.close();
    } catch {
      // already unusable
    }
    return { ok: false, file, error: error instanceof Error ? error.message : String(error) };
  }
}

const TURN_COLUMNS =
  "agent_message_id, room_id, local_agent_id, user_message_id, agent_task_id, hub_task_id, run_id, terminal, accepted_at";

const textOrNull = (value: unknown): string | null => (value == null ? null : String(value));

function turnFromRow(row: Row): AcceptedTurnRow {
  return {
    agentMessageId: String(row.agent_message_id),
    roomId: String(row.room_id),
    localAgentId: String(row.local_agent_id),
    userMessageId: textOrNull(row.user_message_id),
    agentTaskId: textOrNull(row.agent_task_id),
    hubTaskId: textOrNull(row.hub_task_id),
    runId: textOrNull(row.run_id),
    terminal: Number(row.terminal) === 1,
    acceptedAt: Number(row.accepted_at),
  };
}

export class OutboxDatabase {
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #insertEvent: StatementSync;
  readonly #deleteEvent: StatementSync;
  readonly #updateEvent: StatementSync;
  readonly #markTerminal: StatementSync;
  readonly #findTurn: StatementSync;
  readonly #findTurnByTask: StatementSync;
  readonly #insertTurn: StatementSync;
  readonly #setTaskId: StatementSync;
  readonly #getMeta: StatementSync;
  readonly #setMeta: StatementSync;
  #closed = false;

  constructor(file: string, db: DatabaseSync) {
    this.file = file;
    this.#db = db;
    this.#insertEvent = db.prepare(
      "INSERT INTO outbox_events (room_id, agent_message_id, event_json, bytes, created_at) VALUES (?, ?, ?, ?, ?)",
    );
    this.#deleteEvent = db.prepare("DELETE FROM outbox_events WHERE seq = ?");
    this.#updateEvent = db.prepare(
      "UPDATE outbox_events SET event_json = ?, bytes = ? WHERE seq = ?",
    );
    this.#markTerminal = db.prepare(
      "UPDATE accepted_turns SET terminal = 1 WHERE agent_message_id = ?",
    );
    this.#findTurn = db.prepare(
      `SELECT ${TURN_COLUMNS} FROM accepted_turns WHERE agent_message_id = ?`,
    );
    this.#findTurnByTask = db.prepare(
      `SELECT ${TURN_COLUMNS} FROM accepted_turns WHERE hub_task_id = ? OR agent_task_id = ?
         ORDER BY accepted_at DESC, rowid DESC LIMIT 1`,
    );
    this.#insertTurn = db.prepare(
      `INSERT OR IGNORE INTO accepted_turns
         (agent_message_id, room_id, local_agent_id, user_message_id, agent_task_id, hub_task_id, run_id, terminal, accepted_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)`,
    );
    this.#setTaskId = db.prepare(
      "UPDATE accepted_turns SET agent_task_id = ? WHERE agent_message_id = ?",
    );
    this.#getMeta = db.prepare("SELECT value FROM outbox_meta WHERE key = ?");
    this.#setMeta = db.prepare(
      "INSERT INTO outbox_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    );
  }

  /** Visits every unsent event, oldest first, one row at a time (a backlog is never one array). */
  eachEvent(visit: (row: StoredEventRow) => void): void {
    const rows = this.#db
      .prepare(
        "SELECT seq, room_id, agent_message_id, event_json, bytes, created_at FROM outbox_events ORDER BY seq",
      )
      .iterate() as Iterable<Row>;
    for (const row of rows) {
      visit({
        seq: Number(row.seq),
        roomId: String(row.room_id),
        agentMessageId: String(row.agent_message_id),
        json: String(row.event_json),
        bytes: Number(row.bytes),
        createdAt: Number(row.created_at),
      });
    }
  }

  /**
   * Writes events and, in the same transaction, marks the turns whose terminal group they carry:
   * a crash can never leave a terminal group queued but its turn looking unfinished (which would
   * earn it a second terminal group on the next start). Returns the events' sequence numbers.
   */
  insertEvents(rows: readonly NewEventRow[], terminalTurns: readonly string[]): number[] {
    return this.#transaction(() => {
      const seqs: number[] = [];
      for (const row of rows) {
        const result = this.#insertEvent.run(
          row.roomId,
          row.agentMessageId,
          row.json,
          row.bytes,
          row.createdAt,
        );
        seqs.push(Number(result.lastInsertRowid));
      }
      for (const turn of terminalTurns) this.#markTerminal.run(turn);
      return seqs;
    });
  }

  /**
   * Replaces every stored event with `rows` (the queue as memory holds it, after the database
   * was unusable for a while); returns their sequence numbers.
   */
  replaceEvents(rows: readonly NewEventRow[]): number[] {
    return this.#transaction(() => {
      this.#db.exec("DELETE FROM outbox_events");
      return rows.map((row) =>
        Number(
          this.#insertEvent.run(row.roomId, row.agentMessageId, row.json, row.bytes, row.createdAt)
            .lastInsertRowid,
        ),
      );
    });
  }

  /**
   * Turns accepted while the database was unusable, and the turns whose terminal group was
   * queued meanwhile (marked finished, so a restart never answers them twice).
   */
  catchUpTurns(
    accepted: ReadonlyArray<Omit<AcceptedTurnRow, "terminal">>,
    ended: Iterable<string>,
  ): void {
    this.#transaction(() => {
      for (const turn of accepted) this.#writeTurn(turn);
      for (const turn of ended) this.#markTerminal.run(turn);
    });
  }

  /** Rewrites stored events in place (an event of an older version given its missing stamp). */
  updateEvents(rows: ReadonlyArray<{ seq: number; json: string; bytes: number }>): void {
    if (rows.length === 0) return;
    this.#transaction(() => {
      for (const row of rows) this.#updateEvent.run(row.json, row.bytes, row.seq);
    });
  }

  deleteEvents(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.#transaction(() => {
      for (const seq of seqs) this.#deleteEvent.run(seq);
    });
  }

  hasTurn(agentMessageId: string): boolean {
    return this.#findTurn.get(agentMessageId) !== undefined;
  }

  turn(agentMessageId: string): AcceptedTurnRow | null {
    const row = this.#findTurn.get(agentMessageId) as Row | undefined;
    return row ? turnFromRow(row) : null;
  }

  /** The latest turn whose hub task id or agent task id is `taskId`. */
  turnByTaskId(taskId: string): AcceptedTurnRow | null {
    const row = this.#findTurnByTask.get(taskId, taskId) as Row | undefined;
    return row ? turnFromRow(row) : null;
  }

  /** Records an accepted turn; false when it was already recorded. */
  insertTurn(turn: Omit<AcceptedTurnRow, "terminal">): boolean {
    return this.#writeTurn(turn);
  }

  #writeTurn(turn: Omit<AcceptedTurnRow, "terminal">): boolean {
    const result = this.#insertTurn.run(
      turn.agentMessageId,
      turn.roomId,
      turn.localAgentId,
      turn.userMessageId,
      turn.agentTaskId,
      turn.hubTaskId,
      turn.runId,
      turn.acceptedAt,
    );
    return Number(result.changes) > 0;
  }

  setTaskId(agentMessageId: string, taskId: string): void {
    this.#setTaskId.run(taskId, agentMessageId);
  }

  /** Accepted turns whose terminal group never reached the outbox, oldest first. */
  unfinishedTurns(): AcceptedTurnRow[] {
    const rows = this.#db
      .prepare(
        `SELECT ${TURN_COLUMNS} FROM accepted_turns WHERE terminal = 0 ORDER BY accepted_at, rowid`,
      )
      .all() as Row[];
    return rows.map(turnFromRow);
  }

  /** Forgets finished turns accepted before `olderThan`, then the oldest finished beyond `keepMax`. */
  pruneTurns(olderThan: number, keepMax: number): number {
    return this.#transaction(() => {
      let removed = Number(
        this.#db
          .prepare("DELETE FROM accepted_turns WHERE terminal = 1 AND accepted_at < ?")
          .run(olderThan).changes,
      );
      const count = Number(
        (this.#db.prepare("SELECT COUNT(*) AS n FROM accepted_turns").get() as Row).n,
      );
      if (count > keepMax) {
        removed += Number(
          this.#db
            .prepare(
              `DELETE FROM accepted_turns WHERE rowid IN (
                 SELECT rowid FROM accepted_turns WHERE terminal = 1 ORDER BY accepted_at LIMIT ?)`,
            )
            .run(count - keepMax).changes,
        );
      }
      return removed;
    });
  }

  getMeta(key: string): string | null {
    const row = this.#getMeta.get(key) as Row | undefined;
    return row ? String(row.value) : null;
  }

  setMeta(key: string, value: string): void {
    this.#setMeta.run(key, value);
  }

  /** Moves the WAL into the database and truncates it (old event pages leave the WAL). */
  checkpoint(): void {
    this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.checkpoint();
    } finally {
      this.#db.close();
    }
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const value = work();
      this.#db.exec("COMMIT");
      return value;
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // the transaction is already gone
      }
      throw error;
    }
  }
}
