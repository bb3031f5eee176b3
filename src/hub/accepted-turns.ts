/**
 * The `agent_message_id`s this hub has accepted, so a redelivered `user_message` (relay replay
 * after a reconnect, or a relay retry) is not run twice. Bounded: the oldest ids fall out first.
 * Issue 6 backs this with the durable outbox so it also holds across restarts.
 */
export class AcceptedTurns {
  readonly #ids = new Set<string>();
  readonly #capacity: number;

  constructor(capacity = 50_000) {
    this.#capacity = capacity;
  }

  /** True if the id is new (and is now remembered); false for a duplicate. */
  accept(agentMessageId: string): boolean {
    if (this.#ids.has(agentMessageId)) return false;
    this.#ids.add(agentMessageId);
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    return true;
  }

  has(agentMessageId: string): boolean {
    return this.#ids.has(agentMessageId);
  }
}
