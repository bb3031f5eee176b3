// One turn: a relay message sent to a local agent, from `task_submitted` to exactly one terminal
// group. Transport-agnostic (it only sees the A2A client). Streams when the agent can, else a
// blocking send and polling. Never throws: every way out ends with `processing_status`.

import type { A2AClient } from "../a2a/client.ts";
import { type A2ATask, isTurnEndingState, TERMINAL_STATES } from "../a2a/model.ts";
import { JsonRpcError, TransportError } from "../agents/transport.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import { TurnMapper, taskSubmitted } from "./mapping.ts";

/** The agent calls a turn makes (an A2AClient, or the inspector's recording wrapper of one). */
export type TurnClient = Pick<A2AClient, "send" | "stream" | "getTask" | "cancelTask">;

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

export const DEFAULT_TURN_SETTINGS: TurnSettings = {
  turnDeadlineMs: 600_000,
  pollIntervalMs: 2_000,
  maxPollIntervalMs: 10_000,
  pollTimeoutMs: 15_000,
  cancelTimeoutMs: 5_000,
};

export type TurnAbortKind = "cancel" | "deadline" | "shutdown";

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
};
const ABORT_ERROR_TYPE: Record<TurnAbortKind, string> = {
  cancel: "Canceled",
  deadline: "TurnTimeout",
  shutdown: "HubShutdown",
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
  settings?: Partial<TurnSettings>;
  logger?: Logger;
}

/** A failure of the turn itself (not of the transport). */
class TurnFailure extends Error {
  readonly errorType: string;
  constructor(errorType: string, message: string) {
    super(message);
    this.errorType = errorType;
  }
}

const ACTIVE_STATES = new Set(["submitted", "working"]);

export async function runTurn(
  input: TurnInput,
  client: TurnClient,
  emit: (events: PublishedEvent[]) => void,
  options: TurnOptions,
): Promise<TurnOutcome> {
  const settings = { ...DEFAULT_TURN_SETTINGS, ...options.settings };
  const logger = options.logger ?? silentLogger();
  const mapper = new TurnMapper({
    agentMessageId: input.agentMessageId,
    localAgentId: input.localAgentId,
    userMessageId: input.userMessageId,
    hubTaskId: input.hubTaskId,
    runId: input.runId ?? null,
  });
  let reportedTaskId: string | null = null;
  const publish = (events: PublishedEvent[]) => {
    try {
      if (mapper.taskId !== null && mapper.taskId !== reportedTaskId) {
        reportedTaskId = mapper.taskId;
        options.onTaskId?.(reportedTaskId);
      }
      if (events.length === 0) return;
      emit(events);
    } catch (error) {
      logger.error({ err: error }, "could not hand turn events to the publisher");
    }
  };

  const controller = new AbortController();
  const deadlineAt = Date.now() + settings.turnDeadlineMs;
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
  try {
    const step = new TurnSteps(client, mapper, publish, signal, settings, deadlineAt, logger);
    if (input.streaming) await step.stream(input.message);
    else await step.sendAndPoll(input.message);
    group = mapper.terminal();
  } catch (error) {
    if (signal.aborted) {
      const abort = asTurnAbort(signal.reason);
      if (mapper.taskId) await cancelOnAgent(client, mapper.taskId, settings, logger);
      logger.info({ kind: abort.kind, taskId: mapper.taskId }, `turn aborted: ${abort.message}`);
      group = mapper.failure(ABORT_ERROR_TYPE[abort.kind], abort.message);
    } else {
      const failure = describeFailure(error);
      agentUnreachable = failure.unreachable;
      logger.warn(
        { errorType: failure.errorType, taskId: mapper.taskId },
        `turn failed: ${failure.message}`,
      );
      group = mapper.failure(failure.errorType, failure.message);
    }
  } finally {
    clearTimeout(deadline);
    options.signal.removeEventListener("abort", forwardAbort);
  }
  publish(group);
  return outcomeOf(group, agentUnreachable, mapper.taskId);
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

  constructor(
    client: TurnClient,
    mapper: TurnMapper,
    publish: (events: PublishedEvent[]) => void,
    signal: AbortSignal,
    settings: TurnSettings,
    deadlineAt: number,
    logger: Logger,
  ) {
    this.#client = client;
    this.#mapper = mapper;
    this.#publish = publish;
    this.#signal = signal;
    this.#settings = settings;
    this.#deadlineAt = deadlineAt;
    this.#logger = logger;
  }

  async stream(message: Record<string, unknown>): Promise<void> {
    try {
      await this.#readStream(message);
    } catch (error) {
      const taskId = this.#mapper.taskId;
      if (!(error instanceof TransportError) || !taskId || this.#signal.aborted) throw error;
      // The connection broke mid-stream, but the agent may well finish the task without us
      // listening (a2a-js does): follow it with tasks/get before calling the turn failed.
      this.#logger.info(
        { taskId, errorType: error.errorType },
        `stream broke (${error.message}); following the task with tasks/get`,
      );
      try {
        await this.#followTask(taskId, { immediately: true, lenient: false });
      } catch {
        throw error;
      }
      return;
    }
    const mapper = this.#mapper;
    if (mapper.taskId && (!isTurnEndingState(mapper.state) || !mapper.hasText)) {
      // The stream closed early, or without the answer's text: ask the agent for the task.
      await this.#followTask(mapper.taskId, { immediately: true, lenient: true });
    }
  }

  async #readStream(message: Record<string, unknown>): Promise<void> {
    for await (const event of this.#client.stream(message, { signal: this.#signal })) {
      this.#publish(this.#mapper.onStreamEvent(event));
      // Stop at the end of the turn: a2a-js keeps streams open at auth-required, and a task
      // snapshot at the start of a follow-up may still show the old interrupted state.
      if (
        event.kind === "status-update" &&
        (event.final || isTurnEndingState(event.status.state))
      ) {
        break;
      }
      if (event.kind === "task" && TERMINAL_STATES.has(event.status.state)) break;
    }
  }

  async sendAndPoll(message: Record<string, unknown>): Promise<void> {
    const result = await this.#client.send(message, { signal: this.#signal });
    this.#mapper.onResult(result);
    if (result.kind === "task" && ACTIVE_STATES.has(this.#mapper.state ?? "")) {
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
    let interval = this.#settings.pollIntervalMs;
    let attempts = 0;
    let wait = !mode.immediately;
    for (;;) {
      if (wait) {
        // Only start a poll that can finish before the turn deadline.
        if (Date.now() + interval + this.#settings.pollTimeoutMs >= this.#deadlineAt) {
          throw new TurnFailure(
            "PollingTimeout",
            `Task ${taskId} was still ${this.#mapper.state} after ${attempts} status checks; gave up at the turn deadline.`,
          );
        }
        await sleep(interval, this.#signal);
        interval = Math.min(Math.round(interval * 1.5), this.#settings.maxPollIntervalMs);
      }
      wait = true;
      attempts++;
      let task: A2ATask;
      try {
        task = await this.#getTask(taskId);
      } catch (error) {
        if (!mode.lenient || this.#signal.aborted) throw error;
        this.#logger.info(
          { taskId, err: String(error) },
          "could not fetch the task after the stream; using what was streamed",
        );
        return;
      }
      this.#mapper.onResult(task);
      if (!ACTIVE_STATES.has(this.#mapper.state ?? "")) return;
    }
  }

  async #getTask(taskId: string): Promise<A2ATask> {
    const call = new AbortController();
    const timer = setTimeout(() => {
      call.abort(
        new TransportError(
          "ReadTimeout",
          `the agent did not answer tasks/get within ${this.#settings.pollTimeoutMs} ms`,
        ),
      );
    }, this.#settings.pollTimeoutMs);
    try {
      return await this.#client.getTask(taskId, {
        signal: AbortSignal.any([this.#signal, call.signal]),
      });
    } finally {
      clearTimeout(timer);
    }
  }
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
    if (event.type === "processing_status") status = event.data.status;
    if (event.type === "agent_error") errorType = event.data.error_type;
  }
  const outcome: TurnOutcome = { status, agentUnreachable, taskId };
  if (errorType !== undefined) outcome.errorType = errorType;
  return outcome;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
