// What the relay kept of a sync (relay-wire.md section 6): hybro.ai answers with the agents it
// kept and leaves out, without an error, every entry whose card it finds invalid. The hub
// compares the answer with what it sent, shows each agent left out with the reason, and says so
// in the log once per agent and reason (a periodic re-sync does not repeat it). Pure, apart from
// the logger it is handed.
import type { Logger } from "../log/logger.ts";
import type { SyncAgent, SyncResponse } from "../wire/relay.ts";
import { syncEntryProblem } from "../wire/sync-card.ts";

export interface AgentNotKept {
  localAgentId: string;
  name: string;
  /** Why, as far as the hub can tell (the relay gives no reason). */
  reason: string;
}

/** The agents sent but missing from the relay's answer, each with its likely reason. */
function agentsNotKept(sent: readonly SyncAgent[], answer: SyncResponse): AgentNotKept[] {
  const kept = new Set(answer.synced.map((entry) => entry.local_agent_id));
  return sent
    .filter((agent) => !kept.has(agent.local_agent_id))
    .map((agent) => {
      const problem = syncEntryProblem(agent);
      return {
        localAgentId: agent.local_agent_id,
        name: agent.name,
        reason: problem
          ? `the relay left it out of its sync answer: ${problem}`
          : "the relay left it out of its sync answer without saying why (its card passes the checks the hub knows)",
      };
    });
}

/** The agents the relay did not keep at the last sync, logged once per agent and reason. */
export class SyncReceipts {
  readonly #logger: Logger;
  #notKept = new Map<string, AgentNotKept>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Records a sync's answer; logs what changed (an agent left out, or kept again). */
  record(sent: readonly SyncAgent[], answer: SyncResponse): void {
    const now = new Map(agentsNotKept(sent, answer).map((agent) => [agent.localAgentId, agent]));
    for (const [id, agent] of now) {
      if (this.#notKept.get(id)?.reason === agent.reason) continue;
      this.#logger.warn(
        { localAgentId: id, agent: agent.name },
        `agent "${agent.name}" is not available through the relay: ${agent.reason}; fix its card (see \`hybro-hub agents\`)`,
      );
    }
    for (const [id, agent] of this.#notKept) {
      if (now.has(id)) continue;
      const stillSent = sent.some((entry) => entry.local_agent_id === id);
      if (stillSent) {
        this.#logger.info(
          { localAgentId: id, agent: agent.name },
          `agent "${agent.name}" is kept by the relay again`,
        );
      }
    }
    this.#notKept = now;
  }

  /** Agents left out at the last sync. */
  list(): AgentNotKept[] {
    return [...this.#notKept.values()];
  }

  /** Why the relay did not keep this agent at the last sync, or null (kept, or not sent). */
  reasonFor(localAgentId: string): string | null {
    return this.#notKept.get(localAgentId)?.reason ?? null;
  }
}
