// Every timer, limit and default of the registry (roster, health, discovery) in one place.

import type { DiscoveryRoundSettings } from "./discovery.ts";
import type { HttpTransportSettings } from "./transports/http.ts";
import type { StdioSettings } from "./transports/stdio.ts";
import type { WsSettings } from "./transports/ws.ts";
import { DEFAULT_AGENTS_FILE_WATCHER_SETTINGS } from "./watch.ts";

/** The discovery fields (ports, scan, rounds) are declared with discovery. */
export interface RegistrySettings extends DiscoveryRoundSettings {
  /** Card re-fetch of every agent in the roster. */
  healthCheckIntervalMs: number;
  /** Card fetches at once during a health round or a (re)load. */
  healthCheckConcurrency: number;
  /** Consecutive failed checks after which an agent leaves the roster (the cloud prunes it). */
  unhealthyRemoveAfter: number;
  /** How often configured agents outside the roster (never reached, or removed) are tried again. */
  reprobeIntervalMs: number;
  /** After a turn found the agent unreachable: quick re-checks at this interval until it answers or leaves. */
  unreachableRecheckMs: number;
  /**
   * Deadline of one whole probe of an http agent (every card path tried); each request of it is
   * also bounded by the transport's `http.cardRequestTimeoutMs`.
   */
  httpProbeTimeoutMs: number;
  /** A removed or replaced agent's transport is closed this long after (its turns may still run). */
  removeGraceMs: number;
  /** Quiet time after an agents.json edit before it is applied. */
  debounceMs: number;
  /**
   * Deadline of one probe of a stdio/ws agent (spawn or connect, then `agent/getCard`, itself
   * bounded by the transport's `cardRequestTimeoutMs`).
   */
  localProbeTimeoutMs: number;
  /** Passed to the transports made by the default factory. */
  http: Partial<HttpTransportSettings>;
  stdio: Partial<StdioSettings>;
  ws: Partial<WsSettings>;
}

export const DEFAULT_REGISTRY_SETTINGS: RegistrySettings = {
  healthCheckIntervalMs: 60_000,
  healthCheckConcurrency: 8,
  unhealthyRemoveAfter: 3,
  reprobeIntervalMs: 30_000,
  unreachableRecheckMs: 2_000,
  httpProbeTimeoutMs: 5_000,
  removeGraceMs: 30_000,
  debounceMs: DEFAULT_AGENTS_FILE_WATCHER_SETTINGS.debounceMs,
  discoveryIntervalMs: 120_000,
  discoveryConcurrency: 30,
  discoveryProbeTimeoutMs: 3_000,
  excludePorts: [],
  portScanConcurrency: 128,
  portScanTimeoutMs: 200,
  lsofTimeoutMs: 5_000,
  localProbeTimeoutMs: 20_000,
  http: {},
  stdio: {},
  ws: {},
};
