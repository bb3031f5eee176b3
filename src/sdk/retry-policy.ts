// When a failed Gateway call is tried again: only 429 and 503 that say when to come back
// (`Retry-After`; the request was turned away before any agent saw it), at most `maxRetries`
// times, and only when that wait is short. Everything else goes straight to the caller.
import { parseRetryAfterS } from "./errors.ts";

export interface RetrySettings {
  /** Extra attempts after the first; 0 turns automatic retry off. */
  maxRetries: number;
  /** A longer `Retry-After` is not waited out: the error goes to the caller at once. */
  maxRetryWaitMs: number;
}

export const DEFAULT_MAX_RETRIES = 2;
export const DEFAULT_MAX_RETRY_WAIT_MS = 30_000;

export const DEFAULT_RETRY_SETTINGS: RetrySettings = {
  maxRetries: DEFAULT_MAX_RETRIES,
  maxRetryWaitMs: DEFAULT_MAX_RETRY_WAIT_MS,
};

/**
 * Milliseconds to wait before retry number `attempt + 1`, or null when the response should go
 * to the caller as an error. `attempt` counts the retries already made.
 */
export function retryDelayMs(
  status: number,
  retryAfter: string | null | undefined,
  attempt: number,
  settings: RetrySettings,
  nowMs = Date.now(),
): number | null {
  if (status !== 429 && status !== 503) return null;
  if (attempt >= settings.maxRetries) return null;
  const afterS = parseRetryAfterS(retryAfter, nowMs);
  if (afterS === undefined) return null;
  const waitMs = afterS * 1000;
  return waitMs > settings.maxRetryWaitMs ? null : waitMs;
}
