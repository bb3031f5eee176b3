/**
 * A per-agent concurrency limit with a FIFO queue: at most `limit` turns run on one agent, the
 * rest wait their turn in arrival order. A waiting turn can leave the queue (cancel, shutdown).
 * Leaving and being granted are O(1) (a left waiter is skipped when its turn comes), so a long
 * queue cancelled at shutdown does not cost its length squared.
 */
interface Waiter {
  grant: () => void;
  /** Left the queue (aborted) before its grant. */
  gone: boolean;
}

export class AgentSlots {
  #running = 0;
  #limit: number;
  /** Waiters in arrival order from `#head`; entries before it were granted or left. */
  #queue: Waiter[] = [];
  #head = 0;
  #waiting = 0;

  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  get running(): number {
    return this.#running;
  }
  get waiting(): number {
    return this.#waiting;
  }

  /** True when a turn asking now would have to wait (every slot is taken). */
  get busy(): boolean {
    return this.#running >= this.#limit || this.#waiting > 0;
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
      const onAbort = () => {
        if (waiter.gone) return;
        waiter.gone = true;
        this.#waiting--;
        this.#compactIfMostlyGone();
        reject(signal.reason);
      };
      const waiter: Waiter = {
        gone: false,
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          this.#running++;
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.#running--;
            this.#drain();
          });
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiter);
      this.#waiting++;
      this.#drain();
    });
  }

  /** Left waiters behind a stuck head are dropped once they outnumber the live ones. */
  #compactIfMostlyGone(): void {
    const gone = this.#queue.length - this.#head - this.#waiting;
    if (gone <= 1024 || gone <= this.#waiting) return;
    this.#queue = this.#queue.slice(this.#head).filter((waiter) => !waiter.gone);
    this.#head = 0;
  }

  #drain(): void {
    while (this.#running < this.#limit && this.#head < this.#queue.length) {
      const waiter = this.#queue[this.#head++] as Waiter;
      if (waiter.gone) continue;
      waiter.gone = true;
      this.#waiting--;
      waiter.grant();
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
