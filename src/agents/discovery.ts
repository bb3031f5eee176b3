// Optional port-probing discovery (`"autoDiscover": true`, off by default): which loopback ports
// may be asked for an agent card. Never ports of well-known services, of the hub itself or of
// any configured entry (enabled or not: a disabled agent must not come back by discovery).

import { type AgentsConfig, entryPort } from "./config.ts";
import { type ListeningPort, listListeningPorts } from "./listening-ports.ts";

/** ssh, dns, http, https, mysql, postgres, redis, mongodb: never probed. */
export const DEFAULT_EXCLUDED_PORTS: readonly number[] = [22, 53, 80, 443, 3306, 5432, 6379, 27017];

export interface DiscoverySettings {
  /** The hub's own listening ports (metrics, control), never probed. */
  excludePorts: readonly number[];
  portScanConcurrency: number;
  portScanTimeoutMs: number;
  lsofTimeoutMs: number;
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
