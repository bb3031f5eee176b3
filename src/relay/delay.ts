// The relay loops' wait: the one abortable sleep (async/clock.ts), resolving instead of
// rejecting on abort (callers check `signal.aborted`). Goes when the loops move onto Backoff.
import { sleep } from "../async/clock.ts";

/** Resolves after `ms`, or at once when `signal` aborts; `unref` as in `Clock.sleep`. */
export async function delay(
  ms: number,
  signal: AbortSignal,
  options: { unref?: boolean } = {},
): Promise<void> {
  await sleep(ms, signal, options).catch(() => {});
}
