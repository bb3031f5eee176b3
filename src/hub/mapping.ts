// A2A results → relay events (relay-wire.md §3, and the table in README "What the room receives").
// Pure: no I/O. A TurnMapper follows one turn: it turns each stream event (or a blocking result)
// into the events to publish now, remembers what the end needs (state, ids, the final status
// message, which artifacts were sent), and builds the one terminal group.
//
// The answer's content travels once, in `artifact_update.data.artifacts` (the first field the
// relay reads), each artifact with the agent's id, name and every part in the relay's v0.3 shape;
// the terminal `agent_response` only names those artifacts (no parts), so the relay projects the
// room's answer from what it stored and nothing is sent twice. Text is never trimmed or joined.
//
// Every event carries `data.task_id` from the moment it is made (the agent's task id once known,
// the hub's own task id for the turn before that) and the relay's `run_id` when the turn had one;
// the publisher adds `data.response_seq` (outbox/response-seq.ts) and splits what is too large.

import { randomUUID } from "node:crypto";
import { encodePart } from "../a2a/dialect.ts";
import {
  type A2AArtifact,
  type A2AMessage,
  type A2APart,
  type A2AResult,
  type A2AStreamEvent,
  type A2ATask,
  ACTIVE_STATES,
  INTERRUPTED_STATES,
  isRecord,
  isTurnEndingState,
  partText,
  TERMINAL_STATES,
  textOfParts,
} from "../a2a/model.ts";
import type {
  AgentErrorEvent,
  AgentResponseEvent,
  ArtifactUpdateEvent,
  ProcessingStatus,
  ProcessingStatusEvent,
  PublishedEvent,
  RelayArtifact,
  RelayPart,
  RelayTaskStatus,
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

interface TurnContext extends TurnIds {
  localAgentId: string;
  /**
   * The conversation the relay's message named: the `context_id` of a question when the agent
   * gave none (the relay needs one to route the user's answer back).
   */
  contextId?: string | null;
}

/**
 * States the relay turns a `task_status` into a terminal or interactive event for
 * (`_normalize_task_status_payload` in its hub_publish.py): the turn's terminal group says them,
 * once, so such a `task_status` is not published (the relay would see the end twice).
 */
const RELAY_TURN_ENDING_STATES: ReadonlySet<string> = new Set([
  ...TERMINAL_STATES,
  ...INTERRUPTED_STATES,
]);

/** How the relay may read an `agent_error`'s `state` (any other value loses the event there). */
type FailureState = "failed" | "canceled" | "rejected";

/** Answer text kept to recognise a final status message that only repeats the answer. */
const ANSWER_TEXT_SAMPLE_CHARS = 256 * 1024;

/**
 * What the agent said in status updates that did not end its turn, kept (measured as
 * `partsSize`) until the end decides whether it is the answer. More than this is content, not
 * progress notes: it goes to the room at once, as the artifact `<agent_message_id>-status-messages`.
 */
export const STATUS_WORDS_KEEP_CHARS = 1024 * 1024;

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

/**
 * A canonical part in the relay's model (A2A v0.3: `kind`, a file's `name`/`mimeType` and one of
 * `bytes`/`uri`). A data part whose value is not a JSON object (v1.0 allows any) is sent as
 * `{"value": …}`: the relay's model takes objects only.
 */
function relayPart(part: A2APart): RelayPart {
  const encoded = encodePart("0.3", part);
  if (encoded["kind"] === "data" && !isRecord(encoded["data"])) {
    return { ...encoded, data: { value: encoded["data"] } } as unknown as RelayPart;
  }
  return encoded as RelayPart;
}

function relayParts(parts: readonly A2APart[]): RelayPart[] {
  return parts.map(relayPart);
}

/** The relay's v0.3 TaskStatus for a question: state, the agent's message (parts, metadata). */
function relayStatus(state: string, message: A2AMessage | null, timestamp: string | null) {
  const status: RelayTaskStatus = { state };
  if (message) {
    const out: NonNullable<RelayTaskStatus["message"]> = {
      kind: "message",
      role: message.role === "user" ? "user" : "agent",
      messageId: message.messageId || randomUUID(),
      parts: relayParts(message.parts),
    };
    const metadata = message.raw["metadata"];
    if (isRecord(metadata)) out.metadata = metadata;
    if (message.taskId) out.taskId = message.taskId;
    if (message.contextId) out.contextId = message.contextId;
    status.message = out;
  }
  if (timestamp) status.timestamp = timestamp;
  return status;
}

/** A cheap measure of parts (text length, else 1 a part), to see whether the room holds them. */
function partsSize(parts: readonly A2APart[]): number {
  let size = 0;
  for (const part of parts) size += partText(part)?.length ?? 1;
  return size;
}

/** Any part that shows something: a non-text part, or text that is not empty. */
function hasContent(parts: readonly A2APart[] | undefined): boolean {
  return (parts ?? []).some((part) => partText(part) !== "");
}

/**
 * The parts of the agent's messages after the user's last one in a task's history (decoded:
 * roles and parts canonical). Servers built on the A2A SDK keep each status message there, so a
 * blocking answer given only in status updates is found here.
 */
function agentWordsOfHistory(task: A2ATask): A2APart[] {
  const history = task.raw["history"];
  if (!Array.isArray(history)) return [];
  const words: A2APart[] = [];
  for (const message of history) {
    if (!isRecord(message) || !Array.isArray(message["parts"])) continue;
    if (message["role"] === "user") words.length = 0;
    else words.push(...(message["parts"] as A2APart[]));
  }
  return hasContent(words) ? words : [];
}

export class TurnMapper {
  readonly #ctx: TurnContext;
  #taskId: string | null = null;
  #contextId: string | null = null;
  #state: string | null = null;
  #statusTimestamp: string | null = null;
  /** The agent's message of the latest turn-ending state (the question, the failure, the closing words). */
  #statusMessage: A2AMessage | null = null;
  /** A Message was the answer (a blocking result, or a stream of messages outside any task). */
  #messageAnswer = false;
  /**
   * Artifacts sent this turn, in order: whether each is complete (sent whole or its last chunk),
   * and what the room holds of it (its parts and their size), to send a fetched task's artifact
   * only where it says more.
   */
  readonly #sent = new Map<string, { complete: boolean; parts: number; size: number }>();
  /** Each artifact's text while the total stays small (to spot a status message that repeats it). */
  readonly #texts = new Map<string, string>();
  #textChars = 0;
  #textOverflow = false;
  /** Parts of the stream may be missing: the next task fetched replaces every artifact. */
  #resend = false;
  /**
   * The agent's words in status updates that did not end the turn (or, for a finished task, its
   * messages in the history): the answer when the turn ends with nothing else to show. Some
   * servers answer only this way (@google/gemini-cli-a2a-server streams its text as `working`
   * status messages and ends with an `input-required` that says nothing).
   */
  #words: A2APart[] = [];
  #wordsSize = 0;
  /** The words outgrew what is kept: they stream to the room as they come. */
  #wordsStreaming = false;

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
  /** The agent said how the turn ended: a state that ends it, or a Message as the whole answer. */
  get ended(): boolean {
    return isTurnEndingState(this.#state) || (this.#messageAnswer && this.#state === null);
  }
  /** Some content was sent (an artifact, a streamed message). */
  get sentContent(): boolean {
    return this.#sent.size > 0;
  }

  /** Parts of what was streamed may be missing: the next task fetched is sent whole again. */
  resendArtifacts(): void {
    this.#resend = true;
  }

  /** The events to publish for one stream event. */
  onStreamEvent(event: A2AStreamEvent): PublishedEvent[] {
    switch (event.kind) {
      case "task":
        // A snapshot at the start carries earlier turns' artifacts; a final one carries the answer.
        return this.#absorbTask(event, TERMINAL_STATES.has(event.status.state));
      case "message":
        return this.#streamedMessage(event);
      case "status-update": {
        this.#noteIds(event.taskId, event.contextId);
        const state = event.status.state;
        this.#state = state;
        if (isTurnEndingState(state)) {
          this.#statusMessage = event.status.message;
          this.#statusTimestamp = event.status.timestamp;
        }
        // The terminal group says how the turn ended; the relay would read this as a second end.
        if (RELAY_TURN_ENDING_STATES.has(state)) return [];
        const data = {
          state,
          status_text: textOfParts(event.status.message?.parts),
          final: event.final,
          task_id: event.taskId ?? this.taskIdForEvents,
          context_id: event.contextId ?? this.#contextId,
        };
        const message = event.status.message;
        const words = message && message.role !== "user" ? this.#keepWords(message.parts) : [];
        return [this.#event<TaskStatusEvent>("task_status", data), ...words];
      }
      case "artifact-update": {
        this.#noteIds(event.taskId, event.contextId);
        return this.#artifactEvents(event.artifact, event.append, event.lastChunk, "-artifact");
      }
    }
  }

  /**
   * A blocking send's result or a fetched task: its artifacts not yet sent whole are sent now
   * (replacing what a broken stream left), a Message answer as the artifact `<id>-response`.
   */
  onResult(result: A2AResult | A2ATask): PublishedEvent[] {
    if (result.kind === "task") return this.#absorbTask(result, true);
    this.#noteIds(result.taskId, result.contextId);
    this.#messageAnswer = true;
    if (!hasContent(result.parts)) return [];
    return this.#artifactEvents(
      {
        artifactId: `${this.#ctx.agentMessageId}-response`,
        name: "response",
        description: null,
        metadata: null,
        parts: result.parts,
      },
      false,
      true,
      "",
    );
  }

  /** The one terminal group for a turn that ran to an answer (see README "What the room receives"). */
  terminal(): PublishedEvent[] {
    const state = this.#state;
    const said = textOfParts(this.#statusMessage?.parts);
    if (state === "failed" || state === "rejected" || state === "canceled") {
      const fallback =
        state === "canceled" ? "The agent canceled the task." : `The agent's task ${state}.`;
      const errorType = state === "canceled" ? "Canceled" : "AgentTaskFailed";
      return this.failure(errorType, said || fallback, state);
    }
    if (state === "expired") {
      return this.failure("AgentTaskFailed", said || "The agent's task expired.", "failed");
    }
    if (state === "policy-required") {
      return this.failure(
        "AgentTaskFailed",
        `The agent needs a policy decision (policy-required), which the hub cannot ask the room for${said ? `: ${said}` : "."}`,
        "failed",
      );
    }
    if (state === "input-required" || state === "auth-required") {
      const contextId = this.#contextId ?? this.#ctx.contextId ?? null;
      // A question that says nothing: what the agent said before it is the question.
      const question = hasContent(this.#statusMessage?.parts)
        ? this.#statusMessage
        : (this.#wordsMessage() ?? this.#statusMessage);
      return [
        this.#event<TaskInteractiveEvent>("task_interactive", {
          state,
          task_id: this.taskIdForEvents,
          context_id: contextId,
          status: relayStatus(state, question, this.#statusTimestamp),
        }),
        this.#processing("input_required"),
      ];
    }
    if (state !== "completed" && !this.ended) {
      return this.failure(
        "InvalidAgentResponse",
        state === null || state === "unknown"
          ? "The agent ended without saying how its task ended (no task state)."
          : `The agent's task ended in the state "${state}", which is none of completed, failed, canceled, rejected, input-required or auth-required.`,
      );
    }
    const group: PublishedEvent[] = [];
    const closing = this.#statusMessage;
    if (!hasContent(closing?.parts) && this.#sent.size === 0 && this.#words.length > 0) {
      // Nothing else to show: the agent answered in its status updates.
      group.push(...this.#wordsArtifact(this.#words, false, true));
    }
    if (closing && hasContent(closing.parts) && !this.#repeatsAnswer(closing)) {
      group.push(
        ...this.#artifactEvents(
          {
            artifactId: `${this.#ctx.agentMessageId}-status`,
            name: "status",
            description: null,
            metadata: null,
            parts: closing.parts,
          },
          false,
          true,
          "",
        ),
      );
    }
    const data: Unstamped<AgentResponseEvent["data"]> = {
      content: "",
      agent_id: this.#ctx.localAgentId,
      task_id: this.taskIdForEvents,
      context_id: this.#contextId,
    };
    if (this.#sent.size > 0) {
      // Names only: the relay projects the stored artifacts (`append: true` adds nothing).
      data.artifacts = [...this.#sent.keys()].map((artifactId) => ({ artifactId, parts: [] }));
      data.append = true;
    }
    group.push(this.#event<AgentResponseEvent>("agent_response", data));
    group.push(this.#processing("completed"));
    return group;
  }

  /** `agent_error` + `processing_status`; the error text is never empty. */
  failure(errorType: string, message: string, state: FailureState = "failed"): PublishedEvent[] {
    const ids = { ...this.#ctx, hubTaskId: this.taskIdForEvents };
    return failureGroup(ids, errorType, message, state, this.#contextId);
  }

  #absorbTask(task: A2ATask, withArtifacts: boolean): PublishedEvent[] {
    this.#noteIds(task.id, task.contextId);
    this.#state = task.status.state;
    if (isTurnEndingState(task.status.state)) {
      this.#statusMessage = task.status.message;
      this.#statusTimestamp = task.status.timestamp;
      // The task as the agent holds it replaces what the stream said (unless already sent).
      const words = agentWordsOfHistory(task);
      if (words.length > 0 && !this.#wordsStreaming) {
        this.#words = words;
        this.#wordsSize = partsSize(words);
      }
    }
    if (!withArtifacts) return [];
    const resend = this.#resend;
    this.#resend = false;
    // A task still working may add to an artifact later: what it adds goes out as it comes.
    const whole = isTurnEndingState(task.status.state);
    const events: PublishedEvent[] = [];
    task.artifacts.forEach((artifact, index) => {
      const artifactId = artifact.artifactId || `${this.#ctx.agentMessageId}-artifact-${index}`;
      const held = this.#sent.get(artifactId);
      const named = { ...artifact, artifactId };
      if (resend || !held) {
        events.push(...this.#artifactEvents(named, false, whole, ""));
        return;
      }
      if (held.complete) return;
      // The room has the first parts already (a stream cut short, an earlier poll): the rest
      // is added; an artifact the agent changed otherwise is sent whole again, replacing.
      const prefix = artifact.parts.slice(0, held.parts);
      if (artifact.parts.length >= held.parts && partsSize(prefix) === held.size) {
        const rest = artifact.parts.slice(held.parts);
        if (rest.length > 0) {
          events.push(...this.#artifactEvents({ ...named, parts: rest }, true, whole, ""));
        }
        return;
      }
      // A working task's snapshot may lag behind what was streamed: only its final one replaces.
      if (whole) events.push(...this.#artifactEvents(named, false, whole, ""));
    });
    return events;
  }

  /** Keeps a status update's words; past the limit they go to the room now (returned). */
  #keepWords(parts: readonly A2APart[]): ArtifactUpdateEvent[] {
    if (!hasContent(parts)) return [];
    if (this.#wordsStreaming) return this.#wordsArtifact(parts, true, false);
    this.#words.push(...parts);
    this.#wordsSize += partsSize(parts);
    if (this.#wordsSize <= STATUS_WORDS_KEEP_CHARS) return [];
    this.#wordsStreaming = true;
    const kept = this.#words;
    this.#words = [];
    this.#wordsSize = 0;
    return this.#wordsArtifact(kept, false, false);
  }

  #wordsArtifact(
    parts: readonly A2APart[],
    append: boolean,
    lastChunk: boolean,
  ): ArtifactUpdateEvent[] {
    return this.#artifactEvents(
      {
        artifactId: `${this.#ctx.agentMessageId}-status-messages`,
        name: "status messages",
        description: null,
        metadata: null,
        parts: [...parts],
      },
      append,
      lastChunk,
      "",
    );
  }

  /** The kept words as the agent's message, or null when there are none. */
  #wordsMessage(): A2AMessage | null {
    if (this.#words.length === 0) return null;
    const parts = [...this.#words];
    return {
      kind: "message",
      role: "agent",
      messageId: "",
      parts,
      taskId: this.#taskId,
      contextId: this.#contextId,
      raw: { kind: "message", role: "agent", parts },
      wire: null,
    };
  }

  #streamedMessage(message: A2AMessage): PublishedEvent[] {
    this.#noteIds(message.taskId, message.contextId);
    if (this.#taskId === null && this.#state === null) this.#messageAnswer = true;
    if (!hasContent(message.parts)) return [];
    return this.#artifactEvents(
      {
        artifactId: `${this.#ctx.agentMessageId}-stream`,
        name: null,
        description: null,
        metadata: null,
        parts: message.parts,
      },
      true,
      false,
      "",
    );
  }

  /** One `artifact_update` for an artifact of the agent (an id-less one gets `<id><suffix>`). */
  #artifactEvents(
    artifact: A2AArtifact,
    append: boolean,
    lastChunk: boolean,
    idSuffix: string,
  ): ArtifactUpdateEvent[] {
    const artifactId = artifact.artifactId || `${this.#ctx.agentMessageId}${idSuffix}`;
    const out: RelayArtifact = { artifactId, parts: relayParts(artifact.parts) };
    if (artifact.name) out.name = artifact.name;
    if (artifact.description) out.description = artifact.description;
    if (artifact.metadata) out.metadata = artifact.metadata;
    const held = append ? this.#sent.get(artifactId) : undefined;
    this.#sent.set(artifactId, {
      complete: lastChunk,
      parts: (held?.parts ?? 0) + artifact.parts.length,
      size: (held?.size ?? 0) + partsSize(artifact.parts),
    });
    this.#noteText(artifactId, textOfParts(artifact.parts), append);
    const data: Unstamped<ArtifactUpdateEvent["data"]> = {
      artifacts: [out],
      append,
      last_chunk: lastChunk,
      context_id: this.#contextId,
    };
    return [this.#event<ArtifactUpdateEvent>("artifact_update", data)];
  }

  #noteText(artifactId: string, text: string, append: boolean): void {
    if (this.#textOverflow) return;
    const before = append ? (this.#texts.get(artifactId) ?? "") : "";
    this.#textChars += text.length;
    if (this.#textChars > ANSWER_TEXT_SAMPLE_CHARS) {
      this.#textOverflow = true;
      this.#texts.clear();
      return;
    }
    this.#texts.set(artifactId, before + text);
  }

  /** A closing message with nothing but the answer's text again (agents often repeat it there). */
  #repeatsAnswer(message: A2AMessage): boolean {
    if (this.#textOverflow || message.parts.some((part) => partText(part) === null)) return false;
    const said = textOfParts(message.parts).trim();
    if (said === "") return true;
    const texts = [...this.#texts.values()];
    return texts.join("").trim() === said || texts.some((text) => text.trim() === said);
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
    const clean: Record<string, unknown> = { ...data };
    if (clean.context_id === null || clean.context_id === undefined) delete clean.context_id;
    return {
      type,
      agent_message_id: agentMessageId,
      data: stamped(clean as Unstamped<E["data"]>, this.taskIdForEvents, runId),
    } as E;
  }
}

/** Only submitted/working keep a turn going; used by the turn to follow a task. */
export function isActiveState(state: string | null): boolean {
  return state !== null && ACTIVE_STATES.has(state);
}

/**
 * `agent_error` + `processing_status`: the group that never leaves a room waiting. The error
 * text is never empty. `ids.hubTaskId` is the task id the events carry (the agent's when the
 * caller knows it); `state` is how the relay shows the end (failed, canceled, rejected).
 */
export function failureGroup(
  ids: TurnIds,
  errorType: string,
  message: string,
  state: FailureState = "failed",
  contextId?: string | null,
): [AgentErrorEvent, ProcessingStatusEvent] {
  const { agentMessageId, userMessageId, hubTaskId, runId } = ids;
  const error: AgentErrorEvent["data"] = {
    error: message.trim() || `The turn failed (${errorType || "Unknown"}).`,
    error_type: errorType || "Unknown",
    state,
    task_id: hubTaskId,
  };
  if (contextId) error.context_id = contextId;
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
        { status: state, user_message_id: userMessageId, task_id: hubTaskId },
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
