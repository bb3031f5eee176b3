/** What the hub records about a turn it accepted (ids only: never the message content). */
export interface AcceptedTurnRecord {
  agentMessageId: string;
  roomId: string;
  localAgentId: string;
  userMessageId: string | null;
  /** The agent's task id when known up front (a `user_reply` names the task it answers). */
  agentTaskId?: string | null;
}

/**
 * Where the hub remembers accepted turns: duplicate detection, and (when durable, see
 * src/outbox/accepted-turn-ledger.ts) what a restart needs to answer turns it never finished.
 */
export interface TurnLedger {
  /** True if the turn is new (and is now remembered); false for a duplicate. */
  accept(turn: AcceptedTurnRecord | string): boolean;
  /** The agent's task id for an accepted turn, once learned (lets a restart resume it). */
  noteTaskId(agentMessageId: string, taskId: string): void;
  has(agentMessageId: string): boolean;
}

/**
 * The `agent_message_id`s this hub has accepted, so a redelivered `user_message` (relay replay
 * after a reconnect, or a relay retry) is not run twice. Bounded: the oldest ids fall out first.
 * In memory only; the durable outbox's ledger also holds across restarts.
 */
export class AcceptedTurns implements TurnLedger {
  readonly #ids = new Set<string>();
  readonly #capacity: number;

  constructor(capacity = 50_000) {
    this.#capacity = capacity;
  }

  accept(turn: AcceptedTurnRecord | string): boolean {
    const agentMessageId = typeof turn === "string" ? turn : turn.agentMessageId;
    if (this.#ids.has(agentMessageId)) return false;
    this.#ids.add(agentMessageId);
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    return true;
  }

  noteTaskId(_agentMessageId: string, _taskId: string): void {
    // Nothing survives a restart here, so there is nothing to resume later.
  }

  has(agentMessageId: string): boolean {
    return this.#ids.has(agentMessageId);
  }
}
