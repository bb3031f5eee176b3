// What the relay stored for each turn (keyed by `agent_message_id`): the events in arrival order
// (retries were already recognised by their idempotency key, see ingest.ts), who waits for them,
// and how the turn ended. Bounded: the oldest idle turns are forgotten first.
import type { ProcessingStatusEvent, PublishedEvent } from "../wire/relay.ts";

type TurnListener = (event: PublishedEvent) => void;

export interface TurnRecord {
  agentMessageId: string;
  roomId: string | null;
  hubId: string | null;
  events: PublishedEvent[];
  /** The first `processing_status` applied, if any. */
  terminal: ProcessingStatusEvent | null;
  /** The hub's own task id for the turn (`task_submitted`'s). */
  hubTaskId: string | null;
  /** The agent's own task id: the `task_id` later events carry when it is not the hub's. */
  agentTaskId: string | null;
  agentContextId: string | null;
  listeners: Set<TurnListener>;
}

type WaitOutcome = "terminal" | "timeout" | "aborted";

export class TurnLog {
  private readonly maxTurns: number;
  private readonly turns = new Map<string, TurnRecord>();
  appliedEvents = 0;
  duplicatesDropped = 0;

  constructor(maxTurns: number) {
    this.maxTurns = Math.max(1, maxTurns);
  }

  get(agentMessageId: string): TurnRecord | undefined {
    return this.turns.get(agentMessageId);
  }

  /** The turn's record, made if new (a gateway opens it before the hub sees the command). */
  open(agentMessageId: string, roomId: string | null, hubId: string | null): TurnRecord {
    let turn = this.turns.get(agentMessageId);
    if (!turn) {
      turn = {
        agentMessageId,
        roomId,
        hubId,
        events: [],
        terminal: null,
        hubTaskId: null,
        agentTaskId: null,
        agentContextId: null,
        listeners: new Set(),
      };
      this.turns.set(agentMessageId, turn);
      this.evict();
    }
    return turn;
  }

  /** Stores one published event of the turn. */
  apply(hubId: string, roomId: string, event: PublishedEvent): void {
    const turn = this.open(event.agent_message_id, roomId, hubId);
    turn.roomId ??= roomId;
    turn.hubId ??= hubId;
    turn.events.push(event);
    this.appliedEvents++;
    learnFrom(turn, event);
    for (const listener of turn.listeners) listener(event);
  }

  events(agentMessageId: string): PublishedEvent[] {
    return [...(this.turns.get(agentMessageId)?.events ?? [])];
  }

  /** Calls `listener` for each event applied from now on; returns the unsubscribe function. */
  subscribe(turn: TurnRecord, listener: TurnListener): () => void {
    turn.listeners.add(listener);
    return () => turn.listeners.delete(listener);
  }

  /** Resolves when the turn has its `processing_status`, the time is up, or `signal` aborts. */
  waitForTerminal(turn: TurnRecord, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (turn.terminal) return Promise.resolve("terminal");
    if (signal?.aborted) return Promise.resolve("aborted");
    return new Promise((resolve) => {
      const finish = (outcome: WaitOutcome) => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
      const onAbort = () => finish("aborted");
      const timer = setTimeout(() => finish("timeout"), timeoutMs);
      timer.unref();
      const unsubscribe = this.subscribe(turn, (event) => {
        if (event.type === "processing_status") finish("terminal");
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private evict(): void {
    if (this.turns.size <= this.maxTurns) return;
    for (const [id, turn] of this.turns) {
      if (this.turns.size <= this.maxTurns) break;
      if (turn.listeners.size === 0) this.turns.delete(id);
    }
  }
}

function learnFrom(turn: TurnRecord, event: PublishedEvent): void {
  const data = event.data as { task_id?: unknown; context_id?: unknown };
  if (event.type === "task_submitted") {
    if (typeof data.task_id === "string") turn.hubTaskId ??= data.task_id;
    return;
  }
  // Every event after `task_submitted` carries the agent's task id once the hub knows it; a
  // status or a question names the agent's task even when `task_submitted` did too.
  const named = typeof data.task_id === "string" && data.task_id ? data.task_id : null;
  const aboutTask = event.type === "task_status" || event.type === "task_interactive";
  if (named && (aboutTask || named !== turn.hubTaskId)) turn.agentTaskId = named;
  if (typeof data.context_id === "string" && data.context_id) {
    turn.agentContextId = data.context_id;
  }
  if (event.type === "processing_status") turn.terminal ??= event;
}
