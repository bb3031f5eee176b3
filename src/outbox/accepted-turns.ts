/** What the hub records about a turn it accepted (ids only: never the message content). */
export interface AcceptedTurnRecord {
  agentMessageId: string;
  roomId: string;
  localAgentId: string;
  userMessageId: string | null;
  /** The agent's task id when known (a `user_reply` names the task it answers; learned later). */
  agentTaskId?: string | null;
  /** The hub's own task id for the turn (its events' `task_id` until the agent's is known). */
  hubTaskId?: string | null;
  /** The relay's `run_id`, echoed in the turn's events. */
  runId?: string | null;
  /** When the hub accepted it (epoch ms), where a ledger keeps it. */
  acceptedAt?: number;
}

/**
 * Where the hub remembers accepted turns: duplicate detection, the task ids a later
 * `cancel_task` or `user_reply` may name, and (when durable, see
 * src/outbox/accepted-turn-ledger.ts) what a restart needs to answer turns it never finished.
 */
export interface TurnLedger {
  /** True if the turn is new (and is now remembered); false for a duplicate. */
  accept(turn: AcceptedTurnRecord | string): boolean;
  /** The agent's task id for an accepted turn, once learned (lets a restart resume it). */
  noteTaskId(agentMessageId: string, taskId: string): void;
  has(agentMessageId: string): boolean;
  /** The accepted turn, while it is remembered. */
  find(agentMessageId: string): AcceptedTurnRecord | null;
  /** The latest remembered turn whose hub task id or agent task id is `taskId`. */
  findByTaskId(taskId: string): AcceptedTurnRecord | null;
}

/**
 * The turns this hub has accepted, so a redelivered `user_message` (relay replay after a
 * reconnect, or a relay retry) is not run twice. Bounded: the oldest fall out first. In memory
 * only; the durable outbox's ledger also holds across restarts.
 */
export class AcceptedTurns implements TurnLedger {
  readonly #turns = new Map<string, AcceptedTurnRecord>();
  /** Task id (hub's or agent's) → the latest turn that carried it. */
  readonly #byTask = new Map<string, string>();
  readonly #capacity: number;

  constructor(capacity = 50_000) {
    this.#capacity = capacity;
  }

  accept(turn: AcceptedTurnRecord | string): boolean {
    const record: AcceptedTurnRecord =
      typeof turn === "string"
        ? { agentMessageId: turn, roomId: "", localAgentId: "", userMessageId: null }
        : { ...turn };
    const agentMessageId = record.agentMessageId;
    if (this.#turns.has(agentMessageId)) return false;
    this.#turns.set(agentMessageId, record);
    if (record.hubTaskId) this.#byTask.set(record.hubTaskId, agentMessageId);
    if (record.agentTaskId) this.#byTask.set(record.agentTaskId, agentMessageId);
    if (this.#turns.size > this.#capacity) {
      const oldest = this.#turns.keys().next().value;
      if (oldest !== undefined) this.#forget(oldest);
    }
    return true;
  }

  noteTaskId(agentMessageId: string, taskId: string): void {
    const record = this.#turns.get(agentMessageId);
    if (!record) return;
    record.agentTaskId = taskId;
    this.#byTask.set(taskId, agentMessageId);
  }

  has(agentMessageId: string): boolean {
    return this.#turns.has(agentMessageId);
  }

  /** Turns remembered now (at most the capacity). */
  get size(): number {
    return this.#turns.size;
  }

  /** The remembered turns, oldest first. */
  records(): IterableIterator<AcceptedTurnRecord> {
    return this.#turns.values();
  }

  find(agentMessageId: string): AcceptedTurnRecord | null {
    return this.#turns.get(agentMessageId) ?? null;
  }

  findByTaskId(taskId: string): AcceptedTurnRecord | null {
    const agentMessageId = this.#byTask.get(taskId);
    return agentMessageId === undefined ? null : (this.#turns.get(agentMessageId) ?? null);
  }

  #forget(agentMessageId: string): void {
    const record = this.#turns.get(agentMessageId);
    this.#turns.delete(agentMessageId);
    for (const taskId of [record?.hubTaskId, record?.agentTaskId]) {
      if (taskId && this.#byTask.get(taskId) === agentMessageId) this.#byTask.delete(taskId);
    }
  }
}
