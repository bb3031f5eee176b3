// After a crash or kill: every turn an earlier run accepted but never answered gets exactly one
// terminal group now, so no room waits forever. If the agent's task id is known, the agent is
// asked (`tasks/get`) and a finished task's real result is published; a task still working is
// followed for a bounded time. Otherwise (or on any doubt) `agent_error` HubRestarted +
// `processing_status(failed)`. The message content was never stored, so a turn that had not
// reached its agent cannot be run again; the user is asked to resend.
import { isTurnEndingState } from "../a2a/model.ts";
import { type Clock, systemClock } from "../async/clock.ts";
import type { Logger } from "../log/logger.ts";
import type { AcceptedTurnRow } from "../outbox/database.ts";
import { POLICY_BLOCKED } from "../privacy/turn-guard.ts";
import { withDefaults } from "../system/settings.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import type { EventSink, OpenOutlet, Roster, RosterAgent } from "./hub.ts";
import { failureGroup, newHubTaskId, type TurnIds, TurnMapper } from "./mapping.ts";
import { followTask } from "./task-follow.ts";

export interface RecoverySettings {
  /** How long recovery keeps polling an agent task that is still working before giving up. */
  resumeMaxWaitMs: number;
  /** First pause between `tasks/get` polls while resuming; grows by half up to the max. */
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  /** One `tasks/get` or `tasks/cancel` call to the agent. */
  callTimeoutMs: number;
  /** Unfinished turns recovered at once. */
  concurrency: number;
}

export const DEFAULT_RECOVERY_SETTINGS: Readonly<RecoverySettings> = Object.freeze({
  resumeMaxWaitMs: 30_000,
  pollIntervalMs: 1_000,
  maxPollIntervalMs: 5_000,
  callTimeoutMs: 10_000,
  concurrency: 8,
});

export type UnfinishedTurn = Pick<
  AcceptedTurnRow,
  "agentMessageId" | "roomId" | "localAgentId" | "userMessageId" | "agentTaskId"
> &
  Partial<Pick<AcceptedTurnRow, "hubTaskId" | "runId">>;

interface RecoveryOptions {
  roster: Pick<Roster, "get">;
  sink: EventSink;
  /** Each turn's way out (the privacy guard); default: straight to `sink`. */
  outlet?: OpenOutlet;
  logger: Logger;
  settings: RecoverySettings;
  /** Abort: turns not yet resolved are answered HubRestarted at once. */
  signal: AbortSignal;
  /** Time for the polling (tests pass a manual one); default: the system's. */
  clock?: Clock;
}

interface RecoveryReport {
  /** Turns whose finished agent task was published. */
  resumed: number;
  /** Turns answered HubRestarted. */
  failed: number;
}

export const HUB_RESTARTED = "HubRestarted";

interface RestartRecoveryOptions {
  roster: Pick<Roster, "get">;
  /** The relay link, so the answers queue behind each turn's earlier events. */
  sink: EventSink;
  /** Each turn's way out (the privacy guard); default: straight to `sink`. */
  outlet?: OpenOutlet;
  logger: Logger;
  settings?: Partial<RecoverySettings>;
}

/**
 * Answers, once, the turns an earlier run accepted and never finished (the outbox hands them
 * out). Constructing starts nothing: `run` starts it, `stop` cuts it short.
 */
export class RestartRecovery {
  readonly #options: RestartRecoveryOptions;
  readonly #settings: RecoverySettings;
  #run: { controller: AbortController; done: Promise<RecoveryReport> } | null = null;

  constructor(options: RestartRecoveryOptions) {
    this.#options = options;
    this.#settings = withDefaults(DEFAULT_RECOVERY_SETTINGS, options.settings);
  }

  /** Answers `turns` (only the first call does anything); never rejects. */
  run(turns: readonly UnfinishedTurn[]): Promise<RecoveryReport> {
    if (this.#run) return this.#run.done;
    const { logger, outlet } = this.#options;
    const controller = new AbortController();
    const done = recoverTurns(turns, {
      roster: this.#options.roster,
      sink: this.#options.sink,
      ...(outlet ? { outlet } : {}),
      logger,
      settings: this.#settings,
      signal: controller.signal,
    }).catch((error: unknown) => {
      logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        "answering the turns an earlier run left unfinished failed; they are tried again on the next start",
      );
      return { resumed: 0, failed: 0 };
    });
    this.#run = { controller, done };
    return done;
  }

  /** Cuts recovery short (turns still being asked about are answered HubRestarted now). */
  async stop(): Promise<void> {
    const run = this.#run;
    if (!run) return;
    run.controller.abort();
    await run.done.catch(() => undefined);
  }
}

export async function recoverTurns(
  turns: readonly UnfinishedTurn[],
  options: RecoveryOptions,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { resumed: 0, failed: 0 };
  if (turns.length === 0) return report;
  let next = 0;
  const worker = async () => {
    while (next < turns.length) {
      const turn = turns[next++] as UnfinishedTurn;
      const outcome = await recoverOne(turn, options);
      report[outcome]++;
    }
  };
  const workers = Math.max(1, Math.min(options.settings.concurrency, turns.length));
  await Promise.all(Array.from({ length: workers }, worker));
  options.logger.info(
    report,
    `answered ${turns.length} turn(s) an earlier run left unfinished: ${report.resumed} with the agent's result, ${report.failed} with ${HUB_RESTARTED}`,
  );
  return report;
}

async function recoverOne(
  turn: UnfinishedTurn,
  options: RecoveryOptions,
): Promise<"resumed" | "failed"> {
  const { logger, sink } = options;
  const agent = options.roster.get(turn.localAgentId);
  const outlet = options.outlet?.({
    roomId: turn.roomId,
    agentMessageId: turn.agentMessageId,
    localAgentId: turn.localAgentId,
    agentName: agent?.name ?? null,
  });
  const publish = (events: PublishedEvent[]) => {
    try {
      if (!outlet) return sink.publish(turn.roomId, events);
      const blocked = outlet.publish(events);
      if (blocked) outlet.publish(failureGroup(turnIds(turn), POLICY_BLOCKED, blocked.message));
    } catch (error) {
      logger.error(
        { agentMessageId: turn.agentMessageId, err: String(error) },
        "could not queue a recovered turn's answer",
      );
    }
  };
  let reason =
    "The hub restarted before the agent's answer was sent; please send your message again.";
  if (agent && turn.agentTaskId) {
    const resumed = await resume(turn, turn.agentTaskId, agent, options);
    if (resumed.group) {
      publish(resumed.group);
      return "resumed";
    }
    reason = resumed.reason;
  }
  publish(failureGroup(turnIds(turn), HUB_RESTARTED, reason));
  return "failed";
}

/** Asks the agent about the task until it has ended (its terminal group) or time is up. */
async function resume(
  turn: UnfinishedTurn,
  taskId: string,
  agent: RosterAgent,
  options: RecoveryOptions,
): Promise<{ group: PublishedEvent[] | null; reason: string }> {
  const { settings, signal, logger } = options;
  const log = logger.child({ agentMessageId: turn.agentMessageId, taskId });
  const ended: { group: PublishedEvent[] | null } = { group: null };
  const followed = await followTask({
    client: agent.client,
    taskId,
    intervalMs: settings.pollIntervalMs,
    maxIntervalMs: settings.maxPollIntervalMs,
    deadlineAt: (options.clock ?? systemClock).now() + settings.resumeMaxWaitMs,
    callTimeoutMs: settings.callTimeoutMs,
    pollMustFinish: false,
    immediately: true,
    signal,
    onTask: (task) => {
      if (!isTurnEndingState(task.status.state)) return false;
      const mapper = new TurnMapper({ ...turnIds(turn), localAgentId: turn.localAgentId });
      const answer = mapper.onResult(task);
      log.info({ state: task.status.state }, "resumed a turn from before the restart");
      ended.group = [...answer, ...mapper.terminal()];
      return true;
    },
    ...(options.clock ? { clock: options.clock } : {}),
  }).catch((error: unknown) =>
    // Aborted while waiting: stop following (the task is canceled below).
    signal.aborted ? null : { kind: "failed" as const, error },
  );
  if (followed?.kind === "ended" && ended.group) return { group: ended.group, reason: "" };
  if (followed?.kind === "failed") {
    log.info(
      { err: followed.error instanceof Error ? followed.error.message : String(followed.error) },
      "could not ask the agent about a task from before the restart",
    );
    return {
      group: null,
      reason:
        "The hub restarted while the agent was working on this and could not get the result from the agent; please send your message again.",
    };
  }
  // Still working: stop it, so the agent does not work for nobody.
  try {
    await agent.client.cancelTask(taskId, { signal: AbortSignal.timeout(settings.callTimeoutMs) });
  } catch {
    // best effort: it may have just ended
  }
  return {
    group: null,
    reason:
      "The hub restarted while the agent was still working on this; the task was canceled. Please send your message again.",
  };
}

/**
 * The ids a recovered turn's events carry: the agent's task id when known, else the hub's own
 * (a turn recorded by an older version has none: a fresh one; response_seq keeps keys unique).
 */
function turnIds(turn: UnfinishedTurn): TurnIds {
  return {
    agentMessageId: turn.agentMessageId,
    userMessageId: turn.userMessageId,
    hubTaskId: turn.agentTaskId ?? turn.hubTaskId ?? newHubTaskId(),
    runId: turn.runId ?? null,
  };
}
