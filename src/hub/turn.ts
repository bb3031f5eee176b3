// One turn: a relay message sent to a local agent, from `task_submitted` to exactly one terminal
// group. Transport-agnostic (it only sees the A2A client). Streams when the agent can, else a
// blocking send and polling. Never throws: every way out ends with `processing_status`.

import type { A2AClient } from "../a2a/client.ts";
import { isTurnEndingState, TERMINAL_STATES } from "../a2a/model.ts";
import { JsonRpcError, TransportError } from "../a2a/transport.ts";
import { type Clock, systemClock } from "../async/clock.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { oversizedPart } from "../relay/event-split.ts";
import { withDefaults } from "../system/settings.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import { isActiveState, TurnMapper, taskSubmitted } from "./mapping.ts";
import { withoutAddresses } from "./public-error.ts";
import { followTask } from "./task-follow.ts";

/** The agent calls a turn makes (an A2AClient, or the inspector's recording wrapper of one). */
type TurnClient = Pick<A2AClient, "send" | "stream" | "getTask" | "cancelTask">;

export interface TurnSettings {
  /** Whole turn, first byte to terminal group. */
  turnDeadlineMs: number;
  /** First pause between `tasks/get` polls; grows by half each time up to `maxPollIntervalMs`. */
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  /** One `tasks/get` call. */
  pollTimeoutMs: number;
  /** The best-effort `tasks/cancel` sent when a turn is aborted. */
  cancelTimeoutMs: number;
}

const DEFAULT_TURN_SETTINGS: TurnSettings = {
  turnDeadlineMs: 600_000,
  pollIntervalMs: 2_000,
  maxPollIntervalMs: 10_000,
  pollTimeoutMs: 15_000,
  cancelTimeoutMs: 5_000,
};

/** `policy`: the privacy guard blocked the turn's output (its message names the rule). */
type TurnAbortKind = "cancel" | "deadline" | "shutdown" | "policy";

/** The reason to abort a turn's signal with; decides the terminal `error_type`. */
export class TurnAbort extends Error {
  override readonly name = "TurnAbort";
  readonly kind: TurnAbortKind;
  constructor(kind: TurnAbortKind, message?: string) {
    super(message ?? DEFAULT_ABORT_TEXT[kind]);
    this.kind = kind;
  }
}

const DEFAULT_ABORT_TEXT: Record<TurnAbortKind, string> = {
  cancel: "The turn was canceled.",
  deadline: "The agent did not finish in time.",
  shutdown: "The hub shut down before the agent finished.",
  policy: "The hub's privacy policy stopped this reply.",
};
const ABORT_ERROR_TYPE: Record<TurnAbortKind, string> = {
  cancel: "Canceled",
  deadline: "TurnTimeout",
  shutdown: "HubShutdown",
  policy: "PolicyBlocked",
};

export interface TurnInput {
  agentMessageId: string;
  localAgentId: string;
  agentName: string;
  userMessageId: string | null;
  /** The hub's own task id for the turn (see mapping.ts TurnIds). */
  hubTaskId: string;
  /** The relay's `run_id`, echoed in every event. */
  runId?: string | null;
  /** The A2A message as the relay sent it (or a reply built from `user_reply`). */
  message: Record<string, unknown>;
  /** Stream (the card says `capabilities.streaming`) or blocking send + polling. */
  streaming: boolean;
}

export interface TurnOutcome {
  /** How the room sees the end; canceled and rejected turns count as failed here. */
  status: "completed" | "failed" | "input_required";
  errorType?: string;
  /** The agent could not be reached at all (connection refused, reset, DNS): re-check it. */
  agentUnreachable: boolean;
  /** The agent's own task id, when it gave one. */
  taskId: string | null;
}

export interface TurnOptions {
  signal: AbortSignal;
  /** The agent's task id, as soon as it is known (before the events carrying it are emitted). */
  onTaskId?: (taskId: string) => void;
  /**
   * The largest event the relay takes now (the publisher's body limit less its envelope). A
   * part larger than this cannot be delivered: the turn fails, saying so. Absent: no check.
   */
  maxEventBytes?: () => number;
  /**
   * A promise while the room's unsent events are over the publisher's high-water mark: the turn
   * reads no more of the agent's stream until it settles (bounded memory for long answers).
   */
  roomBackpressure?: () => Promise<void> | null;
  settings?: Partial<TurnSettings>;
  logger?: Logger;
  /** Time for the deadline and the task polling (tests pass a manual one); default: the system's. */
  clock?: Clock;
}

/** A failure of the turn itself (not of the transport). */
class TurnFailure extends Error {
  readonly errorType: string;
  constructor(errorType: string, message: string) {
    super(message);
    this.errorType = errorType;
  }
}

/**
 * `emit` queues the turn's events; it returns a message when the privacy policy stopped the turn
 * on them (the turn then ends failed, PolicyBlocked, with that message).
 */
export async function runTurn(
  input: TurnInput,
  client: TurnClient,
  // biome-ignore lint/suspicious/noConfusingVoidType: a sink with nothing to say returns nothing
  emit: (events: PublishedEvent[]) => string | null | void,
  options: TurnOptions,
): Promise<TurnOutcome> {
  const settings = withDefaults(DEFAULT_TURN_SETTINGS, options.settings);
  const logger = options.logger ?? silentLogger();
  const mapper = new TurnMapper({
    agentMessageId: input.agentMessageId,
    localAgentId: input.localAgentId,
    userMessageId: input.userMessageId,
    hubTaskId: input.hubTaskId,
    runId: input.runId ?? null,
    contextId: contextIdOf(input.message),
  });
  let reportedTaskId: string | null = null;
  const controller = new AbortController();
  /** The policy block that stopped the turn, once one did. */
  const policy: { blocked: string | null } = { blocked: null };
  const publish = (events: PublishedEvent[]) => {
    try {
      if (mapper.taskId !== null && mapper.taskId !== reportedTaskId) {
        reportedTaskId = mapper.taskId;
        options.onTaskId?.(reportedTaskId);
      }
      if (events.length === 0) return;
      const block = emit(events);
      if (block && policy.blocked === null) {
        policy.blocked = block;
        controller.abort(new TurnAbort("policy", block));
      }
    } catch (error) {
      logger.error({ err: error }, "could not hand turn events to the publisher");
    }
  };

  const deadlineAt = (options.clock ?? systemClock).now() + settings.turnDeadlineMs;
  const deadline = setTimeout(() => {
    controller.abort(
      new TurnAbort(
        "deadline",
        `The agent did not finish within ${Math.round(settings.turnDeadlineMs / 1000)} s (turn deadline).`,
      ),
    );
  }, settings.turnDeadlineMs);
  const forwardAbort = () => controller.abort(options.signal.reason);
  if (options.signal.aborted) forwardAbort();
  else options.signal.addEventListener("abort", forwardAbort, { once: true });
  const signal = controller.signal;

  publish([taskSubmitted(input, input.agentName)]);

  let group: PublishedEvent[];
  let agentUnreachable = false;
  const step = new TurnSteps(
    client,
    mapper,
    publish,
    signal,
    settings,
    deadlineAt,
    logger,
    options,
  );
  try {
    if (input.streaming) await step.stream(input.message);
    else await step.sendAndPoll(input.message);
    group = mapper.terminal();
    step.checkSizes(group);
  } catch (error) {
    if (signal.aborted) {
      const abort = asTurnAbort(signal.reason);
      if (mapper.taskId) await cancelOnAgent(client, mapper.taskId, settings, logger);
      logger.info({ kind: abort.kind, taskId: mapper.taskId }, `turn aborted: ${abort.message}`);
      group = mapper.failure(
        ABORT_ERROR_TYPE[abort.kind],
        abort.message,
        abort.kind === "cancel" ? "canceled" : "failed",
      );
    } else {
      const failure = describeFailure(error);
      agentUnreachable = failure.unreachable;
      logger.warn(
        { errorType: failure.errorType, taskId: mapper.taskId },
        `turn failed: ${failure.message}`,
      );
      // The agent's address stays in the local log; the relay gets the rest.
      group = mapper.failure(failure.errorType, withoutAddresses(failure.message));
    }
  } finally {
    clearTimeout(deadline);
    options.signal.removeEventListener("abort", forwardAbort);
  }
  publish(group);
  const late = policy.blocked;
  if (late !== null && !isPolicyFailure(group)) {
    // The policy stopped the turn's end itself (or its failure): the turn fails, saying why; the
    // agent's task stops (it may still wait for input).
    if (mapper.taskId) await cancelOnAgent(client, mapper.taskId, settings, logger);
    logger.info({ taskId: mapper.taskId }, `turn blocked: ${late}`);
    group = mapper.failure(ABORT_ERROR_TYPE.policy, late);
    publish(group);
  }
  return outcomeOf(group, agentUnreachable, mapper.taskId);
}

function isPolicyFailure(group: readonly PublishedEvent[]): boolean {
  return group.some(
    (event) => event.type === "agent_error" && event.data.error_type === ABORT_ERROR_TYPE.policy,
  );
}

/** The conversation the message names (camelCase or a Python relay's snake_case), if any. */
function contextIdOf(message: Record<string, unknown>): string | null {
  const value = message["contextId"] ?? message["context_id"];
  return typeof value === "string" && value !== "" ? value : null;
}

/** Stream events the transport had to skip, for the turn's verdict. */
interface SkippedEvents {
  count: number;
  first: string | null;
}

/** The I/O steps of one turn, sharing its signal, mapper and deadline. */
class TurnSteps {
  readonly #client: TurnClient;
  readonly #mapper: TurnMapper;
  readonly #publish: (events: PublishedEvent[]) => void;
  readonly #signal: AbortSignal;
  readonly #settings: TurnSettings;
  readonly #deadlineAt: number;
  readonly #logger: Logger;
  readonly #options: TurnOptions;

  constructor(
    client: TurnClient,
    mapper: TurnMapper,
    publish: (events: PublishedEvent[]) => void,
    signal: AbortSignal,
    settings: TurnSettings,
    deadlineAt: number,
    logger: Logger,
    options: TurnOptions,
  ) {
    this.#client = client;
    this.#mapper = mapper;
    this.#publish = publish;
    this.#signal = signal;
    this.#settings = settings;
    this.#deadlineAt = deadlineAt;
    this.#logger = logger;
    this.#options = options;
  }

  /** Throws AnswerTooLarge when one part of these events cannot fit in any publish. */
  checkSizes(events: readonly PublishedEvent[]): void {
    const limit = this.#options.maxEventBytes?.();
    if (limit === undefined) return;
    const part = oversizedPart(events, limit);
    if (!part) return;
    const what = `${part.kind} part${part.name ? ` ("${part.name}")` : ""}`;
    throw new TurnFailure(
      "AnswerTooLarge",
      `The agent's answer has a ${what} of ${formatBytes(part.bytes)}, more than the ${formatBytes(limit)} the relay accepts in one publish; it cannot be delivered.`,
    );
  }

  #emit(events: PublishedEvent[]): void {
    this.checkSizes(events);
    this.#publish(events);
  }

  /** Waits while the room's unsent events are over the publisher's high-water mark. */
  async #backpressure(): Promise<void> {
    const wait = this.#options.roomBackpressure?.();
    if (!wait) return;
    const signal = this.#signal;
    if (signal.aborted) throw signal.reason;
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([wait, aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  async stream(message: Record<string, unknown>): Promise<void> {
    const skipped: SkippedEvents = { count: 0, first: null };
    const mapper = this.#mapper;
    try {
      await this.#readStream(message, skipped);
    } catch (error) {
      const taskId = mapper.taskId;
      if (!(error instanceof TransportError) || !taskId || this.#signal.aborted) throw error;
      // The connection broke mid-stream, but the agent may well finish the task without us
      // listening (a2a-js does): follow it with tasks/get before calling the turn failed.
      this.#logger.info(
        { taskId, errorType: error.errorType },
        `stream broke (${error.message}); following the task with tasks/get`,
      );
      try {
        // What arrived is intact (whole SSE events); the task fetched adds what did not.
        await this.#followTask(taskId, { immediately: true, lenient: false });
      } catch {
        throw error;
      }
      return;
    }
    const taskId = mapper.taskId;
    if (skipped.count > 0) {
      const what = `${skipped.count} stream event${skipped.count === 1 ? "" : "s"} the hub could not read (first: ${skipped.first})`;
      if (!taskId) {
        throw new TurnFailure(
          "InvalidAgentResponse",
          `The agent's answer could not be read whole: it sent ${what}, and no task id to ask for the rest.`,
        );
      }
      // Parts of the answer may be missing: the task as the agent holds it replaces them.
      this.#logger.warn({ taskId }, `agent sent ${what}; fetching the task with tasks/get`);
      mapper.resendArtifacts();
      await this.#followUp(taskId, what);
      return;
    }
    if (mapper.ended) {
      if (mapper.state === "completed" && !mapper.sentContent && taskId) {
        // Some agents put the answer only in the task, not in the stream: ask once.
        await this.#followTask(taskId, { immediately: true, lenient: true });
      }
      return;
    }
    if (taskId) {
      await this.#followUp(taskId, "its stream ended before the task did");
      return;
    }
    throw new TurnFailure(
      "IncompleteStream",
      "The agent's stream ended without saying how its task ended, and it gave no task id to ask about it.",
    );
  }

  /** Follows the task after a stream that did not end it; failures say why the stream was not enough. */
  async #followUp(taskId: string, why: string): Promise<void> {
    try {
      await this.#followTask(taskId, { immediately: true, lenient: false });
    } catch (error) {
      if (this.#signal.aborted || error instanceof TurnFailure) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      throw new TurnFailure(
        "IncompleteStream",
        `The agent's answer is incomplete (${why}), and asking it for task ${taskId} failed: ${detail}`,
      );
    }
  }

  async #readStream(message: Record<string, unknown>, skipped: SkippedEvents): Promise<void> {
    const onUnreadable = (note: string) => {
      skipped.count++;
      skipped.first ??= note;
    };
    for await (const event of this.#client.stream(message, {
      signal: this.#signal,
      onUnreadable,
    })) {
      this.#emit(this.#mapper.onStreamEvent(event));
      // Stop at the end of the turn: a2a-js keeps streams open at auth-required, and a task
      // snapshot at the start of a follow-up may still show the old interrupted state.
      if (
        event.kind === "status-update" &&
        (event.final || isTurnEndingState(event.status.state))
      ) {
        break;
      }
      if (event.kind === "task" && TERMINAL_STATES.has(event.status.state)) break;
      await this.#backpressure();
    }
  }

  async sendAndPoll(message: Record<string, unknown>): Promise<void> {
    const result = await this.#client.send(message, { signal: this.#signal });
    this.#emit(this.#mapper.onResult(result));
    if (result.kind === "task" && isActiveState(this.#mapper.state)) {
      await this.#followTask(result.id, { immediately: false, lenient: false });
    }
  }

  /**
   * Polls `tasks/get` while the task is submitted/working, backing off, as long as a poll can
   * still finish before the turn deadline (then PollingTimeout). Lenient: fetch errors end
   * the polling quietly.
   */
  async #followTask(
    taskId: string,
    mode: { immediately: boolean; lenient: boolean },
  ): Promise<void> {
    this.#publish([]); // reports the task id (a restart can resume it) before waiting on it
    const followed = await followTask({
      client: this.#client,
      taskId,
      intervalMs: this.#settings.pollIntervalMs,
      maxIntervalMs: this.#settings.maxPollIntervalMs,
      deadlineAt: this.#deadlineAt,
      callTimeoutMs: this.#settings.pollTimeoutMs,
      pollMustFinish: true, // only a poll that can finish before the turn deadline
      immediately: mode.immediately,
      signal: this.#signal,
      onTask: (task) => {
        this.#emit(this.#mapper.onResult(task));
        return !isActiveState(this.#mapper.state);
      },
      ...(this.#options.clock ? { clock: this.#options.clock } : {}),
    });
    if (followed.kind === "timeout") {
      throw new TurnFailure(
        "PollingTimeout",
        `Task ${taskId} was still ${this.#mapper.state} after ${followed.attempts} status checks; gave up at the turn deadline.`,
      );
    }
    if (followed.kind === "failed") {
      if (!mode.lenient || this.#signal.aborted) throw followed.error;
      this.#logger.info(
        { taskId, err: String(followed.error) },
        "could not fetch the task after the stream; using what was streamed",
      );
    }
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

/** Best effort, bounded: tell the agent to stop working on the task. */
async function cancelOnAgent(
  client: TurnClient,
  taskId: string,
  settings: TurnSettings,
  logger: Logger,
): Promise<void> {
  const call = new AbortController();
  const timer = setTimeout(
    () => call.abort(new Error("cancel timed out")),
    settings.cancelTimeoutMs,
  );
  try {
    await client.cancelTask(taskId, { signal: call.signal });
    logger.info({ taskId }, "agent canceled the task");
  } catch (error) {
    logger.info(
      { taskId, err: String(error) },
      "agent did not confirm the cancel (it may have ended already)",
    );
  } finally {
    clearTimeout(timer);
  }
}

function asTurnAbort(reason: unknown): TurnAbort {
  if (reason instanceof TurnAbort) return reason;
  // A plain AbortSignal.timeout() from the caller is a deadline too.
  if (reason instanceof Error && reason.name === "TimeoutError") return new TurnAbort("deadline");
  return new TurnAbort("cancel");
}

function describeFailure(error: unknown): {
  errorType: string;
  message: string;
  unreachable: boolean;
} {
  if (error instanceof TurnFailure) {
    return { errorType: error.errorType, message: error.message, unreachable: false };
  }
  if (error instanceof TransportError) {
    return {
      errorType: error.errorType,
      message: error.message,
      unreachable: error.connectionClass,
    };
  }
  if (error instanceof JsonRpcError) {
    if (error.isVersionFallback) {
      return {
        errorType: "A2AVersionFallback",
        message: `The agent does not accept the A2A versions the hub speaks (${error.message}).`,
        unreachable: false,
      };
    }
    return {
      errorType: "JsonRpcError",
      message: `The agent answered with ${error.message}`,
      unreachable: false,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error && error.name !== "Error" ? error.name : "Unknown";
  return { errorType: name, message: message || "Unknown dispatch error", unreachable: false };
}

function outcomeOf(
  group: PublishedEvent[],
  agentUnreachable: boolean,
  taskId: string | null,
): TurnOutcome {
  let status: TurnOutcome["status"] = "failed";
  let errorType: string | undefined;
  for (const event of group) {
    if (event.type === "processing_status") {
      const said = event.data.status;
      status = said === "completed" || said === "input_required" ? said : "failed";
    }
    if (event.type === "agent_error") errorType = event.data.error_type;
  }
  const outcome: TurnOutcome = { status, agentUnreachable, taskId };
  if (errorType !== undefined) outcome.errorType = errorType;
  return outcome;
}
