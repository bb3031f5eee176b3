// Accepted turns, durable: a `user_message` the relay delivers again (replay after a reconnect,
// or after this hub restarted) is recognised and not run twice; a turn accepted by an earlier
// run that never got its terminal group is found on the next start (recovery.ts); a
// `cancel_task` or `user_reply` naming a task of an earlier turn finds the agent's task id. Only
// ids are stored. The database holds them; memory holds the latest few (the fast path) and, while
// the database is gone, every turn accepted meanwhile.
import { type AcceptedTurnRecord, AcceptedTurns, type TurnLedger } from "./accepted-turns.ts";
import type { AcceptedTurnRow, OutboxDatabase } from "./database.ts";
import type { OutboxSettings } from "./settings.ts";
import type { OutboxStore } from "./store.ts";

export class DurableAcceptedTurns implements TurnLedger {
  readonly #store: OutboxStore;
  readonly #settings: OutboxSettings;
  readonly #now: () => number;
  /**
   * The latest accepted turns (`acceptedTurnsCachedMax`): what running turns look up without a
   * query. The database holds every turn; memory holds a few, so a flood of turns does not
   * leave one record per turn on the heap.
   */
  readonly #recent: AcceptedTurns;
  /**
   * Turns accepted while the database was unusable: their only record until it works again
   * (then written to it), so they are looked up here too. At most `acceptedTurnsMax`, the
   * oldest forgotten first.
   */
  #notWritten: AcceptedTurns;

  constructor(options: { store: OutboxStore; settings: OutboxSettings; now?: () => number }) {
    this.#store = options.store;
    this.#settings = options.settings;
    this.#recent = new AcceptedTurns(options.settings.acceptedTurnsCachedMax);
    this.#notWritten = new AcceptedTurns(options.settings.acceptedTurnsMax);
    this.#now = options.now ?? Date.now;
  }

  /** Turn records held in memory now (the latest ones, and those the database lacks). */
  get heldInMemory(): number {
    return this.#recent.size + this.#notWritten.size;
  }

  accept(turn: AcceptedTurnRecord | string): boolean {
    const record: AcceptedTurnRecord =
      typeof turn === "string"
        ? { agentMessageId: turn, roomId: "", localAgentId: "", userMessageId: null }
        : turn;
    const agentMessageId = record.agentMessageId;
    if (this.#recent.has(agentMessageId) || this.#notWritten.has(agentMessageId)) return false;
    const row = rowOf(record, this.#now());
    const inserted = this.#store.use("record an accepted turn", (db) => db.insertTurn(row));
    // false: an earlier run accepted it (memory had forgotten it, or never knew it).
    if (inserted === false) return false;
    this.#recent.accept(row);
    if (inserted === undefined) this.#notWritten.accept(row);
    return true;
  }

  noteTaskId(agentMessageId: string, taskId: string): void {
    this.#recent.noteTaskId(agentMessageId, taskId);
    this.#notWritten.noteTaskId(agentMessageId, taskId);
    this.#store.use("record a task id", (db) => db.setTaskId(agentMessageId, taskId));
  }

  has(agentMessageId: string): boolean {
    if (this.#recent.has(agentMessageId) || this.#notWritten.has(agentMessageId)) return true;
    return this.#store.use("look up a turn", (db) => db.hasTurn(agentMessageId)) ?? false;
  }

  find(agentMessageId: string): AcceptedTurnRecord | null {
    return (
      this.#recent.find(agentMessageId) ??
      this.#notWritten.find(agentMessageId) ??
      this.#store.use("look up a turn", (db) => db.turn(agentMessageId)) ??
      null
    );
  }

  findByTaskId(taskId: string): AcceptedTurnRecord | null {
    // The latest turn first: memory holds the newest ones.
    return (
      this.#recent.findByTaskId(taskId) ??
      this.#notWritten.findByTaskId(taskId) ??
      this.#store.use("look up a task", (db) => db.turnByTaskId(taskId)) ??
      null
    );
  }

  /**
   * A database usable again: the turns accepted meanwhile are written to it (with the agent
   * task ids learned since), and `ended` ones marked finished.
   */
  writeTo(db: OutboxDatabase, ended: readonly string[]): void {
    const rows = [...this.#notWritten.records()].map((record) =>
      rowOf(record, record.acceptedAt ?? this.#now()),
    );
    db.catchUpTurns(rows, ended);
    this.#notWritten = new AcceptedTurns(this.#settings.acceptedTurnsMax);
  }

  /** Turns an earlier run accepted and never gave a terminal group (call before accepting). */
  unfinished(): AcceptedTurnRow[] {
    return this.#store.use("read unfinished turns", (db) => db.unfinishedTurns()) ?? [];
  }

  /** Forgets finished turns past the retention period or beyond the count limit. */
  prune(): number {
    const { acceptedTurnRetentionMs, acceptedTurnsMax } = this.#settings;
    return (
      this.#store.use("prune accepted turns", (db) =>
        db.pruneTurns(this.#now() - acceptedTurnRetentionMs, acceptedTurnsMax),
      ) ?? 0
    );
  }
}

/** The database row of an accepted turn (ids only). */
function rowOf(record: AcceptedTurnRecord, acceptedAt: number): Omit<AcceptedTurnRow, "terminal"> {
  return {
    agentMessageId: record.agentMessageId,
    roomId: record.roomId,
    localAgentId: record.localAgentId,
    userMessageId: record.userMessageId,
    agentTaskId: record.agentTaskId ?? null,
    hubTaskId: record.hubTaskId ?? null,
    runId: record.runId ?? null,
    acceptedAt,
  };
}
