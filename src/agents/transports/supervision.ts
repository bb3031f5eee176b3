// What the stdio and WebSocket transports share about keeping a peer alive: how long to wait
// before the next restart/reconnect, when a run of exits becomes a crash loop, and how a
// transport reports its health to the registry.

/** What a process/socket transport tells the registry (and the roster) about itself. */
export interface TransportHealth {
  /** False while crash-looping / unreachable after repeated failures, and after close(). */
  healthy: boolean;
  /** Restarts (stdio) or reconnects (WebSocket) since the transport was made. */
  restarts: number;
  /** Why the last process/connection ended, in words (`exited with code 3`), or null. */
  lastExit: string | null;
  /** The running child's pid (stdio), else null. */
  pid: number | null;
}

/**
 * Capped exponential backoff with "equal jitter": the delay for the n-th consecutive failure
 * (n from 0) is uniform in [cap/2, cap) where cap = min(max, base·2^n). Half the delay is
 * guaranteed, so a crash loop never hammers; the random half spreads many agents apart.
 */
export function backoffDelayMs(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/**
 * Remembers recent exits to tell a crash loop (≥ `limit` exits within `windowMs`) from an
 * occasional crash. Pure apart from the clock it is given.
 */
export class ExitWindow {
  readonly #limit: number;
  readonly #windowMs: number;
  #times: number[] = [];

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Records an exit at `nowMs`; returns true when the recent exits make a crash loop. */
  record(nowMs: number): boolean {
    this.#times = this.#times.filter((t) => nowMs - t < this.#windowMs);
    this.#times.push(nowMs);
    return this.#times.length >= this.#limit;
  }

  get count(): number {
    return this.#times.length;
  }

  clear(): void {
    this.#times = [];
  }
}
