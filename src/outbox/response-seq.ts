// The number every published event carries as `data.response_seq` (relay-wire.md sections 4, 6).
//
// The relay drops a retried event by `hub-response:{hub_id}:{task_id}:{response_seq}`. A turn
// that continues an agent task (a `user_reply`, a follow-up message) publishes under the SAME
// agent task id as the turn before it, so numbering 0, 1, 2, … per turn would repeat keys and the
// relay would silently drop the second turn's events as duplicates. One hub-wide sequence that
// only grows cannot repeat: not across turns, not across restarts (the high-water mark is kept
// in the outbox), and not when the outbox is unusable or was deleted (every run starts above
// the wall clock in microseconds, which a hub cannot overtake by publishing).
//
// Pure apart from the store it is given; the number is handed out when an event is queued and
// stays with the event (in the outbox too), so a retry, even after a restart, sends the same.
import type { PublishedEvent } from "../wire/relay.ts";

/** Where the high-water mark lives between runs (the outbox's key/value table). */
export interface ResponseSeqStore {
  /** The mark saved last, or null (none, or the store is not usable). */
  load(): number | null;
  /** Saves a mark; numbers below it may be handed out without asking the store again. */
  save(highWater: number): void;
}

/** Numbers reserved at once, so the store is written once per this many events. */
export const RESERVE_BLOCK = 10_000;

export class ResponseSequence {
  readonly #store: ResponseSeqStore | null;
  readonly #now: () => number;
  #started = false;
  #next = 0;
  #reserved = 0;

  /** Reads nothing yet: the store is read when the first number is asked for (after it opened). */
  constructor(options: { store?: ResponseSeqStore | null; now?: () => number } = {}) {
    this.#store = options.store ?? null;
    this.#now = options.now ?? Date.now;
  }

  /** The high-water mark in use: every number handed out so far is below it. */
  get reservedUpTo(): number {
    this.#start();
    return this.#reserved;
  }

  /** The next number (each is handed out once). */
  next(): number {
    this.#start();
    if (this.#next >= this.#reserved) {
      this.#reserved = this.#next + RESERVE_BLOCK;
      try {
        this.#store?.save(this.#reserved);
      } catch {
        // the clock floor still keeps the next run above what this one hands out
      }
    }
    const value = this.#next;
    this.#next += 1;
    return value;
  }

  /** Starts above the kept mark and above the wall clock in microseconds (once). */
  #start(): void {
    if (this.#started) return;
    this.#started = true;
    let stored: number | null = null;
    try {
      stored = this.#store?.load() ?? null;
    } catch {
      stored = null;
    }
    const clockFloor = Math.floor(this.#now()) * 1000;
    const start = Math.max(clockFloor, Number.isSafeInteger(stored) ? (stored as number) : 0);
    this.#next = start;
    this.#reserved = start;
  }
}

/**
 * The event with its `data.response_seq` (given now unless it has one) and `data.task_id` (an
 * event made without one gets its `agent_message_id`, which never changes between retries).
 * The caller's object is not changed.
 */
export function stampEvent(event: PublishedEvent, sequence: ResponseSequence): PublishedEvent {
  const data = (event.data ?? {}) as unknown as Record<string, unknown>;
  const hasSeq = typeof data.response_seq === "number" && Number.isSafeInteger(data.response_seq);
  const hasTaskId = typeof data.task_id === "string" && data.task_id !== "";
  if (hasSeq && hasTaskId) return event;
  const stamped: Record<string, unknown> = { ...data };
  if (!hasTaskId) stamped.task_id = String(event.agent_message_id);
  if (!hasSeq) stamped.response_seq = sequence.next();
  return { ...event, data: stamped } as unknown as PublishedEvent;
}
