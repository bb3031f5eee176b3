// Accepted turns, durable: a `user_message` the relay delivers again (replay after a reconnect,
// or after this hub restarted) is recognised and not run twice; a turn accepted by an earlier
// run that never got its terminal group is found on the next start (recovery.ts); a
// `cancel_task` or `user_reply` naming a task of an earlier turn finds the agent's task id. Only
// ids are stored. Memory is the fast path and the fallback when the database is gone.
import { type AcceptedTurnRecord, AcceptedTurns, type TurnLedger } from "../hub/accepted-turns.ts";
import type { AcceptedTurnRow } from "./database.ts";
import type { OutboxSettings } from "./settings.ts";
import type { OutboxStore } from "./store.ts";

export class DurableAcceptedTurns implements TurnLedger {
  readonly #store: OutboxStore;
  readonly #settings: OutboxSettings;
  readonly #memory: AcceptedTurns;
  readonly #now: () => number;

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
    const inserted = this.#store.use("record an accepted turn", (db) =>
      db.insertTurn({
        agentMessageId: record.agentMessageId,
        roomId: record.roomId,
        localAgentId: record.localAgentId,
        userMessageId: record.userMessageId,
        agentTaskId: record.agentTaskId ?? null,
        hubTaskId: record.hubTaskId ?? null,
        runId: record.runId ?? null,
        acceptedAt: this.#now(),
      }),
    );
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
