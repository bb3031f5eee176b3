// Heartbeats (relay-wire.md section 2): one every `heartbeatIntervalMs` while they work; on
// failure the one Backoff from twice the period (equal jitter, capped), a Retry-After as floor,
// and a re-registration on 404. The relay drops a hub whose heartbeats stop, so a wait grown
// long while the stream was down is cut short when it opens again (`wake`).
import { Backoff } from "../async/backoff.ts";
import { reportFailure } from "./failure-policy.ts";
import type { RelayLoopOptions } from "./loop-options.ts";

interface HeartbeatOptions extends RelayLoopOptions {
  /** 404: register the hub again; rejects on a refused key or abort. */
  reregister: (signal: AbortSignal) => Promise<void>;
}

interface HeartbeatState {
  /** Current nominal heartbeat period (grows while heartbeats fail). */
  heartbeatIntervalMs: number;
  heartbeatFailures: number;
}

export class HeartbeatLoop {
  readonly #options: HeartbeatOptions;
  readonly #backoff: Backoff;
  #intervalMs: number;
  /** Ends the current wait early (see `wake`). */
  #wake: AbortController | null = null;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    const { settings, clock, random } = options;
    this.#intervalMs = settings.heartbeatIntervalMs;
    this.#backoff = new Backoff(
      {
        baseDelayMs: 2 * settings.heartbeatIntervalMs,
        maxDelayMs: settings.maxHeartbeatIntervalMs,
        jitter: "equal",
      },
      { clock, random },
    );
  }

  state(): HeartbeatState {
    return { heartbeatIntervalMs: this.#intervalMs, heartbeatFailures: this.#backoff.failures };
  }

  /** The stream opened again: after failed heartbeats, send the next one now. */
  wake(): void {
    if (this.#backoff.failures > 0) this.#wake?.abort();
  }

  /** Heartbeats until `signal` aborts or the key is refused. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { client, hubId, logger, clock } = this.#options;
    const base = this.#options.settings.heartbeatIntervalMs;
    const backoff = this.#backoff;
    let waitMs = base;
    while (!signal.aborted) {
      const wake = new AbortController();
      this.#wake = wake;
      await clock
        .sleep(waitMs, AbortSignal.any([signal, wake.signal]), { unref: true })
        .catch(() => undefined);
      this.#wake = null;
      if (signal.aborted) return;
      try {
        await client.heartbeat(hubId, signal);
        if (backoff.failures > 0) logger.info("heartbeats reach the relay again");
        backoff.reset();
        this.#intervalMs = waitMs = base;
      } catch (error) {
        if (signal.aborted) return;
        const { failure, plan } = reportFailure("heartbeat", error, this.#options);
        if (plan.stop) return;
        const ceilingMs = backoff.nextCeilingMs();
        waitMs = backoff.nextDelayMs(failure.retryAfterMs ?? 0);
        this.#intervalMs = Math.max(ceilingMs, failure.retryAfterMs ?? 0);
        logger.warn(
          { call: "heartbeat", failures: backoff.failures },
          `heartbeat failed: ${failure.message} (next in about ${this.#intervalMs} ms)`,
        );
        if (plan.reregister) {
          try {
            await this.#options.reregister(signal);
          } catch {
            return;
          }
        }
      }
    }
  }
}
