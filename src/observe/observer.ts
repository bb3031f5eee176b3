// The seam between the hub and the local inspector: what the hub's parts tell an observer while
// they work. The hub depends on this file only (types and the null observer), never on the
// recorder or the server, so the inspector costs one no-op call per hook when it is off.
//
// Who calls what, and where (keep these when the code moves):
//   command(raw)          HubDaemon, in the relay link's command callback, before Hub routes it
//   turnClient(turn, c)   Hub, when a turn has its agent slot, right before runTurn; the turn
//                         runs on the client it returns (the recorder wraps it to see the A2A
//                         events as they arrived); the null observer returns `c` itself
//   queued(room, pieces)  Publisher.publish, once per call: for each event given to publish, in
//                         order, what it became (stamped, response_seq set; several pieces when
//                         it was too large for one POST)
//   cut(room, e, pieces)  Publisher, when an event already queued is cut into pieces before it
//                         leaves (the relay refused it as too large, or the limit went down)
//   acked(room, events)   Publisher, when a POST of these events was acknowledged
//   failed(room, events, reason, retry)
//                         Publisher, when a POST failed: retried later (or split) or dropped
//   guarded(id, report)   The privacy guard (privacy/outbound.ts, through HubDaemon's onStep),
//                         for each publish call of turn `id` (its GuardSteps fit GuardReport as
//                         they are), right BEFORE the step's `publish` events are queued. The
//                         recorder pairs the i-th reported event with the i-th event queued next
//                         for that turn (same type, else it attaches none), so each published event
//                         in the timeline shows its own detections. Only kinds, rules, actions and
//                         counts cross this seam, never a matched value.
import type { A2AClient } from "../a2a/client.ts";
import type { PublishedEvent, RelayCommand } from "../wire/relay.ts";

/** What a turn needs of an agent's A2A client (turn.ts runs on exactly these calls). */
export type AgentCalls = Pick<A2AClient, "send" | "stream" | "getTask" | "cancelTask">;

/** The turn a client is wrapped for. */
export interface ObservedTurn {
  agentMessageId: string;
  localAgentId: string;
  agentName: string;
}

/** What the privacy guard found and did in one event: never the value it matched. */
export interface GuardDetection {
  /** What was found (`api_key`, `email`, `custom`, …). */
  kind: string;
  /** The detector rule, or the custom rule's name. */
  rule: string;
  /** What the guard did (`log`, `redact`, `block`). */
  action: string;
  /** How many times in this event. */
  count: number;
}

/** The guard ended the turn (its PolicyBlock fits): the message names the rule, not the value. */
interface GuardBlock {
  kind: string;
  rule: string;
  message: string;
}

/**
 * One guard step of a turn (privacy/turn-guard.ts GuardStep fits as it is), per event: kinds,
 * rules, actions and counts, never values.
 */
export interface GuardReport {
  /** The events the step lets out, in order: what the caller publishes right after this call. */
  publish: ReadonlyArray<{
    event: { readonly type: string };
    detections: readonly GuardDetection[];
  }>;
  /** Events kept back because the turn is blocked. */
  withheld: ReadonlyArray<{ type: string; detections: readonly GuardDetection[] }>;
  blocked: GuardBlock | null;
}

export interface HubObserver {
  command(command: RelayCommand): void;
  turnClient(turn: ObservedTurn, client: AgentCalls): AgentCalls;
  queued(roomId: string, pieces: ReadonlyArray<readonly PublishedEvent[]>): void;
  cut(roomId: string, event: PublishedEvent, pieces: readonly PublishedEvent[]): void;
  acked(roomId: string, events: readonly PublishedEvent[]): void;
  failed(roomId: string, events: readonly PublishedEvent[], reason: string, retry: boolean): void;
  guarded(agentMessageId: string, report: GuardReport): void;
}

/** The inspector is off: every hook does nothing, and turns run on the agent's own client. */
export const NULL_OBSERVER: HubObserver = {
  command: () => {},
  turnClient: (_turn, client) => client,
  queued: () => {},
  cut: () => {},
  acked: () => {},
  failed: () => {},
  guarded: () => {},
};
