// Every timer and limit of the relay link, with its unit in the name, so tests shorten them
// instead of waiting.
import { withDefaults } from "../system/settings.ts";

export interface RelayLinkSettings {
  /** Silence allowed while waiting for the headers or the body of one relay call. */
  requestTimeoutMs: number;
  /**
   * Whole-call deadline of one short call (register, sync, heartbeat, publish, status) and of
   * the command stream's answer headers: a relay dribbling a byte now and then cannot hold it.
   */
  requestDeadlineMs: number;
  /** Largest answer body read from the relay (a larger one is not read and the call retried). */
  maxAnswerBytes: number;
  /** TCP/TLS connect deadline. */
  connectTimeoutMs: number;
  /** Nominal heartbeat period. */
  heartbeatIntervalMs: number;
  /** Ceiling of the heartbeat period while heartbeats fail (doubles per failure). */
  maxHeartbeatIntervalMs: number;
  /** Silence on the command stream after which it counts as dead (≈ 3 relay heartbeats). */
  streamReadTimeoutMs: number;
  /** A stream session open this long counts as healthy: the reconnect backoff starts over. */
  streamHealthyAfterMs: number;
  /** Largest SSE event the parser buffers before giving up on the connection. */
  streamMaxEventChars: number;
  /** First reconnect/retry delay ceiling (full jitter below it), doubled per failure. */
  reconnectBaseDelayMs: number;
  /** Cap of the reconnect/retry delay. */
  reconnectMaxDelayMs: number;
  /**
   * First ceiling of the slow reconnect delay while the relay refuses this hub's stream (after
   * registering again did not help) or another hub with the same id takes it; doubles per session.
   */
  slowReconnectBaseMs: number;
  /** Cap of the slow reconnect delay. */
  slowReconnectMaxMs: number;
  /** Clean ends by the relay of opened streams that mean another hub uses this hub id… */
  duplicateHubCloses: number;
  /** …when they fall within this long (a stream then open this long ends the suspicion). */
  duplicateHubWindowMs: number;
  /** Forced agents/sync period (a keep-alive of the relay's roster state). */
  resyncIntervalMs: number;
  /** Quiet time after a roster change before the sync is sent (several changes share one). */
  syncDebounceMs: number;
  /** Window over which streamed chunks of one room share a POST. */
  publishCoalesceMs: number;
  /** Most events in one publish POST. */
  publishMaxBatchEvents: number;
  /** In-memory bound of queued events; beyond it new events are dropped (and counted). */
  publishMaxQueuedEvents: number;
  /** First publish retry delay ceiling, doubled per failed attempt of a room. */
  publishRetryBaseDelayMs: number;
  /** Cap of the publish retry delay. */
  publishRetryMaxDelayMs: number;
  /** Cap of any relay-given `Retry-After`. */
  maxRetryAfterMs: number;
  /**
   * Largest publish body the relay takes (bytes). Events larger than it are split; a 413 lowers
   * it for the rest of the run (to the relay's stated limit, else by half).
   */
  publishMaxBodyBytes: number;
  /** Unsent bytes of one room above which its turns stop reading their agent until it drains. */
  publishRoomHighWaterBytes: number;
  /**
   * Unsent events above which the command stream is not read further while the relay takes
   * events (read again once half of them are sent): a flood of turns waits at the relay, not in
   * the hub's memory. While the relay fails, the outbox takes the backlog (its own bounds).
   */
  publishIntakeHighWaterEvents: number;
}

const DEFAULT_RELAY_LINK_SETTINGS: Readonly<RelayLinkSettings> = Object.freeze({
  requestTimeoutMs: 30_000,
  requestDeadlineMs: 60_000,
  maxAnswerBytes: 8 * 1024 * 1024,
  connectTimeoutMs: 10_000,
  heartbeatIntervalMs: 30_000,
  maxHeartbeatIntervalMs: 300_000,
  streamReadTimeoutMs: 90_000,
  streamHealthyAfterMs: 30_000,
  streamMaxEventChars: 16 * 1024 * 1024,
  reconnectBaseDelayMs: 1_000,
  reconnectMaxDelayMs: 60_000,
  slowReconnectBaseMs: 30_000,
  slowReconnectMaxMs: 600_000,
  duplicateHubCloses: 3,
  duplicateHubWindowMs: 600_000,
  resyncIntervalMs: 120_000,
  syncDebounceMs: 250,
  publishCoalesceMs: 25,
  publishMaxBatchEvents: 500,
  publishMaxQueuedEvents: 200_000,
  publishRetryBaseDelayMs: 500,
  publishRetryMaxDelayMs: 30_000,
  maxRetryAfterMs: 300_000,
  publishMaxBodyBytes: 1024 * 1024,
  publishRoomHighWaterBytes: 1024 * 1024,
  publishIntakeHighWaterEvents: 5_000,
});

/** Defaults overlaid with the given values (undefined entries ignored). */
export function relayLinkSettings(overrides: Partial<RelayLinkSettings> = {}): RelayLinkSettings {
  return withDefaults(DEFAULT_RELAY_LINK_SETTINGS, overrides);
}

/** The environment variable that sets `publishMaxBodyBytes` (a proxy in front of the relay may take less). */
const MAX_BODY_ENV = "HYBRO_RELAY_MAX_BODY_BYTES";

/**
 * `publishMaxBodyBytes` from the environment: a whole number of bytes, at least 16384 (with an
 * optional `k`/`m` for KiB/MiB). Nothing when unset; an error line when unreadable.
 */
export function publishLimitFromEnv(env: Record<string, string | undefined>): {
  bytes?: number;
  error?: string;
} {
  const raw = env[MAX_BODY_ENV]?.trim();
  if (!raw) return {};
  const match = /^(\d+)\s*([kKmM]?)$/.exec(raw);
  const unit = match?.[2]?.toLowerCase();
  const bytes = match
    ? Number(match[1]) * (unit === "m" ? 1024 * 1024 : unit === "k" ? 1024 : 1)
    : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 16 * 1024) {
    return {
      error: `${MAX_BODY_ENV}=${JSON.stringify(raw)} is not a size of at least 16384 bytes (e.g. 1048576, 512k, 2m); using the default ${DEFAULT_RELAY_LINK_SETTINGS.publishMaxBodyBytes}`,
    };
  }
  return { bytes };
}
