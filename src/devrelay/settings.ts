// Every limit and timer of the development relay, with its unit in the name, so tests and
// benchmarks shorten or widen them instead of waiting.
import { withDefaults } from "../system/settings.ts";
import {
  API_FAMILIES,
  type ApiFamily,
  type FamilyLimits,
  LIMIT_SUBJECTS,
  type RateLimits,
  type RateWindow,
} from "./rate-limit.ts";

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
  /**
   * Sliding windows per API family, each counted per key, per user (all of a user's keys
   * together) and for all keys; every window must have room. The hub family is register, sync,
   * heartbeat, publish, events and status; keys is API-key management and `auth/verify`.
   */
  rateLimits: RateLimits;
  /** Failed authentications one source address may make within each window before it waits. */
  authFailureLimits: RateWindow[];
  /** Folder of the sqlite file (`relay.sqlite`); null keeps all state in memory. */
  dataDir: string | null;
  /** Forces in-memory state even when `dataDir` is set. */
  memory: boolean;
  /**
   * When set, a `*`-scoped key with exactly this value exists for `adminUser`, and it is the
   * relay operator's key: the only one that may manage other users' keys.
   */
  adminKey: string | null;
  adminUser: string;
}

const DEFAULT_SSE_HEARTBEAT_MS = 30_000;
const DEFAULT_GATEWAY_TIMEOUT_MS = 120_000;

const HOUR_MS = 3_600_000;
/** Per key; per user the same windows by default (more keys gain nothing); then all keys. */
function perHour(perKey: number, global: number): FamilyLimits {
  return {
    key: [{ limit: perKey, windowMs: HOUR_MS }],
    user: [{ limit: perKey, windowMs: HOUR_MS }],
    global: [{ limit: global, windowMs: HOUR_MS }],
  };
}

/** The seed docs' defaults: Discovery 100/h and Gateway 200/h per key; the hub API high enough for streaming. */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  hub: perHour(1_000_000, 10_000_000),
  gateway: perHour(200, 20_000),
  discovery: perHour(100, 10_000),
  keys: perHour(1000, 100_000),
};

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
  rateLimits: DEFAULT_RATE_LIMITS,
  authFailureLimits: [{ limit: 30, windowMs: 60_000 }],
  dataDir: null,
  memory: false,
  adminKey: null,
  adminUser: "admin",
};

/** No limit on any family (benchmarks). */
export const NO_RATE_LIMITS: RateLimits = Object.fromEntries(
  API_FAMILIES.map((family) => [family, { key: [], user: [], global: [] }]),
) as unknown as RateLimits;

/** Windows to change, per family and subject; a family's `user` windows follow its `key` ones unless given. */
export type RateLimitChanges = Partial<Record<ApiFamily, Partial<FamilyLimits>>>;

/** Settings to change; rate limits are merged per family and subject. */
export type DevRelaySettingsInput = Partial<Omit<DevRelaySettings, "rateLimits">> & {
  rateLimits?: RateLimitChanges;
};

export function resolveSettings(options: DevRelaySettingsInput = {}): DevRelaySettings {
  const { rateLimits, ...rest } = options;
  const settings = withDefaults<DevRelaySettings>(DEFAULT_DEV_RELAY_SETTINGS, rest);
  settings.rateLimits = mergeRateLimits(DEFAULT_RATE_LIMITS, rateLimits ?? {});
  return settings;
}

export function mergeRateLimits(base: RateLimits, changes: RateLimitChanges): RateLimits {
  const merged = {} as RateLimits;
  for (const family of API_FAMILIES) {
    const change = changes[family] ?? {};
    const limits = { ...base[family] };
    for (const subject of LIMIT_SUBJECTS) {
      const windows = change[subject];
      if (windows !== undefined) limits[subject] = windows.map((window) => ({ ...window }));
    }
    if (change.key !== undefined && change.user === undefined) limits.user = limits.key;
    merged[family] = limits;
  }
  return merged;
}
