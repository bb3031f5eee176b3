// Accepted turns, durable: a `user_message` the relay delivers again (replay after a reconnect,
// or after this hub restarted) is recognised and not run twice; a turn accepted by an earlier
// run that never got its terminal group is found on the next start (recovery.ts); a
// `cancel_task` or `user_reply` naming a task of an earlier turn finds the agent's task id. Only
// ids are stored. Memory is the fast path and the fallback when the database is gone.
import { type AcceptedTurnRecord, AcceptedTurns, type TurnLedger } from "./accepted-turns.ts";
import type { AcceptedTurnRow, OutboxDatabase } from "./database.ts";
import type { OutboxSettings } from "./settings.ts";
import type { OutboxStore } from "./store.ts";

export class DurableAcceptedTurns implements TurnLedger {
  readonly #store: OutboxStore;
  readonly #settings: OutboxSettings;
  readonly #memory: AcceptedTurns;
  readonly #now: () => number;
  /** Turns accepted while the database was unusable: written to it once it works again. */
  #notWritten: Array<Omit<AcceptedTurnRow, "terminal">> = [];

  constructor(options: { store: OutboxStore; settings: OutboxSettings; now?: () => number }) {
    this.#store = options.store;
    this.#settings = options.settings;
    this.#memory = new AcceptedTurns(options.settings.acceptedTurnsMax);
    this.#now = options.now ?? Date.now;
  }

  accept(turn: AcceptedTurnRecord | string): boolean {
    const record: AcceptedTurnRecord =
      typeof turn === "string"
        ? { agentMessageId: turn, roomId: "", localAgentId: "", userMessageId: null }
        : turn;
    if (!this.#memory.accept(record)) return false;
    const row = {
      agentMessageId: record.agentMessageId,
      roomId: record.roomId,
      localAgentId: record.localAgentId,
      userMessageId: record.userMessageId,
      agentTaskId: record.agentTaskId ?? null,
      hubTaskId: record.hubTaskId ?? null,
      runId: record.runId ?? null,
      acceptedAt: this.#now(),
    };
    const inserted = this.#store.use("record an accepted turn", (db) => db.insertTurn(row));
    if (inserted === undefined && this.#notWritten.length < this.#settings.acceptedTurnsMax) {
      this.#notWritten.push(row);
    }
    // false: an earlier run accepted it (memory had forgotten it, or never knew it).
    return inserted !== false;
  }

  noteTaskId(agentMessageId: string, taskId: string): void {
    this.#memory.noteTaskId(agentMessageId, taskId);
    this.#store.use("record a task id", (db) => db.setTaskId(agentMessageId, taskId));
  }

  has(agentMessageId: string): boolean {
    if (this.#memory.has(agentMessageId)) return true;
    return this.#store.use("look up a turn", (db) => db.hasTurn(agentMessageId)) ?? false;
  }

  find(agentMessageId: string): AcceptedTurnRecord | null {
    return (
      this.#memory.find(agentMessageId) ??
      this.#store.use("look up a turn", (db) => db.turn(agentMessageId)) ??
      null
    );
  }

  findByTaskId(taskId: string): AcceptedTurnRecord | null {
    return (
      this.#memory.findByTaskId(taskId) ??
      this.#store.use("look up a task", (db) => db.turnByTaskId(taskId)) ??
      null
    );
  }

  /**
   * A database usable again: the turns accepted meanwhile are written to it (with the agent
   * task ids learned since), and `ended` ones marked finished.
   */
  writeTo(db: OutboxDatabase, ended: readonly string[]): void {
    const rows = this.#notWritten.map((row) => ({
      ...row,
      agentTaskId: this.#memory.find(row.agentMessageId)?.agentTaskId ?? row.agentTaskId,
    }));
    db.catchUpTurns(rows, ended);
    this.#notWritten = [];
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
