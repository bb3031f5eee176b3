// Pure delay arithmetic for retries and reconnects; randomness is injected so tests can seed it.

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** The un-jittered ceiling of attempt `attempt` (0-based): `min(maxMs, baseMs · 2^attempt)`. */
export function backoffCeilingMs(attempt: number, baseMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 40);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

/**
 * Full jitter (uniform in [0, ceiling)): spreads a crowd of reconnecting hubs evenly; the
 * ceiling still doubles per failure, so repeated failures never become a hot loop.
 */
export function fullJitterDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: Random = Math.random,
): number {
  return Math.floor(clampUnit(random()) * backoffCeilingMs(attempt, baseMs, maxMs));
}

/** Next nominal heartbeat period after a failure: doubled, capped. */
export function nextHeartbeatIntervalMs(currentMs: number, maxMs: number): number {
  return Math.min(currentMs * 2, maxMs);
}

/**
 * Equal jitter for periodic work: uniform in [nominal/2, nominal), so the period never exceeds
 * its nominal value (the cap holds after jitter, unlike the Python hub's ×[0.5, 1.5)).
 */
export function equalJitterMs(nominalMs: number, random: Random = Math.random): number {
  return Math.floor(nominalMs / 2 + (clampUnit(random()) * nominalMs) / 2);
}

function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value >= 1 ? 0.999_999 : value;
}
