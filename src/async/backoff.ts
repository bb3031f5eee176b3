// The one backoff for every retry and reconnect: capped exponential growth with jitter, reset
// on success and after a run that stayed up long enough. Clock and randomness are injected.
//
// A loop does its call and, on failure, waits `backoff.nextDelayMs(retryAfterMs)` on its clock;
// on success it calls `reset()`. A supervisor around something that runs (a child process, a
// socket, a stream session) calls `runStarted()` when it comes up and `runEnded()` when it goes
// down: a run of `stableRunMs` or more starts the backoff over. No loop keeps its own attempt
// counter or jitter.
import { type Clock, systemClock } from "./clock.ts";

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** The un-jittered ceiling after `failures` consecutive failures: `min(maxMs, baseMs · 2^failures)`. */
function ceilingAfterMs(failures: number, baseMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(0, Math.floor(failures)), 40);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

/**
 * How the delay is drawn below its ceiling. `full`: uniform in [0, ceiling), spreads a crowd of
 * clients evenly (the relay link). `equal`: uniform in [ceiling/2, ceiling), so at least half
 * is always waited and a crash loop never hammers (agent restarts and reconnects).
 */
export type Jitter = "full" | "equal";

interface BackoffPolicy {
  /** The ceiling of the first delay; it doubles per consecutive failure… */
  baseDelayMs: number;
  /** …up to this. */
  maxDelayMs: number;
  jitter: Jitter;
  /** A run that lasted this long starts the backoff over (see `runEnded`); omitted: never. */
  stableRunMs?: number;
}

interface BackoffOptions {
  clock?: Clock | undefined;
  random?: Random | undefined;
}

export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #clock: Clock;
  readonly #random: Random;
  #failures = 0;
  #runStartedAt: number | null = null;

  constructor(policy: BackoffPolicy, options: BackoffOptions = {}) {
    this.#policy = policy;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  /** Consecutive failures since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * A failure: the wait before the next try, never below `floorMs` (a `Retry-After`). The
   * ceiling keeps doubling under a floor, so the backoff is not reset by one.
   */
  nextDelayMs(floorMs = 0): number {
    const drawn = this.delayAfterMs(this.#failures);
    this.#failures += 1;
    return Math.max(floorMs, drawn);
  }

  /**
   * The delay drawn after `failures` consecutive failures, counting nothing: for a caller that
   * keeps its own step (stream-health.ts's slow reconnects).
   */
  delayAfterMs(failures: number): number {
    const { baseDelayMs, maxDelayMs, jitter } = this.#policy;
    const ceiling = ceilingAfterMs(failures, baseDelayMs, maxDelayMs);
    const unit = clampUnit(this.#random());
    // full: uniform in [0, ceiling); equal: uniform in [ceiling/2, ceiling).
    return jitter === "full"
      ? Math.floor(unit * ceiling)
      : Math.floor(ceiling / 2 + (unit * ceiling) / 2);
  }

  /** The ceiling the next failure's delay is drawn below (a period shown while it grows). */
  nextCeilingMs(): number {
    return ceilingAfterMs(this.#failures, this.#policy.baseDelayMs, this.#policy.maxDelayMs);
  }

  /** A success: the next failure waits the shortest delay again. */
  reset(): void {
    this.#failures = 0;
  }

  /** A run (a process, a connection, a stream session) has come up now. */
  runStarted(): void {
    this.#runStartedAt = this.#clock.now();
  }

  /**
   * The run that `runStarted` began has ended. One that lasted `stableRunMs` or more resets
   * the backoff: true then.
   */
  runEnded(): boolean {
    const startedAt = this.#runStartedAt;
    this.#runStartedAt = null;
    const { stableRunMs } = this.#policy;
    if (startedAt === null || stableRunMs === undefined) return false;
    if (this.#clock.now() - startedAt < stableRunMs) return false;
    this.reset();
    return true;
  }
}

function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value >= 1 ? 0.999_999 : value;
}
