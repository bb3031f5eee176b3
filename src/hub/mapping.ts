// A2A results → relay events (relay-wire.md §3; reference §3.2 and §5.6–5.8). Pure: no I/O.
// A TurnMapper follows one turn: it turns each stream event into the events to publish now,
// remembers what the terminal group needs (state, ids, texts), and builds that group at the end.

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
  ArtifactUpdateEvent,
  ProcessingStatus,
  ProcessingStatusEvent,
  PublishedEvent,
  TaskInteractiveEvent,
  TaskStatusEvent,
  TaskSubmittedEvent,
  UserReplyCommand,
} from "../wire/relay.ts";

export interface TurnContext {
  agentMessageId: string;
  localAgentId: string;
  userMessageId: string | null;
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
        const data = {
          state,
          status_text: statusText,
          final: event.final,
          task_id: event.taskId ?? this.#taskId,
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
          task_id: this.#taskId,
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
    const data: { content: string; agent_id: string; parts?: unknown[] } = {
      content,
      agent_id: this.#ctx.localAgentId,
    };
    if (this.#parts.length > 0) data.parts = this.#parts;
    return [
      { type: "agent_response", agent_message_id: this.#ctx.agentMessageId, data },
      this.#processing("completed"),
    ];
  }

  /** `agent_error` + `processing_status(failed)`; the error text is never empty. */
  failure(errorType: string, message: string, taskState?: string): PublishedEvent[] {
    const { agentMessageId, userMessageId } = this.#ctx;
    return failureGroup(agentMessageId, userMessageId, errorType, message, taskState);
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
    });
  }

  #event<E extends PublishedEvent>(type: E["type"], data: E["data"]): E {
    return { type, agent_message_id: this.#ctx.agentMessageId, data } as E;
  }
}

/**
 * `agent_error` + `processing_status(failed)`: the group that never leaves a room waiting.
 * The error text is never empty.
 */
export function failureGroup(
  agentMessageId: string,
  userMessageId: string | null,
  errorType: string,
  message: string,
  taskState?: string,
): [AgentErrorEvent, ProcessingStatusEvent] {
  const data: AgentErrorEvent["data"] = {
    error: message.trim() || `The turn failed (${errorType || "Unknown"}).`,
    error_type: errorType || "Unknown",
  };
  if (taskState !== undefined) data.task_state = taskState;
  return [
    { type: "agent_error", agent_message_id: agentMessageId, data },
    {
      type: "processing_status",
      agent_message_id: agentMessageId,
      data: { status: "failed", user_message_id: userMessageId },
    },
  ];
}

/** `task_submitted` with the hub's own fresh 32-hex id (not the agent's task id). */
export function taskSubmitted(agentMessageId: string, agentName: string): TaskSubmittedEvent {
  return {
    type: "task_submitted",
    agent_message_id: agentMessageId,
    data: { task_id: randomUUID().replaceAll("-", ""), agent_name: agentName },
  };
}

/** The A2A message for a `user_reply` (reference §5.10): canonical, one text part. */
export function replyMessage(cmd: UserReplyCommand): Record<string, unknown> {
  const message: Record<string, unknown> = {
    role: "user",
    parts: [{ text: cmd.reply_text }],
    messageId: randomUUID().replaceAll("-", ""),
  };
  if (cmd.task_id) {
    message["taskId"] = cmd.task_id;
    message["referenceTaskIds"] = [cmd.task_id];
  }
  if (cmd.context_id) message["contextId"] = cmd.context_id;
  return message;
}
