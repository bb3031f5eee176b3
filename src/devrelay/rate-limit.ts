// Fixed-window request counting per API family, per key and across all keys. Windows are
// aligned to multiples of the window length, so one clear per window resets every counter.

export type ApiFamily = "hub" | "gateway" | "discovery" | "keys";

export interface FamilyLimits {
  /** Requests per window for one key (at least 1). */
  perKey: number;
  /** Requests per window for all keys together (at least 1). */
  global: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The per-key limit of the family (what `X-RateLimit-Limit` shows). */
  limit: number;
  remaining: number;
  /** Unix time (seconds) when the current window ends. */
  resetAtS: number;
  /** Seconds until the window ends (at least 1): `Retry-After` on refusal. */
  retryAfterS: number;
  /** When refused: the limit that was hit (per key or global). */
  exceededLimit: number;
}

export class RateLimiter {
  private readonly limits: Record<ApiFamily, FamilyLimits>;
  private readonly windowMs: number;
  private readonly now: () => number;
  private windowStartMs = -1;
  private readonly perKey = new Map<string, number>();
  private readonly global = new Map<ApiFamily, number>();

  constructor(
    limits: Record<ApiFamily, FamilyLimits>,
    windowMs: number,
    now: () => number = Date.now,
  ) {
    this.limits = limits;
    this.windowMs = Math.max(1, windowMs);
    this.now = now;
  }

  /** Human words for the window in the 429 message ("per hour" for the default window). */
  windowWords(): string {
    if (this.windowMs === 3_600_000) return "per hour";
    if (this.windowMs === 60_000) return "per minute";
    return `per ${this.windowMs / 1000} seconds`;
  }

  /** Counts one request of `keyId` in `family` unless a limit is reached. */
  take(family: ApiFamily, keyId: string): RateDecision {
    const nowMs = this.now();
    const start = Math.floor(nowMs / this.windowMs) * this.windowMs;
    if (start !== this.windowStartMs) {
      this.windowStartMs = start;
      this.perKey.clear();
      this.global.clear();
    }
    const endMs = start + this.windowMs;
    const { perKey, global } = this.limits[family];
    const counterKey = `${family}\u0000${keyId}`;
    const used = this.perKey.get(counterKey) ?? 0;
    const usedGlobal = this.global.get(family) ?? 0;
    const decision: RateDecision = {
      allowed: true,
      limit: perKey,
      remaining: Math.max(0, perKey - used),
      resetAtS: Math.ceil(endMs / 1000),
      retryAfterS: Math.max(1, Math.ceil((endMs - nowMs) / 1000)),
      exceededLimit: 0,
    };
    if (used >= perKey) {
      decision.allowed = false;
      decision.exceededLimit = perKey;
      return decision;
    }
    if (usedGlobal >= global) {
      decision.allowed = false;
      decision.exceededLimit = global;
      return decision;
    }
    this.perKey.set(counterKey, used + 1);
    this.global.set(family, usedGlobal + 1);
    decision.remaining = perKey - used - 1;
    return decision;
  }
}
