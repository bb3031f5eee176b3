// A Clock that moves only when the test says so: "nothing happened yet" is checked without
// waiting, and no assertion depends on how fast the machine is.
import type { Clock, Timer } from "../../src/async/clock.ts";

interface Pending {
  at: number;
  seq: number;
  fire: () => void;
}

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #pending: Pending[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  timer(ms: number, fn: () => void): Timer {
    const entry: Pending = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fire: fn };
    this.#pending.push(entry);
    return { cancel: () => this.#remove(entry) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        timer.cancel();
        reject(signal?.reason);
      };
      const timer = this.timer(ms, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Timers and sleeps not yet due. */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Milliseconds until the next timer is due, or null when none is pending. */
  nextDueInMs(): number | null {
    const next = this.#sorted()[0];
    return next === undefined ? null : next.at - this.#now;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order; between timers pending promise
   * callbacks run, so a timer a fired callback sets within the span fires too.
   */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      await settle();
      const next = this.#sorted()[0];
      if (next === undefined || next.at > until) break;
      this.#remove(next);
      this.#now = Math.max(this.#now, next.at);
      next.fire();
    }
    this.#now = until;
    await settle();
  }

  #sorted(): Pending[] {
    return this.#pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
  }

  #remove(entry: Pending): void {
    const index = this.#pending.indexOf(entry);
    if (index >= 0) this.#pending.splice(index, 1);
  }
}

/** Lets pending promise callbacks (and one turn of I/O callbacks) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
