/**
 * A per-agent concurrency limit with a FIFO queue: at most `limit` turns run on one agent, the
 * rest wait their turn in arrival order. A waiting turn can leave the queue (cancel, shutdown).
 */
export class AgentSlots {
  #running = 0;
  #limit: number;
  readonly #waiting: Array<{ grant: () => void; signal: AbortSignal; onAbort: () => void }> = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  get running(): number {
    return this.#running;
  }
  get waiting(): number {
    return this.#waiting.length;
  }

  /** A changed `maxConcurrency` applies to the next grants. */
  setLimit(limit: number): void {
    this.#limit = Math.max(1, Math.floor(limit));
    this.#drain();
  }

  /** Resolves with a release function once a slot is free; rejects with the signal's reason. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const release = () => {
        this.#running--;
        this.#drain();
      };
      const waiter = {
        grant: () => {
          signal.removeEventListener("abort", waiter.onAbort);
          this.#running++;
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            release();
          });
        },
        signal,
        onAbort: () => {
          const at = this.#waiting.indexOf(waiter);
          if (at >= 0) this.#waiting.splice(at, 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
      this.#drain();
    });
  }

  #drain(): void {
    while (this.#running < this.#limit && this.#waiting.length > 0) {
      this.#waiting.shift()!.grant();
    }
  }
}
