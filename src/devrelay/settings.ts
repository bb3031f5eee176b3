// Every limit and timer of the development relay, with its unit in the name, so tests and
// benchmarks shorten or widen them instead of waiting.

export interface DevRelaySettings {
  /** Interface to listen on. Loopback by default: this is a development server. */
  host: string;
  /** TCP port; 0 picks a free one (read it back from `DevRelay.port`). */
  port: number;
  /** Interval of `heartbeat` commands on each hub's event stream (hybro.ai: about 30 s). */
  sseHeartbeatMs: number;
  /** How long a command for an offline hub is kept before it is dropped (hybro.ai: 1 h). */
  offlineQueueTtlMs: number;
  /** Commands kept per offline hub; the oldest is dropped when full (hybro.ai: 1,000). */
  offlineQueueMax: number;
  /** Heartbeat POST period the relay expects from hubs, and how often it checks (hybro.ai: 30 s). */
  hubHeartbeatIntervalMs: number;
  /** A connected hub without a heartbeat POST for this many intervals is disconnected (hybro.ai: 3). */
  hubHeartbeatMissLimit: number;
  /** Delivered commands kept per hub for replay after `Last-Event-ID`. */
  replayBufferSize: number;
  /** Largest accepted request body; bigger ones get 413 `payload_too_large`. */
  maxBodyBytes: number;
  /** How long a gateway `message/send` (or stream) waits for the turn's `processing_status`. */
  gatewayTimeoutMs: number;
  /** Turns whose events are remembered (for `eventsFor` and duplicate dropping); oldest go first. */
  turnHistoryMax: number;
  /** Contexts (gateway `contextId` → room) and waiting HITL tasks remembered; oldest go first. */
  conversationMemoryMax: number;
  /** Authenticated keys are re-read from sqlite at most this often (revocation by another process shows within it). */
  keyCacheTtlMs: number;
  /** `last_used_at` is written at most once per this interval per key. */
  lastUsedWriteIntervalMs: number;
  /** Length of one rate-limit window (the limits below are "per hour" with the default). */
  rateLimitWindowMs: number;
  discoveryPerKeyPerHour: number;
  discoveryGlobalPerHour: number;
  gatewayPerKeyPerHour: number;
  gatewayGlobalPerHour: number;
  /** Hub API (register, sync, heartbeat, publish, events, status): high enough for streaming. */
  hubPerKeyPerHour: number;
  hubGlobalPerHour: number;
  /** API-key management and `auth/verify`. */
  keysPerKeyPerHour: number;
  keysGlobalPerHour: number;
  /** Folder of the sqlite file (`relay.sqlite`); null keeps all state in memory. */
  dataDir: string | null;
  /** Forces in-memory state even when `dataDir` is set. */
  memory: boolean;
  /** When set, a `*`-scoped key with exactly this value exists for `adminUser`. */
  adminKey: string | null;
  adminUser: string;
}

export const DEFAULT_SSE_HEARTBEAT_MS = 30_000;
export const DEFAULT_GATEWAY_TIMEOUT_MS = 120_000;
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 3_600_000;

export const DEFAULT_DEV_RELAY_SETTINGS: DevRelaySettings = {
  host: "127.0.0.1",
  port: 8787,
  sseHeartbeatMs: DEFAULT_SSE_HEARTBEAT_MS,
  offlineQueueTtlMs: 3_600_000,
  offlineQueueMax: 1000,
  hubHeartbeatIntervalMs: 30_000,
  hubHeartbeatMissLimit: 3,
  replayBufferSize: 1000,
  maxBodyBytes: 1024 * 1024,
  gatewayTimeoutMs: DEFAULT_GATEWAY_TIMEOUT_MS,
  turnHistoryMax: 20_000,
  conversationMemoryMax: 100_000,
  keyCacheTtlMs: 1000,
  lastUsedWriteIntervalMs: 1000,
  rateLimitWindowMs: DEFAULT_RATE_LIMIT_WINDOW_MS,
  discoveryPerKeyPerHour: 100,
  discoveryGlobalPerHour: 10_000,
  gatewayPerKeyPerHour: 200,
  gatewayGlobalPerHour: 20_000,
  hubPerKeyPerHour: 1_000_000,
  hubGlobalPerHour: 10_000_000,
  keysPerKeyPerHour: 1000,
  keysGlobalPerHour: 100_000,
  dataDir: null,
  memory: false,
  adminKey: null,
  adminUser: "admin",
};

export function resolveSettings(options: Partial<DevRelaySettings> = {}): DevRelaySettings {
  const settings = { ...DEFAULT_DEV_RELAY_SETTINGS };
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && name in settings)
      (settings as Record<string, unknown>)[name] = value;
  }
  return settings;
}
