// Polling what nothing announces (a task's state, a process gone): check, wait, check again,
// waits growing by half up to a cap, and no check started that could not finish by the deadline.
import { type Clock, systemClock } from "./clock.ts";

/** Each wait is this many times the previous one (up to `maxIntervalMs`). */
const GROWTH = 1.5;

interface PollScheduleOptions {
  /** The first wait. */
  intervalMs: number;
  /** Waits grow by half up to this; omitted: every wait is `intervalMs`. */
  maxIntervalMs?: number;
  /** Clock time after which no check may still be running. */
  deadlineAt: number;
  /** How long one check may take; a wait is skipped when its check could not end by the deadline. */
  checkTimeoutMs?: number;
  clock?: Clock;
}

export class PollSchedule {
  readonly #clock: Clock;
  readonly #maxIntervalMs: number;
  readonly #deadlineAt: number;
  readonly #checkTimeoutMs: number;
  #intervalMs: number;

  constructor(options: PollScheduleOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#intervalMs = options.intervalMs;
    this.#maxIntervalMs = Math.max(options.intervalMs, options.maxIntervalMs ?? 0);
    this.#deadlineAt = options.deadlineAt;
    this.#checkTimeoutMs = options.checkTimeoutMs ?? 0;
  }

  /**
   * Waits before the next check and returns true; returns false at once when the check after
   * the wait could not end before the deadline. Rejects with `signal.reason` on abort.
   */
  async wait(signal?: AbortSignal): Promise<boolean> {
    const waitMs = this.#intervalMs;
    if (this.#clock.now() + waitMs + this.#checkTimeoutMs >= this.#deadlineAt) return false;
    await this.#clock.sleep(waitMs, signal);
    this.#intervalMs = Math.min(Math.round(waitMs * GROWTH), this.#maxIntervalMs);
    return true;
  }
}

/** Resolves true once `done()` holds, or false when `timeoutMs` has passed without it. */
export async function pollUntil(
  done: () => boolean,
  timeoutMs: number,
  intervalMs: number,
  clock: Clock = systemClock,
): Promise<boolean> {
  const schedule = new PollSchedule({ intervalMs, deadlineAt: clock.now() + timeoutMs, clock });
  while (!done()) {
    if (!(await schedule.wait())) return false;
  }
  return true;
}
