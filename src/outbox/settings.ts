// Every limit and timer of the durable outbox, with its unit in the name, so tests shorten them
// instead of waiting.

export interface OutboxSettings {
  /** Most unsent events kept; beyond it the oldest turns are dropped whole. */
  maxEvents: number;
  /** Most bytes of unsent event JSON kept; beyond it the oldest turns are dropped whole. */
  maxBytes: number;
  /** Unsent events older than this are dropped, with every queued event of their turn. */
  eventTtlMs: number;
  /** How often the TTL is applied while the hub runs (also once at open). */
  ttlSweepIntervalMs: number;
  /** Accepted-turn records (ids only, no content) are kept this long for duplicate detection. */
  acceptedTurnRetentionMs: number;
  /** Most accepted-turn records kept; the oldest finished ones go first. */
  acceptedTurnsMax: number;
  /**
   * Accepted-turn records also kept in memory while the database works (the latest; the others
   * are read from it). While it is unusable, every turn accepted meanwhile stays in memory
   * (up to `acceptedTurnsMax`) until it can be written.
   */
  acceptedTurnsCachedMax: number;
  /** Quiet time after the queue empties before the WAL is checkpointed and truncated. */
  checkpointDelayMs: number;
  /** While the database is unusable, how often it is tried again. */
  reopenIntervalMs: number;
}

export const DEFAULT_OUTBOX_SETTINGS: Readonly<OutboxSettings> = Object.freeze({
  maxEvents: 100_000,
  maxBytes: 64 * 1024 * 1024,
  eventTtlMs: 24 * 3_600_000,
  ttlSweepIntervalMs: 60_000,
  acceptedTurnRetentionMs: 7 * 24 * 3_600_000,
  acceptedTurnsMax: 100_000,
  acceptedTurnsCachedMax: 1_000,
  checkpointDelayMs: 1_000,
  reopenIntervalMs: 30_000,
});
