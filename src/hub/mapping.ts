// A2A results → relay events (relay-wire.md §3; reference §3.2 and §5.6–5.8). Pure: no I/O.
// A TurnMapper follows one turn: it turns each stream event into the events to publish now,
// remembers what the terminal group needs (state, ids, texts), and builds that group at the end.
//
// Every event carries `data.task_id` from the moment it is made (the agent's task id once known,
// the hub's own task id for the turn before that) and the relay's `run_id` when the turn had one;
// the publisher adds `data.response_seq` (relay/response-seq.ts).

import { randomUUID } from "node:crypto";
import {
  type A2AMessage,
  type A2APart,
  type A2AResult,
  type A2AStreamEvent,
  type A2ATask,
  INTERRUPTED_STATES,
  isTurnEndingState,
  nonTextParts,
  taskNonTextParts,
  taskText,
  textOfParts,
} from "../a2a/model.ts";
import type {
  AgentErrorEvent,
  AgentResponseEvent,
  ArtifactUpdateEvent,
  ProcessingStatus,
  ProcessingStatusEvent,
  PublishedEvent,
  TaskInteractiveEvent,
  TaskStatusEvent,
  TaskSubmittedEvent,
  UserReplyCommand,
} from "../wire/relay.ts";

/** Who a turn's events belong to, fixed when the turn is accepted. */
export interface TurnIds {
  agentMessageId: string;
  /** The turn's own `user_message_id` (null for a `user_reply`): the only one its `processing_status` may name. */
  userMessageId: string | null;
  /** The hub's own task id for the turn: `task_submitted`'s, and every event's until the agent's is known. */
  hubTaskId: string;
  /** The relay's `run_id` from the `user_message`, echoed in every event. */
  runId?: string | null;
}

export interface TurnContext extends TurnIds {
  localAgentId: string;
}

/**
 * States the relay turns a `task_status` into a terminal or interactive event for
 * (`_normalize_task_status_payload` in its hub_publish.py): the turn's terminal group says them,
 * once, so such a `task_status` is not published (the relay would see the end twice).
 */
const RELAY_TURN_ENDING_STATES: ReadonlySet<string> = new Set([
  "completed",
  "failed",
  "canceled",
  "rejected",
  "expired",
  "input-required",
  "auth-required",
  "policy-required",
]);

/** A fresh 32-hex task id of the hub's own (for a turn's `task_submitted` and early events). */
export function newHubTaskId(): string {
  return randomUUID().replaceAll("-", "");
}

/** An event's `data` before the turn's stamp is added. */
type Unstamped<D> = Omit<D, "task_id"> & { task_id?: string | null };

/** `data` with the turn's stamp: `task_id` (unless it names one) and `run_id` when there is one. */
function stamped<D extends object>(
  data: Unstamped<D>,
  taskId: string,
  runId: string | null | undefined,
): D {
  const out: Record<string, unknown> = { ...data };
  if (typeof out.task_id !== "string" || out.task_id === "") out.task_id = taskId;
  if (runId) out.run_id = runId;
  return out as D;
}

export class TurnMapper {
  readonly #ctx: TurnContext;
  #taskId: string | null = null;
  #contextId: string | null = null;
  #state: string | null = null;
  /** Streamed artifact text per artifact id (append adds, a fresh chunk replaces). */
  readonly #artifactTexts = new Map<string, string>();
  /** Text of streamed Messages (they append to one synthetic artifact). */
  #messageText = "";
  /** Anything visible was streamed (text or non-text parts). */
  #streamedContent = false;
  /** The final answer as a result or terminal event states it. */
  #terminalText = "";
  /** The status message text of the latest turn-ending state (the question, the failure). */
  #statusText = "";
  #parts: A2APart[] = [];

  constructor(ctx: TurnContext) {
    this.#ctx = ctx;
  }

  /** The agent's real task id, once known. */
  get taskId(): string | null {
    return this.#taskId;
  }
  /** The `task_id` the turn's events carry now: the agent's once known, else the hub's own. */
  get taskIdForEvents(): string {
    return this.#taskId ?? this.#ctx.hubTaskId;
  }
  get contextId(): string | null {
    return this.#contextId;
  }
  /** The latest task state seen (lower-case), or null. */
  get state(): string | null {
    return this.#state;
  }
  /** Some answer text is known (streamed or stated). */
  get hasText(): boolean {
    return this.#streamedText().trim() !== "" || this.#terminalText.trim() !== "";
  }

  /** The events to publish for one stream event (tasks are remembered, not published). */
  onStreamEvent(event: A2AStreamEvent): PublishedEvent[] {
    switch (event.kind) {
      case "task":
        this.#absorbTask(event);
        return [];
      case "message":
        return this.#streamedMessage(event);
      case "status-update": {
        this.#noteIds(event.taskId, event.contextId);
        const state = event.status.state;
        const statusText = textOfParts(event.status.message?.parts);
        this.#state = state;
        if (event.final || isTurnEndingState(state)) {
          this.#statusText = statusText;
          if (statusText.trim() !== "") this.#terminalText = statusText;
        }
        // The terminal group says how the turn ended; the relay would read this as a second end.
        if (RELAY_TURN_ENDING_STATES.has(state)) return [];
        const data = {
          state,
          status_text: statusText,
          final: event.final,
          task_id: event.taskId ?? this.taskIdForEvents,
          context_id: event.contextId ?? this.#contextId,
          raw: event.raw,
        };
        return [this.#event<TaskStatusEvent>("task_status", data)];
      }
      case "artifact-update": {
        this.#noteIds(event.taskId, event.contextId);
        const text = textOfParts(event.artifact.parts);
        const parts = nonTextParts(event.artifact.parts);
        const id = event.artifact.artifactId;
        const before = event.append ? (this.#artifactTexts.get(id) ?? "") : "";
        this.#artifactTexts.set(id, before + text);
        if (text !== "" || parts.length > 0) this.#streamedContent = true;
        return [
          this.#event<ArtifactUpdateEvent>("artifact_update", {
            raw: event.raw,
            text,
            parts,
            append: event.append,
            last_chunk: event.lastChunk,
          }),
        ];
      }
    }
  }

  /** A blocking send's result or a fetched task: state, ids, text and parts for the terminal. */
  onResult(result: A2AResult | A2ATask): void {
    if (result.kind === "task") {
      this.#absorbTask(result);
      return;
    }
    this.#noteIds(result.taskId, result.contextId);
    this.#terminalText = textOfParts(result.parts);
    this.#parts = nonTextParts(result.parts);
  }

  /** The one terminal group for a turn that ran to an answer (rules of reference §5.8). */
  terminal(): PublishedEvent[] {
    const state = this.#state;
    if (state === "failed" || state === "rejected") {
      const error = this.#statusText.trim() || this.#terminalText.trim() || `Agent task ${state}`;
      return this.failure("AgentTaskFailed", error, state);
    }
    if (state === "canceled") {
      // Deliberately not "completed" (the reference hub's quirk): a canceled task is no answer.
      return this.failure(
        "Canceled",
        this.#statusText.trim() || "The agent canceled the task.",
        state,
      );
    }
    if (state !== null && INTERRUPTED_STATES.has(state)) {
      return [
        this.#event<TaskInteractiveEvent>("task_interactive", {
          state: state as "input-required" | "auth-required",
          task_id: this.taskIdForEvents,
          context_id: this.#contextId,
          status_text: this.#statusText,
        }),
        this.#processing("input_required"),
      ];
    }
    const streamed = this.#streamedText().trim();
    const stated = this.#terminalText.trim();
    if (this.#streamedContent && stated.length <= streamed.length) {
      return [this.#processing("completed")];
    }
    const content = stated.length > streamed.length ? stated : streamed;
    const data: { content: string; agent_id: string; parts?: unknown[]; task_id: string } = {
      content,
      agent_id: this.#ctx.localAgentId,
      task_id: this.taskIdForEvents,
    };
    if (this.#parts.length > 0) data.parts = this.#parts;
    return [this.#event<AgentResponseEvent>("agent_response", data), this.#processing("completed")];
  }

  /** `agent_error` + `processing_status(failed)`; the error text is never empty. */
  failure(errorType: string, message: string, taskState?: string): PublishedEvent[] {
    const ids = { ...this.#ctx, hubTaskId: this.taskIdForEvents };
    return failureGroup(ids, errorType, message, taskState);
  }

  #absorbTask(task: A2ATask): void {
    this.#noteIds(task.id, task.contextId);
    this.#state = task.status.state;
    const text = taskText(task);
    if (text.trim() !== "") this.#terminalText = text;
    const parts = taskNonTextParts(task);
    if (parts.length > 0) this.#parts = parts;
    if (isTurnEndingState(task.status.state)) {
      this.#statusText = textOfParts(task.status.message?.parts);
    }
  }

  #streamedMessage(message: A2AMessage): PublishedEvent[] {
    this.#noteIds(message.taskId, message.contextId);
    const text = textOfParts(message.parts);
    const parts = nonTextParts(message.parts);
    if (text === "" && parts.length === 0) return [];
    this.#messageText += text;
    this.#streamedContent = true;
    const artifactParts: unknown[] = text !== "" ? [{ kind: "text", text }, ...parts] : parts;
    return [
      this.#event<ArtifactUpdateEvent>("artifact_update", {
        raw: message.raw,
        text,
        parts,
        append: true,
        last_chunk: false,
        artifact: { artifactId: `${this.#ctx.agentMessageId}-stream`, parts: artifactParts },
      }),
    ];
  }

  #streamedText(): string {
    return [...this.#artifactTexts.values()].join("") + this.#messageText;
  }

  #noteIds(taskId: string | null, contextId: string | null): void {
    if (taskId) this.#taskId = taskId;
    if (contextId) this.#contextId = contextId;
  }

  #processing(status: ProcessingStatus): ProcessingStatusEvent {
    return this.#event<ProcessingStatusEvent>("processing_status", {
      status,
      user_message_id: this.#ctx.userMessageId,
      task_id: this.taskIdForEvents,
    });
  }

  #event<E extends PublishedEvent>(type: E["type"], data: Unstamped<E["data"]>): E {
    const { agentMessageId, runId } = this.#ctx;
    return {
      type,
      agent_message_id: agentMessageId,
      data: stamped(data, this.taskIdForEvents, runId),
    } as E;
  }
}

/**
 * `agent_error` + `processing_status(failed)`: the group that never leaves a room waiting.
 * The error text is never empty. `ids.hubTaskId` is the task id the events carry (the agent's
 * when the caller knows it).
 */
export function failureGroup(
  ids: TurnIds,
  errorType: string,
  message: string,
  taskState?: string,
): [AgentErrorEvent, ProcessingStatusEvent] {
  const { agentMessageId, userMessageId, hubTaskId, runId } = ids;
  const error: AgentErrorEvent["data"] = {
    error: message.trim() || `The turn failed (${errorType || "Unknown"}).`,
    error_type: errorType || "Unknown",
    task_id: hubTaskId,
  };
  if (taskState !== undefined) error.task_state = taskState;
  return [
    {
      type: "agent_error",
      agent_message_id: agentMessageId,
      data: stamped(error, hubTaskId, runId),
    },
    {
      type: "processing_status",
      agent_message_id: agentMessageId,
      data: stamped(
        { status: "failed", user_message_id: userMessageId, task_id: hubTaskId },
        hubTaskId,
        runId,
      ),
    },
  ];
}

/** `task_submitted` with the hub's own task id for the turn (not the agent's task id). */
export function taskSubmitted(ids: TurnIds, agentName: string): TaskSubmittedEvent {
  return {
    type: "task_submitted",
    agent_message_id: ids.agentMessageId,
    data: stamped({ task_id: ids.hubTaskId, agent_name: agentName }, ids.hubTaskId, ids.runId),
  };
}

/**
 * The A2A message for a `user_reply` (reference §5.10): canonical, one text part. `agentTaskId`
 * is the agent's task the reply continues (the caller resolved the relay's `task_id`; null when
 * it names no agent task).
 */
export function replyMessage(
  cmd: UserReplyCommand,
  agentTaskId: string | null,
): Record<string, unknown> {
  const message: Record<string, unknown> = {
    role: "user",
    parts: [{ text: cmd.reply_text }],
    messageId: randomUUID().replaceAll("-", ""),
  };
  if (agentTaskId) {
    message["taskId"] = agentTaskId;
    message["referenceTaskIds"] = [agentTaskId];
  }
  if (cmd.context_id) message["contextId"] = cmd.context_id;
  return message;
}

/**
 * The relay's message with its task ids made the agent's: `taskId` and `referenceTaskIds` (or
 * their snake_case forms, as a Python relay may send them) resolved by `agentTaskIdOf`, which
 * maps the hub's own task ids to the agent's and refuses the relay's placeholders; ids that
 * resolve to nothing are left out. The same object when nothing changes.
 */
export function withAgentTaskIds(
  message: Record<string, unknown>,
  agentTaskIdOf: (taskId: string) => string | null,
): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  const set = (key: string, value: unknown) => {
    out ??= { ...message };
    if (value === undefined) delete out[key];
    else out[key] = value;
  };
  for (const key of ["taskId", "task_id"]) {
    const taskId = message[key];
    if (typeof taskId !== "string") continue;
    const resolved = agentTaskIdOf(taskId);
    if (resolved !== taskId) set(key, resolved ?? undefined);
  }
  for (const key of ["referenceTaskIds", "reference_task_ids"]) {
    const refs = message[key];
    if (!Array.isArray(refs)) continue;
    const resolved = refs
      .map((ref) => (typeof ref === "string" ? agentTaskIdOf(ref) : null))
      .filter((ref): ref is string => ref !== null);
    if (resolved.length !== refs.length || resolved.some((ref, i) => ref !== refs[i])) {
      set(key, resolved.length > 0 ? resolved : undefined);
    }
  }
  return out ?? message;
}
