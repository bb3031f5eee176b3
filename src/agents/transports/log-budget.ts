// How much of one agent's stderr may reach the hub's log: a token bucket in bytes (a steady
// rate with room for bursts). What does not fit is dropped and counted, so a flooding agent
// costs a bounded amount of log (no rotation storm that pushes every other line out) and the
// log still says how much it dropped. Pure apart from the clock it is given.

interface LogBudgetSettings {
  bytesPerS: number;
  burstBytes: number;
}

interface Dropped {
  lines: number;
  bytes: number;
  /** When the first of them was dropped. */
  sinceMs: number;
}

export class LogBudget {
  readonly #settings: LogBudgetSettings;
  #tokens: number;
  #refilledAt: number;
  #dropped: Dropped | null = null;

  constructor(settings: LogBudgetSettings, nowMs: number) {
    this.#settings = settings;
    this.#tokens = settings.burstBytes;
    this.#refilledAt = nowMs;
  }

  /** True when a line of `bytes` may be logged now; false when it is dropped (and counted). */
  take(bytes: number, nowMs: number): boolean {
    const { bytesPerS, burstBytes } = this.#settings;
    const elapsedMs = Math.max(0, nowMs - this.#refilledAt);
    this.#tokens = Math.min(burstBytes, this.#tokens + (elapsedMs * bytesPerS) / 1000);
    this.#refilledAt = nowMs;
    const cost = Math.min(bytes, burstBytes); // a line longer than a burst still gets through
    if (this.#tokens >= cost) {
      this.#tokens -= cost;
      return true;
    }
    this.#dropped ??= { lines: 0, bytes: 0, sinceMs: nowMs };
    this.#dropped.lines++;
    this.#dropped.bytes += bytes;
    return false;
  }

  /** What was dropped since the last call (null: nothing), and starts counting afresh. */
  takeDropped(): Dropped | null {
    const dropped = this.#dropped;
    this.#dropped = null;
    return dropped;
  }
}
