// The seam between the hub and the local inspector: what the hub's parts tell an observer while
// they work. The hub depends on this file only (types and the null observer), never on the
// recorder or the server, so the inspector costs one no-op call per hook when it is off.
//
// Who calls what, and where (keep these when the code moves):
//   command(raw)          HubDaemon, in the relay link's command callback, before Hub routes it
//   turnClient(turn, c)   Hub, when a turn has its agent slot, right before runTurn; the turn
//                         runs on the client it returns (the recorder wraps it to see the A2A
//                         events as they arrive); the null observer returns `c` itself
//   queued(room, events)  Publisher.publish, with the events as stamped (response_seq set)
//   acked(room, events)   Publisher, when a POST of these events was acknowledged
//   failed(room, events, reason, retry)
//                         Publisher, when a POST failed: retried later (or split) or dropped
//   guarded(id, report)   the privacy guard's caller, for each guard.inspect()/flush() of a turn,
//                         before the published events it returns are queued (NOT CALLED YET: the
//                         guard is not wired into the publish path; see src/privacy/index.ts)
import type { A2AClient } from "../a2a/client.ts";
import type { Detection, PolicyBlock } from "../privacy/turn-guard.ts";
import type { PublishedEvent, RelayCommand } from "../wire/relay.ts";

/** What a turn needs of an agent's A2A client (turn.ts runs on exactly these calls). */
export type AgentCalls = Pick<A2AClient, "send" | "stream" | "getTask" | "cancelTask">;

/** The turn a client is wrapped for. */
export interface ObservedTurn {
  agentMessageId: string;
  localAgentId: string;
  agentName: string;
}

/**
 * One guard step, as the privacy guard returns it (its GuardStep fits): kinds, actions and
 * counts, never values.
 */
export interface GuardReport {
  /** The events the step lets out, in order (what is queued right after this call). */
  publish: ReadonlyArray<{ event: { readonly type: string }; detections: readonly Detection[] }>;
  /** Events kept back because the turn is blocked. */
  withheld: ReadonlyArray<{ type: string; detections: readonly Detection[] }>;
  blocked: PolicyBlock | null;
}

export interface HubObserver {
  command(command: RelayCommand): void;
  turnClient(turn: ObservedTurn, client: AgentCalls): AgentCalls;
  queued(roomId: string, events: readonly PublishedEvent[]): void;
  acked(roomId: string, events: readonly PublishedEvent[]): void;
  failed(roomId: string, events: readonly PublishedEvent[], reason: string, retry: boolean): void;
  guarded(agentMessageId: string, report: GuardReport): void;
}

/** The inspector is off: every hook does nothing, and turns run on the agent's own client. */
export const NULL_OBSERVER: HubObserver = {
  command: () => {},
  turnClient: (_turn, client) => client,
  queued: () => {},
  acked: () => {},
  failed: () => {},
  guarded: () => {},
};
