// Time as a value: every loop, supervisor and poll takes a Clock, so a test moves time forward
// instead of waiting for it. The system clock sleeps with `node:timers/promises`.
import { setTimeout as timersSleep } from "node:timers/promises";

export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /**
   * Resolves after `ms`. When `signal` aborts first it rejects with `signal.reason`, the one
   * meaning an abort has everywhere (as `signal.throwIfAborted()` and undici's `request`).
   * `unref: true` for waits that must not keep the process alive on their own.
   */
  sleep(ms: number, signal?: AbortSignal, options?: { unref?: boolean }): Promise<void>;
  /** Calls `fn` once after `ms` unless cancelled; never keeps the process alive on its own. */
  timer(ms: number, fn: () => void): Timer;
}

/** An abortable sleep on the system clock (see `Clock.sleep`). */
export async function sleep(
  ms: number,
  signal?: AbortSignal,
  options: { unref?: boolean } = {},
): Promise<void> {
  signal?.throwIfAborted();
  try {
    await timersSleep(Math.max(0, ms), undefined, {
      ref: options.unref !== true,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    // node:timers/promises rejects with its own AbortError; callers get the signal's reason.
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep,
  timer(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};
