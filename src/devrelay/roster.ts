// Which hubs exist, whose they are, and the agents each one synced. Held in memory (the hot
// path reads it on every hub call) and written through to the store on register and sync.
import { createHash } from "node:crypto";
import type { SyncAgent } from "../wire/relay.ts";
import type { AgentRecord, HubRecord, RelayStore } from "./store.ts";

/** The relay's cloud id of a hub agent: `agt_` + 12 hex of SHA-256(hub_id + local_agent_id). */
export function cloudAgentId(hubId: string, localAgentId: string): string {
  return `agt_${createHash("sha256")
    .update(hubId + localAgentId, "utf8")
    .digest("hex")
    .slice(0, 12)}`;
}

export const HUB_ID_FORMAT = /^[0-9a-f]{32}$/;
export const AGENT_ID_FORMAT = /^agt_[0-9a-f]{12}$/;

interface RegisterOutcome {
  hub: HubRecord;
  created: boolean;
  /** The user the hub belonged to before this register moved it (hybro.ai upserts). */
  movedFrom: string | null;
}

export function toSyncAgent(agent: AgentRecord): SyncAgent {
  return {
    local_agent_id: agent.localAgentId,
    name: agent.name,
    description: agent.description,
    capabilities: [...agent.capabilities],
    agent_card: agent.agentCard,
  };
}

export class Roster {
  private readonly store: RelayStore;
  private readonly hubs = new Map<string, HubRecord>();
  private readonly agents = new Map<string, AgentRecord>();
  private readonly agentsByHub = new Map<string, Set<string>>();

  constructor(store: RelayStore) {
    this.store = store;
    for (const hub of store.listHubs()) this.hubs.set(hub.hubId, hub);
    for (const agent of store.listAgents()) this.remember(agent);
  }

  hub(hubId: string): HubRecord | undefined {
    return this.hubs.get(hubId);
  }

  allHubs(): HubRecord[] {
    return [...this.hubs.values()];
  }

  hubsOf(userId: string): HubRecord[] {
    return this.allHubs().filter((hub) => hub.userId === userId);
  }

  /**
   * Binds a hub id to the key's user, as hybro.ai does: an upsert, so a hub id registered by
   * another user's key moves to this user (the hub id is a secret of its owner).
   */
  register(hubId: string, userId: string, now: string): RegisterOutcome {
    const existing = this.hubs.get(hubId);
    if (existing?.userId === userId) return { hub: existing, created: false, movedFrom: null };
    const hub: HubRecord = { hubId, userId, registeredAt: existing?.registeredAt ?? now };
    this.store.upsertHub(hub);
    this.hubs.set(hubId, hub);
    return { hub, created: existing === undefined, movedFrom: existing?.userId ?? null };
  }

  /** One sync of a hub's whole roster. Returns the synced agents, in the order given. */
  sync(hubId: string, roster: SyncAgent[], pruneMissing: boolean, now: string): AgentRecord[] {
    const synced: AgentRecord[] = roster.map((agent) => ({
      agentId: cloudAgentId(hubId, agent.local_agent_id),
      hubId,
      localAgentId: agent.local_agent_id,
      name: agent.name,
      description: agent.description,
      capabilities: [...agent.capabilities],
      agentCard: agent.agent_card,
      active: true,
      syncedAt: now,
    }));
    const keep = new Set(synced.map((agent) => agent.agentId));
    const prune = pruneMissing
      ? [...(this.agentsByHub.get(hubId) ?? [])].filter(
          (id) => !keep.has(id) && this.agents.get(id)?.active,
        )
      : [];
    this.store.saveSync(hubId, synced, prune);
    for (const agent of synced) this.remember(agent);
    for (const id of prune) {
      const agent = this.agents.get(id);
      if (agent) agent.active = false;
    }
    return synced;
  }

  agent(agentId: string): AgentRecord | undefined {
    return this.agents.get(agentId);
  }

  agentsOfHub(hubId: string): AgentRecord[] {
    const ids = this.agentsByHub.get(hubId);
    if (!ids) return [];
    const out: AgentRecord[] = [];
    for (const id of ids) {
      const agent = this.agents.get(id);
      if (agent) out.push(agent);
    }
    return out;
  }

  /** Active agents of every hub of one user. */
  activeAgentsOf(userId: string): AgentRecord[] {
    const out: AgentRecord[] = [];
    for (const hub of this.hubsOf(userId)) {
      for (const agent of this.agentsOfHub(hub.hubId)) if (agent.active) out.push(agent);
    }
    return out;
  }

  private remember(agent: AgentRecord): void {
    this.agents.set(agent.agentId, agent);
    let ids = this.agentsByHub.get(agent.hubId);
    if (!ids) {
      ids = new Set();
      this.agentsByHub.set(agent.hubId, ids);
    }
    ids.add(agent.agentId);
  }
}
