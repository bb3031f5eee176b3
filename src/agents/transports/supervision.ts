// What the stdio and WebSocket transports share about keeping a peer alive: when a run of exits
// becomes a crash loop, and how a transport reports its health to the registry. How long to
// wait before the next restart/reconnect is the one backoff (async/backoff.ts).

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
