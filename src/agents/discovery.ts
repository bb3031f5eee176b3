// Optional port-probing discovery (`"autoDiscover": true`, off by default): which loopback ports
// may be asked for an agent card, and the rounds that ask them. Never ports of well-known
// services, of the hub itself or of any configured entry (enabled or not: a disabled agent must
// not come back by discovery). An agent found joins the roster as a discovered agent.

import type { CardInfo } from "../a2a/card.ts";
import type { Logger } from "../log/logger.ts";
import { localAgentIdForUrl } from "../wire/agent-id.ts";
import { forEachBounded } from "./bounded.ts";
import {
  type AgentsConfig,
  DEFAULT_MAX_CONCURRENCY,
  entryPort,
  type HttpAgentEntry,
} from "./config.ts";
import { type ListeningPort, listListeningPorts } from "./listening-ports.ts";
import { errorText, type TrackedAgent } from "./tracked-agent.ts";

/** ssh, dns, http, https, mysql, postgres, redis, mongodb: never probed. */
export const DEFAULT_EXCLUDED_PORTS: readonly number[] = [22, 53, 80, 443, 3306, 5432, 6379, 27017];

interface DiscoverySettings {
  /** The hub's own listening ports (metrics, control), never probed. */
  excludePorts: readonly number[];
  /** Connect-scan fallback (no /proc, no lsof): sockets at once and per-port timeout. */
  portScanConcurrency: number;
  portScanTimeoutMs: number;
  lsofTimeoutMs: number;
}

export interface DiscoveryRoundSettings extends DiscoverySettings {
  /** A discovery round this often while `autoDiscover` is on. */
  discoveryIntervalMs: number;
  /** Card probes at once in one round. */
  discoveryConcurrency: number;
  /** Deadline of one card probe of a listening port. */
  discoveryProbeTimeoutMs: number;
}

/** Every port discovery must leave alone for this config. */
export function excludedPorts(config: AgentsConfig, settings: DiscoverySettings): Set<number> {
  const out = new Set<number>([
    ...DEFAULT_EXCLUDED_PORTS,
    ...settings.excludePorts,
    ...config.autoDiscoverExcludePorts,
  ]);
  for (const entry of config.agents) {
    const port = entryPort(entry);
    if (port !== null) out.add(port);
  }
  return out;
}

/** The base URL discovery probes for a listening port (the address it listens on). */
export function discoveryUrl(listening: ListeningPort): string {
  const host = listening.host.includes(":") ? `[${listening.host}]` : listening.host;
  return `http://${host}:${listening.port}`;
}

/** Listening loopback ports worth probing for an agent card, sorted. */
export async function discoveryCandidates(
  config: AgentsConfig,
  settings: DiscoverySettings,
  signal?: AbortSignal,
): Promise<{ candidates: ListeningPort[]; method: string }> {
  const { ports, method } = await listListeningPorts({
    ranges: config.autoDiscoverPorts,
    scanConcurrency: settings.portScanConcurrency,
    scanTimeoutMs: settings.portScanTimeoutMs,
    lsofTimeoutMs: settings.lsofTimeoutMs,
    ...(signal ? { signal } : {}),
  });
  const excluded = excludedPorts(config, settings);
  return { candidates: ports.filter((p) => !excluded.has(p.port)), method };
}

/** What discovery asks of the registry. */
interface DiscoveryHost {
  readonly settings: DiscoveryRoundSettings;
  readonly logger: Logger;
  /** Aborted when the registry closes. */
  readonly signal: AbortSignal;
  /** agents.json as of now. */
  config(): AgentsConfig;
  /** An agent (configured or discovered) is tracked under this id. */
  tracks(localAgentId: string): boolean;
  /** A tracked agent for a discovered entry, not yet in the registry. */
  newAgent(entry: HttpAgentEntry, order: number): TrackedAgent;
  /** Into the registry and the roster. */
  add(agent: TrackedAgent, card: CardInfo): void;
}

/** Discovery rounds: one now when it is turned on, then every `discoveryIntervalMs`. */
export class AgentDiscovery {
  readonly #host: DiscoveryHost;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  /** Discovered agents follow the configured ones in the roster, in the order found. */
  #foundSeq = 0;

  constructor(host: DiscoveryHost) {
    this.#host = host;
  }

  /** The round under way, if any. */
  get running(): Promise<void> | null {
    return this.#running;
  }

  /** The roster diff's verdict on discovery (the registry drops discovered agents on `stop`). */
  apply(verdict: "start" | "stop" | "keep"): void {
    if (verdict === "stop") {
      this.stop();
      return;
    }
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.round(), this.#host.settings.discoveryIntervalMs);
      this.#timer.unref();
    }
    if (verdict === "start") void this.round();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One round at a time; a caller during a round shares it. */
  round(): Promise<void> {
    this.#running ??= this.#discover().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #discover(): Promise<void> {
    const host = this.#host;
    const config = host.config();
    if (host.signal.aborted || !config.autoDiscover) return;
    let candidates: ListeningPort[];
    let method: string;
    try {
      ({ candidates, method } = await discoveryCandidates(config, host.settings, host.signal));
    } catch (error) {
      host.logger.warn({ err: errorText(error) }, "listing local ports for discovery failed");
      return;
    }
    const fresh = candidates.filter((c) => !host.tracks(localAgentIdForUrl(discoveryUrl(c))));
    host.logger.debug(
      { method, listening: candidates.length, probing: fresh.length },
      "discovery: probing listening loopback ports for agent cards",
    );
    await forEachBounded(fresh, host.settings.discoveryConcurrency, async (listening) => {
      const url = discoveryUrl(listening);
      const entry: HttpAgentEntry = {
        kind: "http",
        name: `Agent@${url}`,
        localAgentId: localAgentIdForUrl(url),
        url,
        headers: {},
        maxConcurrency: DEFAULT_MAX_CONCURRENCY,
        enabled: true,
      };
      if (host.tracks(entry.localAgentId) || host.signal.aborted) return;
      const agent = host.newAgent(entry, 1_000_000 + this.#foundSeq++);
      const outcome = await agent.probe(host.settings.discoveryProbeTimeoutMs);
      if (
        !outcome.ok ||
        host.signal.aborted ||
        host.tracks(agent.id) ||
        !host.config().autoDiscover
      ) {
        const transport = agent.transport;
        if (transport) void transport.close().catch(() => {});
        return;
      }
      entry.name = outcome.card.name;
      host.add(agent, outcome.card);
    });
  }
}
