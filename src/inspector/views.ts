// The agents and relay views: read fresh from what the running hub already reports (the
// snapshot `hybro-hub status` shows, the relay link's state, the roster as synced), plus the
// recorder's link history. Pure given its sources.
import type { Registry } from "../agents/registry.ts";
import type { HubSnapshot } from "../hub/snapshot.ts";
import type { OutboundPrivacy } from "../privacy/outbound.ts";
import type { RelayLink, RelayLinkState } from "../relay/relay-link.ts";
import type { SyncAgent } from "../wire/relay.ts";
import type { Disconnect, LinkHistory } from "./link-history.ts";

/** The running hub (a HubDaemon) as the inspector sees it: the parts it reads. */
export interface InspectedHub {
  snapshot(): HubSnapshot;
  readonly link: RelayLink;
  readonly registry: Registry;
  readonly privacy: Pick<OutboundPrivacy, "policyOf">;
}

/** What the views read from the running hub. */
export interface InspectorSources {
  snapshot(): HubSnapshot;
  relayState(): RelayLinkState;
  /** The roster as sent to `agents/sync` (each card as the relay gets it). */
  syncPayload(): SyncAgent[];
  /** The agent's concurrency limit, or null when it is not in the roster. */
  limitOf(localAgentId: string): number | null;
}

export function sourcesOf(daemon: InspectedHub): InspectorSources {
  return {
    snapshot: () => daemon.snapshot(),
    relayState: () => daemon.link.state(),
    syncPayload: () => daemon.registry.syncPayload(),
    limitOf: (id) => daemon.registry.get(id)?.maxConcurrency ?? null,
  };
}

interface AgentView {
  localAgentId: string;
  name: string;
  transport: string;
  healthy: boolean;
  lastError: string | null;
  /** Turns running on it now, and how many may run at once. */
  inUse: number;
  limit: number | null;
  /** Turns waiting for a slot. */
  queued: number;
  completed: number;
  failed: number;
  inputRequired: number;
  /** Whether the relay kept it at the last sync, and why not. */
  keptByRelay: boolean;
  notKeptReason: string | null;
  /** The card as synced to the relay. */
  card: Record<string, unknown> | null;
}

export function agentsView(sources: InspectorSources): AgentView[] {
  const cards = new Map(sources.syncPayload().map((agent) => [agent.local_agent_id, agent]));
  return sources.snapshot().agents.map((agent) => ({
    localAgentId: agent.localAgentId,
    name: agent.name,
    transport: agent.kind,
    healthy: agent.healthy,
    lastError: agent.lastError,
    inUse: agent.turns.running,
    limit: sources.limitOf(agent.localAgentId),
    queued: agent.turns.queued,
    completed: agent.turns.completed,
    failed: agent.turns.failed,
    inputRequired: agent.turns.inputRequired,
    keptByRelay: agent.notKeptByRelay === null,
    notKeptReason: agent.notKeptByRelay,
    card: cards.get(agent.localAgentId)?.agent_card ?? null,
  }));
}

interface RelayView {
  gatewayUrl: string;
  hubId: string;
  connection: string;
  connectedSince: number | null;
  reconnects: number;
  disconnects: Disconnect[];
  lastError: string | null;
  problem: HubSnapshot["relay"]["problem"];
  registered: boolean;
  ready: boolean;
  lastSyncAt: number | null;
  agentsSynced: number;
  heartbeatFailures: number;
  outbox: {
    depth: number;
    durable: boolean;
    dropped: number;
    failure: string | null;
    /** When the oldest unacknowledged event of this run was queued. */
    oldestQueuedAt: number | null;
  };
  publish: RelayLinkState["publish"] & { postsPerS: number };
}

export function relayView(sources: InspectorSources, history: LinkHistory): RelayView {
  const snapshot = sources.snapshot();
  const state = sources.relayState();
  const seen = history.view(snapshot.outboxDepth);
  return {
    gatewayUrl: snapshot.gatewayUrl,
    hubId: snapshot.hubId,
    connection: snapshot.relay.connection,
    connectedSince: snapshot.relay.connection === "open" ? seen.connectedSince : null,
    reconnects: snapshot.relay.reconnects,
    disconnects: seen.disconnects,
    lastError: snapshot.relay.lastError,
    problem: snapshot.relay.problem ?? null,
    registered: state.registered,
    ready: state.ready,
    lastSyncAt: state.lastSyncAt,
    agentsSynced: state.agentsSynced,
    heartbeatFailures: state.heartbeatFailures,
    outbox: {
      depth: snapshot.outboxDepth,
      durable: snapshot.outbox.durable,
      dropped: snapshot.outbox.dropped,
      failure: snapshot.outbox.failure,
      oldestQueuedAt: seen.oldestQueuedAt,
    },
    publish: { ...state.publish, postsPerS: seen.postsPerS },
  };
}
