// What `hybro-hub status` shows about the running hub (the HubDaemon's snapshot), declared here
// so the parts that read it (control protocol, metrics, inspector) need not import the daemon.
import type { AgentTurnCounts } from "./hub.ts";

/** What `hybro-hub status` shows about the hub itself (JSON-safe; never the key). */
export interface HubSnapshot {
  hubId: string;
  gatewayUrl: string;
  agentsFile: string;
  startedAt: string;
  uptimeMs: number;
  relay: {
    connection: string;
    lastEventId: string | null;
    reconnects: number;
    lastError: string | null;
    /**
     * A setup problem on the command stream (the relay refuses the hub, another hub uses its
     * id). Optional: a daemon of an earlier version does not send it.
     */
    problem?: {
      kind: string;
      message: string;
      since: string;
      sessions: number;
    } | null;
  };
  /** Events accepted for publishing and not yet acknowledged by the relay. */
  outboxDepth: number;
  /** Where the outbox lives (null: memory only), and events it had to drop since start. */
  outbox: { durable: boolean; file: string | null; dropped: number; failure: string | null };
  activeTurns: number;
  agents: Array<{
    localAgentId: string;
    name: string;
    kind: string;
    healthy: boolean;
    lastError: string | null;
    /** Why the relay did not keep it at the last sync (so nobody can reach it), or null. */
    notKeptByRelay: string | null;
    turns: AgentTurnCounts;
    /** The agent's privacy policy in one line (optional: earlier daemons do not send it). */
    privacy?: string;
  }>;
  /** The audit record's file, null when off (optional: earlier daemons do not send it). */
  privacyAudit?: string | null;
}
