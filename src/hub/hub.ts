// The Hub routes relay commands: each user_message / user_reply becomes its own concurrent Turn
// (bounded per agent), cancel_task reaches the running turn it names, duplicates are dropped,
// and shutdown drains. It knows the relay only as "somewhere to publish" and the agents only as
// a roster, so it runs the same against the real relay, the development relay and tests.
import type { A2AClient } from "../a2a/client.ts";
import { textOfParts } from "../a2a/model.ts";
import type { Logger } from "../log/logger.ts";
import { type HubObserver, NULL_OBSERVER } from "../observe/observer.ts";
import { AcceptedTurns, type TurnLedger } from "../outbox/accepted-turns.ts";
import type { GuardedTurn, TurnOutlet } from "../privacy/outbound.ts";
import { POLICY_BLOCKED } from "../privacy/turn-guard.ts";
import type { QueuedObserver } from "../relay/publisher.ts";
import { withDefaults } from "../system/settings.ts";
import type {
  CancelTaskCommand,
  PublishedEvent,
  UserMessageCommand,
  UserReplyCommand,
} from "../wire/relay.ts";
import { isPlaceholderTaskId } from "../wire/relay.ts";
import type { ParsedRelayCommand } from "../wire/relay-command.ts";
import { AgentSlots } from "./agent-slots.ts";
import {
  failureGroup,
  newHubTaskId,
  replyMessage,
  type TurnIds,
  withAgentTaskIds,
} from "./mapping.ts";
import {
  runTurn,
  TurnAbort,
  type TurnOptions,
  type TurnOutcome,
  type TurnSettings,
} from "./turn.ts";

/** What the hub needs of an agent in the roster (the registry's LocalAgent satisfies it). */
export interface RosterAgent {
  localAgentId: string;
  name: string;
  client: A2AClient;
  streaming: boolean;
  maxConcurrency: number;
  /** Turns that may wait for a free slot (default `HubSettings.maxQueuedTurnsPerAgent`). */
  maxQueued?: number | undefined;
  timeoutMs?: number | undefined;
}
export interface Roster {
  get(localAgentId: string): RosterAgent | undefined;
  reportUnreachable(localAgentId: string): void;
}
export interface EventSink {
  /** `onQueued` sees the events as they will be published (stamped, split), when queued. */
  publish(roomId: string, events: PublishedEvent[], onQueued?: QueuedObserver): void;
  /** The largest event one publish can carry (parts larger than this fail the turn). */
  maxEventBytes?(): number;
  /** A promise while the room holds too much unsent: its turns pause reading their agents. */
  backpressure?(roomId: string): Promise<void> | null;
}

export interface HubSettings {
  /** Per-turn deadline unless the agent entry sets `timeoutMs`. */
  turnDeadlineMs: number;
  /** How long shutdown lets running turns finish before cancelling them. */
  shutdownGraceMs: number;
  /**
   * Turns that may wait for a free slot of one agent unless its entry sets `maxQueued`; a turn
   * beyond it is answered at once with `AgentBusy` (a slow agent must not pile up turns, and the
   * hub's memory with them, without bound).
   */
  maxQueuedTurnsPerAgent: number;
  /** How many accepted `agent_message_id`s are remembered for duplicate detection. */
  acceptedTurnsCapacity: number;
  turn: Partial<TurnSettings>;
}
const DEFAULT_HUB_SETTINGS: HubSettings = {
  turnDeadlineMs: 600_000,
  shutdownGraceMs: 10_000,
  maxQueuedTurnsPerAgent: 256,
  acceptedTurnsCapacity: 50_000,
  turn: {},
};

/**
 * A turn's way out to the sink: the privacy guard's (src/privacy/outbound.ts) or, without one,
 * straight to the sink. Its `publish` returns a policy block the first time one stops the turn.
 */
export type OpenOutlet = (turn: GuardedTurn) => TurnOutlet;

/** One accepted turn that has ended (its terminal group published): for metrics. */
export interface TurnEndReport {
  localAgentId: string;
  agentName: string;
  outcome: "completed" | "failed" | "input_required";
  /** From acceptance (queueing included) to the terminal group. */
  durationMs: number;
}

export interface AgentTurnCounts {
  running: number;
  queued: number;
  completed: number;
  failed: number;
  inputRequired: number;
}

interface RunningTurn {
  agentMessageId: string;
  roomId: string;
  localAgentId: string;
  userMessageId: string | null;
  hubTaskId: string;
  runId: string | null;
  controller: AbortController;
  /** The agent's task id, learned from the turn's own published events. */
  taskId: string | null;
  started: boolean;
  done: Promise<void>;
}

export class Hub {
  readonly #roster: Roster;
  readonly #sink: EventSink;
  readonly #logger: Logger;
  readonly #settings: HubSettings;
  readonly #accepted: TurnLedger;
  readonly #turns = new Map<string, RunningTurn>();
  readonly #slots = new Map<string, AgentSlots>();
  readonly #counts = new Map<string, AgentTurnCounts>();
  /** Turns refused for a full queue, per agent, since its queue was last empty. */
  readonly #busySpells = new Map<string, number>();
  #accepting = true;
  readonly #onTurnEnd: (report: TurnEndReport) => void;
  readonly #onIncoming: (text: string, agent: RosterAgent) => void;
  readonly #open: OpenOutlet;
  readonly #observer: HubObserver;

  constructor(options: {
    roster: Roster;
    sink: EventSink;
    logger: Logger;
    settings?: Partial<HubSettings>;
    onTurnEnd?: (report: TurnEndReport) => void;
    /** Where accepted turns are remembered (the durable outbox's ledger); default in memory. */
    acceptedTurns?: TurnLedger;
    /** The user's text of each accepted turn, before it goes to its agent (privacy: logged only). */
    onIncoming?: (text: string, agent: RosterAgent) => void;
    /** Where each turn's events go through (the privacy guard); default: straight to `sink`. */
    outlet?: OpenOutlet;
    /** The local inspector's hooks (observe/observer.ts); default none. */
    observer?: HubObserver;
  }) {
    const sink = options.sink;
    this.#open =
      options.outlet ??
      ((turn) => ({
        publish: (events) => {
          sink.publish(turn.roomId, events);
          return null;
        },
      }));
    this.#onTurnEnd = options.onTurnEnd ?? (() => {});
    this.#onIncoming = options.onIncoming ?? (() => {});
    this.#observer = options.observer ?? NULL_OBSERVER;
    this.#roster = options.roster;
    this.#sink = options.sink;
    this.#logger = options.logger;
    this.#settings = withDefaults(DEFAULT_HUB_SETTINGS, options.settings);
    this.#accepted =
      options.acceptedTurns ?? new AcceptedTurns(this.#settings.acceptedTurnsCapacity);
  }

  /** Turns accepted and not yet ended (running or queued). */
  get activeTurns(): number {
    return this.#turns.size;
  }

  countsFor(localAgentId: string): AgentTurnCounts {
    let counts = this.#counts.get(localAgentId);
    if (!counts) {
      counts = { running: 0, queued: 0, completed: 0, failed: 0, inputRequired: 0 };
      this.#counts.set(localAgentId, counts);
    }
    return counts;
  }

  /** Routes one command of the relay's stream (parsed at the edge, wire/relay-command.ts). Never throws. */
  handleCommand(classified: ParsedRelayCommand): void {
    switch (classified.kind) {
      case "connection_ready":
      case "heartbeat":
        return; // the relay link handles both
      case "user_message":
      case "user_reply":
        this.#acceptTurn(classified.command);
        return;
      case "cancel_task":
        this.#cancel(classified.command);
        return;
      case "invalid": {
        this.#logger.warn(
          { type: classified.type, agentMessageId: classified.agentMessageId },
          `relay sent an invalid ${classified.type}: ${classified.reason}`,
        );
        if (classified.roomId && classified.agentMessageId) {
          this.#publishFailure(
            { roomId: classified.roomId, localAgentId: null, agentName: null },
            {
              agentMessageId: classified.agentMessageId,
              userMessageId: classified.userMessageId,
              hubTaskId: newHubTaskId(),
              runId: classified.runId,
            },
            "InvalidEvent",
            `Invalid ${classified.type} event: ${classified.reason}`,
          );
        }
        return;
      }
      case "unknown":
        this.#logger.debug({ type: classified.type }, "ignoring unknown relay command type");
        return;
    }
  }

  #acceptTurn(command: UserMessageCommand | UserReplyCommand): void {
    const { room_id: roomId, agent_message_id: agentMessageId, local_agent_id: agentId } = command;
    const userMessageId = command.type === "user_reply" ? null : (command.user_message_id ?? null);
    // A user_message's task_id is the relay's placeholder (relay-pending-…), never the agent's.
    const knownTaskId =
      command.type === "user_reply" && command.task_id
        ? this.#agentTaskIdOf(command.task_id)
        : null;
    const hubTaskId = newHubTaskId();
    const runId = command.type === "user_message" ? (command.run_id ?? null) : null;
    const accepted = this.#accepted.accept({
      agentMessageId,
      roomId,
      localAgentId: agentId,
      userMessageId,
      agentTaskId: knownTaskId,
      hubTaskId,
      runId,
    });
    if (!accepted) {
      this.#logger.info(
        { agentMessageId },
        "duplicate turn from the relay ignored (already accepted)",
      );
      return;
    }
    const ids = { agentMessageId, userMessageId, hubTaskId, runId };
    const agent = this.#roster.get(agentId);
    const reject = (errorType: string, message: string) => {
      const who = { roomId, localAgentId: agentId, agentName: agent?.name ?? null };
      this.#publishFailure(who, ids, errorType, message);
    };
    if (!this.#accepting) {
      reject("HubShutdown", "The hub is shutting down; send the message again in a moment.");
      return;
    }
    if (!agent) {
      this.#logger.warn({ agentMessageId, localAgentId: agentId }, "turn for an unknown agent");
      reject("AgentNotFound", `Agent ${agentId} is no longer available on this hub.`);
      return;
    }
    const slots = this.#slotsFor(agent);
    const maxQueued = agent.maxQueued ?? this.#settings.maxQueuedTurnsPerAgent;
    if (slots.busy && slots.waiting >= maxQueued) {
      this.#refuseBusy(agent, agentMessageId, maxQueued);
      reject(
        "AgentBusy",
        `${agent.name} is busy: ${slots.running} turns are running on it and ${slots.waiting} more are waiting (the most its queue holds); send the message again in a moment.`,
      );
      return;
    }
    const message =
      command.type === "user_reply"
        ? replyMessage(command, knownTaskId)
        : withAgentTaskIds(command.message, (taskId) => this.#agentTaskIdOf(taskId));
    try {
      const parts = message["parts"];
      this.#onIncoming(textOfParts(Array.isArray(parts) ? parts : []), agent);
    } catch (error) {
      this.#logger.error({ err: error, agentMessageId }, "could not classify the incoming message");
    }
    const turn: RunningTurn = {
      agentMessageId,
      roomId,
      localAgentId: agentId,
      userMessageId,
      hubTaskId,
      runId,
      controller: new AbortController(),
      taskId: knownTaskId,
      started: false,
      done: Promise.resolve(),
    };
    this.#turns.set(agentMessageId, turn);
    turn.done = this.#runQueued(turn, agent, message).finally(() => {
      this.#turns.delete(agentMessageId);
    });
  }

  async #runQueued(turn: RunningTurn, agent: RosterAgent, message: Record<string, unknown>) {
    const acceptedAt = performance.now();
    const report = (outcome: TurnEndReport["outcome"]) =>
      this.#onTurnEnd({
        localAgentId: agent.localAgentId,
        agentName: agent.name,
        outcome,
        durationMs: performance.now() - acceptedAt,
      });
    const counts = this.countsFor(agent.localAgentId);
    const slots = this.#slotsFor(agent);
    counts.queued++;
    let release: () => void;
    try {
      release = await slots.acquire(turn.controller.signal);
    } catch (reason) {
      counts.queued--;
      counts.failed++;
      const abort = reason instanceof TurnAbort ? reason : new TurnAbort("shutdown");
      const [errorType, text] =
        abort.kind === "cancel"
          ? ["Canceled", "The turn was canceled before it started."]
          : ["HubShutdown", "The hub shut down before this turn could start."];
      const who = { roomId: turn.roomId, localAgentId: agent.localAgentId, agentName: agent.name };
      this.#publishFailure(who, turn, errorType, text);
      report("failed");
      return;
    }
    counts.queued--;
    counts.running++;
    turn.started = true;
    this.#endBusySpell(agent, slots);
    // Recorded before the events that carry it are queued: a restart can then ask the agent.
    const learnTaskId = (taskId: string | null) => {
      if (turn.taskId || !taskId) return;
      turn.taskId = taskId;
      this.#accepted.noteTaskId(turn.agentMessageId, taskId);
    };
    const outlet = this.#open({
      roomId: turn.roomId,
      agentMessageId: turn.agentMessageId,
      localAgentId: agent.localAgentId,
      agentName: agent.name,
    });
    let outcome: TurnOutcome | undefined;
    try {
      outcome = await runTurn(
        {
          agentMessageId: turn.agentMessageId,
          localAgentId: agent.localAgentId,
          agentName: agent.name,
          userMessageId: turn.userMessageId,
          hubTaskId: turn.hubTaskId,
          runId: turn.runId,
          message,
          streaming: agent.streaming,
        },
        this.#observer.turnClient(
          {
            agentMessageId: turn.agentMessageId,
            localAgentId: agent.localAgentId,
            agentName: agent.name,
          },
          agent.client,
        ),
        (events) => outlet.publish(events)?.message ?? null,
        {
          signal: turn.controller.signal,
          onTaskId: learnTaskId,
          ...this.#sizing(turn.roomId),
          settings: {
            ...this.#settings.turn,
            turnDeadlineMs: agent.timeoutMs ?? this.#settings.turnDeadlineMs,
          },
          logger: this.#logger.child({ agent: agent.name, agentMessageId: turn.agentMessageId }),
        },
      );
    } finally {
      counts.running--;
      release();
    }
    if (outcome.status === "completed") counts.completed++;
    else if (outcome.status === "input_required") counts.inputRequired++;
    else counts.failed++;
    report(outcome.status);
    if (outcome.agentUnreachable) this.#roster.reportUnreachable(agent.localAgentId);
  }

  /**
   * A failure group the hub makes itself (no agent ran), through the turn's outlet; when the
   * policy stops it (a custom rule on the hub's own words), the PolicyBlocked failure instead.
   */
  #publishFailure(
    who: Omit<GuardedTurn, "agentMessageId">,
    ids: TurnIds,
    errorType: string,
    message: string,
  ): void {
    const outlet = this.#open({ ...who, agentMessageId: ids.agentMessageId });
    const blocked = outlet.publish(failureGroup(ids, errorType, message));
    if (blocked) outlet.publish(failureGroup(ids, POLICY_BLOCKED, blocked.message));
  }

  /** Counts a turn refused for a full queue; logs the first of each busy spell of the agent. */
  #refuseBusy(agent: RosterAgent, agentMessageId: string, maxQueued: number): void {
    const counts = this.countsFor(agent.localAgentId);
    counts.failed++;
    const spell = this.#busySpells.get(agent.localAgentId) ?? 0;
    this.#busySpells.set(agent.localAgentId, spell + 1);
    if (spell > 0) return;
    this.#logger.warn(
      { agentMessageId, localAgentId: agent.localAgentId, maxQueued },
      `${agent.name} has ${maxQueued} turns waiting (maxQueued): further turns are answered AgentBusy at once until its queue drains (refusals are counted, not logged)`,
    );
  }

  #endBusySpell(agent: RosterAgent, slots: AgentSlots): void {
    const refused = this.#busySpells.get(agent.localAgentId);
    if (refused === undefined || slots.waiting > 0) return;
    this.#busySpells.delete(agent.localAgentId);
    this.#logger.info(
      { localAgentId: agent.localAgentId, refused },
      `${agent.name}'s queue has room again; ${refused} turns were answered AgentBusy meanwhile`,
    );
  }

  /** The sink's size limit and backpressure for one room's turn, when it has them. */
  #sizing(roomId: string): Pick<TurnOptions, "maxEventBytes" | "roomBackpressure"> {
    const sink = this.#sink;
    const sizing: Pick<TurnOptions, "maxEventBytes" | "roomBackpressure"> = {};
    if (sink.maxEventBytes) sizing.maxEventBytes = () => sink.maxEventBytes!();
    if (sink.backpressure) sizing.roomBackpressure = () => sink.backpressure!(roomId);
    return sizing;
  }

  #slotsFor(agent: RosterAgent): AgentSlots {
    let slots = this.#slots.get(agent.localAgentId);
    if (!slots) {
      slots = new AgentSlots(agent.maxConcurrency);
      this.#slots.set(agent.localAgentId, slots);
    } else {
      slots.setLimit(agent.maxConcurrency);
    }
    return slots;
  }

  /**
   * The agent's task id a relay command means by `taskId`: the relay's placeholders name none;
   * a turn's hub task id (what its early events carried) means that turn's agent task, if known;
   * anything else is taken as the agent's own task id.
   */
  #agentTaskIdOf(taskId: string): string | null {
    if (isPlaceholderTaskId(taskId)) return null;
    const turn = this.#accepted.findByTaskId(taskId);
    if (turn && turn.hubTaskId === taskId) return turn.agentTaskId ?? null;
    return taskId;
  }

  #cancel(command: CancelTaskCommand): void {
    const byMessage = command.agent_message_id
      ? this.#turns.get(command.agent_message_id)
      : undefined;
    const named = command.task_id;
    const turn =
      byMessage ??
      [...this.#turns.values()].find(
        (t) =>
          t.localAgentId === command.local_agent_id &&
          named !== "" &&
          (t.taskId === named || t.hubTaskId === named),
      );
    if (turn) {
      this.#logger.info(
        { agentMessageId: turn.agentMessageId },
        "cancelling turn at the relay's request",
      );
      turn.controller.abort(new TurnAbort("cancel", "canceled at the relay's request"));
      return;
    }
    // No running turn: the task may still live on the agent (e.g. waiting for input). Only the
    // agent's own task id goes to the agent, never the relay's placeholder or the hub's id.
    const agent = this.#roster.get(command.local_agent_id);
    const ended = command.agent_message_id ? this.#accepted.find(command.agent_message_id) : null;
    const taskId = ended?.agentTaskId ?? (named ? this.#agentTaskIdOf(named) : null);
    if (!agent || !taskId) {
      this.#logger.info(
        { localAgentId: command.local_agent_id, taskId: named },
        "cancel_task names no running turn and no agent task; nothing to cancel",
      );
      return;
    }
    agent.client
      .cancelTask(taskId, { signal: AbortSignal.timeout(10_000) })
      .catch((error: unknown) =>
        this.#logger.info(
          { taskId, err: String(error) },
          "agent did not cancel the task (it may have ended already)",
        ),
      );
  }

  /**
   * Stops taking turns, lets running ones finish within the grace period, then cancels the
   * rest (each still publishes its terminal group once the agent confirms, or its cancel times
   * out). Resolves when every turn has ended, or `settleMs` after the grace ended, whichever
   * comes first; `graceEnded` is when the grace ended (or every turn did, if sooner).
   */
  async drain(
    graceMs = this.#settings.shutdownGraceMs,
    settleMs = Number.POSITIVE_INFINITY,
  ): Promise<{ cancelled: number; graceEnded: number; unsettled: number }> {
    this.#accepting = false;
    const all = () => Promise.allSettled([...this.#turns.values()].map((t) => t.done));
    const first = await within(all(), graceMs);
    const graceEnded = performance.now();
    let cancelled = 0;
    if (!first) {
      for (const turn of this.#turns.values()) {
        cancelled++;
        turn.controller.abort(new TurnAbort("shutdown", "the hub is shutting down"));
      }
      await within(all(), settleMs);
    }
    return { cancelled, graceEnded, unsettled: this.#turns.size };
  }
}

/** True when `promise` settled within `ms`, false when the time ran out first. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (!Number.isFinite(ms)) {
    await promise;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
