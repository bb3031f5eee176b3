// The `X-RateLimit-*` headers of a Gateway response, as numbers.

export interface RateLimitInfo {
  /** Requests allowed in the current window. */
  limit: number;
  /** Requests left in the current window. */
  remaining: number;
  /** Seconds until the window resets. */
  resetS: number;
}

/** Header values above this are Unix timestamps rather than a number of seconds. */
const EPOCH_SECONDS_THRESHOLD = 1_000_000_000;

type HeaderValue = string | string[] | undefined;

function headerNumber(value: HeaderValue): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === "") return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Reads the rate-limit headers (lower-case names, as undici gives them); null when the response
 * carries none. `X-RateLimit-Reset` may be seconds-until-reset or a Unix time in seconds; both
 * become seconds from now.
 */
export function rateLimitFromHeaders(
  headers: Record<string, HeaderValue>,
  nowMs = Date.now(),
): RateLimitInfo | null {
  const limit = headerNumber(headers["x-ratelimit-limit"]);
  const remaining = headerNumber(headers["x-ratelimit-remaining"]);
  if (limit === undefined || remaining === undefined) return null;
  const reset = headerNumber(headers["x-ratelimit-reset"]) ?? 0;
  const resetS =
    reset > EPOCH_SECONDS_THRESHOLD ? Math.max(0, Math.ceil(reset - nowMs / 1000)) : reset;
  return { limit, remaining, resetS };
}
