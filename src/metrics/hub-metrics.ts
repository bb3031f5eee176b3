// Prometheus metrics of one hub, in their own registry (never prom-client's global one, so two
// hubs in one process and the tests do not collide). Most values are read from the hub when
// scraped; the turn duration histogram is fed by the daemon's `turnEnd` event.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { TurnEndReport as TurnEnd } from "../hub/hub.ts";
import type { HubSnapshot } from "../hub/snapshot.ts";
import type { PrivacyCounts } from "../privacy/outbound.ts";

/** What the metrics read from a running hub (HubDaemon satisfies it). */
export interface MetricsSource {
  snapshot(): HubSnapshot;
  on(event: "turnEnd", listener: (end: TurnEnd) => void): unknown;
  off(event: "turnEnd", listener: (end: TurnEnd) => void): unknown;
  /** The relay link's publishing counters. */
  publishStats: () => PublishCounters;
  /** What the privacy guard found and did (absent: no privacy metrics). */
  privacyStats?: () => PrivacyCounts;
}

export interface PublishCounters {
  /** POSTs the relay acknowledged. */
  batches: number;
  eventsSent: number;
  retries: number;
  /** Events given up on (permanent 4xx, or the queue's bound). */
  dropped: number;
}

/** The relay link's event stream states (relay/event-stream.ts `StreamConnection`). */
export const RELAY_CONNECTION_STATES = ["connecting", "open", "backoff", "stopped"];

/** Turn duration buckets in seconds: agents answer in milliseconds to many minutes. */
export const TURN_DURATION_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface HubMetrics {
  registry: Registry;
  close(): void;
}

export function createHubMetrics(source: MetricsSource): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "hybro_hub_" });

  new Counter({
    name: "hybro_hub_turns_total",
    help: "Turns that ended, by agent and outcome (completed, failed, input_required).",
    labelNames: ["agent", "local_agent_id", "outcome"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const agent of source.snapshot().agents) {
        const labels = { agent: agent.name, local_agent_id: agent.localAgentId };
        this.inc({ ...labels, outcome: "completed" }, agent.turns.completed);
        this.inc({ ...labels, outcome: "failed" }, agent.turns.failed);
        this.inc({ ...labels, outcome: "input_required" }, agent.turns.inputRequired);
      }
    },
  });
  new Gauge({
    name: "hybro_hub_turns_active",
    help: "Turns running or waiting for a free slot, by agent.",
    labelNames: ["agent", "local_agent_id", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const agent of source.snapshot().agents) {
        const labels = { agent: agent.name, local_agent_id: agent.localAgentId };
        this.set({ ...labels, state: "running" }, agent.turns.running);
        this.set({ ...labels, state: "queued" }, agent.turns.queued);
      }
    },
  });
  const duration = new Histogram({
    name: "hybro_hub_turn_duration_seconds",
    help: "How long turns took from start to their terminal event, by agent and outcome.",
    labelNames: ["agent", "local_agent_id", "outcome"] as const,
    buckets: TURN_DURATION_BUCKETS_S,
    registers: [registry],
  });
  new Gauge({
    name: "hybro_hub_agents",
    help: "Agents in the roster, by health.",
    labelNames: ["health"] as const,
    registers: [registry],
    collect() {
      const agents = source.snapshot().agents;
      const healthy = agents.filter((agent) => agent.healthy).length;
      this.set({ health: "healthy" }, healthy);
      this.set({ health: "unhealthy" }, agents.length - healthy);
    },
  });
  new Gauge({
    name: "hybro_hub_relay_connection_state",
    help: "1 for the relay link's current connection state, 0 for the others.",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      const current = source.snapshot().relay.connection;
      for (const state of new Set([...RELAY_CONNECTION_STATES, current])) {
        this.set({ state }, state === current ? 1 : 0);
      }
    },
  });
  new Counter({
    name: "hybro_hub_relay_reconnects_total",
    help: "Times the relay event stream was reopened after it dropped.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.snapshot().relay.reconnects);
    },
  });
  new Gauge({
    name: "hybro_hub_outbox_depth",
    help: "Events waiting to be acknowledged by the relay.",
    registers: [registry],
    collect() {
      this.set(source.snapshot().outboxDepth);
    },
  });
  const publishCounter = (name: string, help: string, pick: (c: PublishCounters) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(pick(source.publishStats()));
      },
    });
  publishCounter(
    "hybro_hub_publish_batches_total",
    "Publish requests (batches of events) the relay accepted.",
    (c) => c.batches,
  );
  publishCounter(
    "hybro_hub_published_events_total",
    "Events the relay accepted.",
    (c) => c.eventsSent,
  );
  publishCounter(
    "hybro_hub_publish_retries_total",
    "Publish attempts that failed and were retried.",
    (c) => c.retries,
  );
  publishCounter(
    "hybro_hub_publish_dropped_events_total",
    "Events given up on (refused as invalid, or over the queue's bound).",
    (c) => c.dropped,
  );
  new Gauge({
    name: "hybro_hub_uptime_seconds",
    help: "Seconds since the hub started.",
    registers: [registry],
    collect() {
      this.set(source.snapshot().uptimeMs / 1000);
    },
  });

  const privacyStats = source.privacyStats;
  if (privacyStats) {
    new Counter({
      name: "hybro_hub_privacy_detections_total",
      help: "Matches the privacy guard found in published output, by kind and the action taken.",
      labelNames: ["kind", "action"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { kind, action, count } of privacyStats().detections) {
          this.inc({ kind, action }, count);
        }
      },
    });
    new Counter({
      name: "hybro_hub_privacy_blocked_turns_total",
      help: "Turns the privacy guard ended as failed (PolicyBlocked).",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(privacyStats().blockedTurns);
      },
    });
  }

  const onTurnEnd = (end: TurnEnd) => {
    duration.observe(
      { agent: end.agentName, local_agent_id: end.localAgentId, outcome: end.outcome },
      end.durationMs / 1000,
    );
  };
  source.on("turnEnd", onTurnEnd);
  return {
    registry,
    close: () => {
      source.off("turnEnd", onTurnEnd);
      registry.clear();
    },
  };
}
