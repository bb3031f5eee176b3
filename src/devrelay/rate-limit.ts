// Request limits as several sliding windows at once ("20 per 10 s, 100 per minute and 5,000 per
// day"), per API family, counted per key, per user (all of a user's keys together, so making
// more keys gains nothing) and across all keys; and failed authentications per source address.
//
// Sliding, not fixed: no stretch of a window's length ever holds more than its limit (fixed
// windows let twice the limit through across an edge). Each window keeps the times of the
// requests it let through, to the millisecond, so `Retry-After` is the exact time until the
// oldest leaves. A window of more than 100,000 requests keeps at most 100,000 times: requests
// are merged into granules of 1/100,000 of its length, each counted as if it came at its
// granule's end (the count never runs short; `Retry-After` is at most one granule late). Pure:
// the clock is injected.

export type ApiFamily = "hub" | "gateway" | "discovery" | "keys";
export const API_FAMILIES: readonly ApiFamily[] = ["hub", "gateway", "discovery", "keys"];

/** Who a window counts for: one key, one user (all their keys), or everyone. */
type LimitSubject = "key" | "user" | "global";
export const LIMIT_SUBJECTS: readonly LimitSubject[] = ["key", "user", "global"];

export interface RateWindow {
  /** Requests allowed within any stretch of `windowMs` (at least 1). */
  limit: number;
  windowMs: number;
}

export type FamilyLimits = Record<LimitSubject, RateWindow[]>;
export type RateLimits = Record<ApiFamily, FamilyLimits>;

/** One window's standing after a request (what `X-RateLimit-*` report). */
interface WindowStanding {
  /** Who it counts for (`source`: a source address's failed authentications). */
  subject: LimitSubject | "source";
  limit: number;
  windowMs: number;
  remaining: number;
  /** When the oldest request it counts leaves it, so one more fits (epoch ms). */
  resetAtMs: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The window closest to refusing; when refused, the one that refused longest. Null: no limits. */
  window: WindowStanding | null;
  /** When refused: how long until this request would be let through (ms, exact). */
  retryAfterMs: number;
}

/** Most times one window keeps; beyond this limit requests share granules. */
const MAX_KEPT_TIMES = 100_000;

/** The times of the requests one window let through, oldest first, merged per granule. */
class SlidingCount {
  readonly limit: number;
  readonly windowMs: number;
  readonly #granuleMs: number;
  /** Granule end times and counts, as a ring. */
  #ends = new Float64Array(8);
  #counts = new Uint32Array(8);
  #head = 0;
  #size = 0;
  #total = 0;

  constructor(window: RateWindow) {
    this.limit = Math.max(1, Math.floor(window.limit));
    this.windowMs = Math.max(1, window.windowMs);
    this.#granuleMs =
      this.limit <= MAX_KEPT_TIMES ? 1 : Math.max(1, Math.floor(this.windowMs / MAX_KEPT_TIMES));
  }

  get count(): number {
    return this.#total;
  }

  /** Forgets requests that have left the window by `now`. */
  prune(now: number): void {
    while (this.#size > 0 && (this.#ends[this.#head] ?? 0) + this.windowMs <= now) {
      this.#total -= this.#counts[this.#head] ?? 0;
      this.#head = (this.#head + 1) % this.#ends.length;
      this.#size -= 1;
    }
  }

  /** When the oldest counted request leaves (epoch ms); `now` when none is counted. */
  freesAt(now: number): number {
    return this.#size === 0 ? now : (this.#ends[this.#head] ?? now) + this.windowMs;
  }

  /** Counts a request at `now` (after prune). */
  add(now: number): void {
    const end = Math.ceil(now / this.#granuleMs) * this.#granuleMs;
    this.#total += 1;
    if (this.#size > 0) {
      const last = (this.#head + this.#size - 1) % this.#ends.length;
      if (this.#ends[last] === end) {
        this.#counts[last] = (this.#counts[last] ?? 0) + 1;
        return;
      }
    }
    if (this.#size === this.#ends.length) this.#grow();
    const at = (this.#head + this.#size) % this.#ends.length;
    this.#ends[at] = end;
    this.#counts[at] = 1;
    this.#size += 1;
  }

  #grow(): void {
    const ends = new Float64Array(this.#ends.length * 2);
    const counts = new Uint32Array(this.#counts.length * 2);
    for (let i = 0; i < this.#size; i++) {
      const from = (this.#head + i) % this.#ends.length;
      ends[i] = this.#ends[from] ?? 0;
      counts[i] = this.#counts[from] ?? 0;
    }
    this.#ends = ends;
    this.#counts = counts;
    this.#head = 0;
  }
}

/** The windows of one subject (a key, a user, everyone, a source address). */
class WindowGroup {
  readonly subject: WindowStanding["subject"];
  readonly counts: SlidingCount[];

  constructor(subject: WindowStanding["subject"], windows: readonly RateWindow[]) {
    this.subject = subject;
    this.counts = windows.map((window) => new SlidingCount(window));
  }

  /** True when every window is empty by `now` (the group can be forgotten). */
  idle(now: number): boolean {
    for (const count of this.counts) count.prune(now);
    return this.counts.every((count) => count.count === 0);
  }
}

/** The decision over several groups: all must have room; nothing is counted on refusal. */
function decide(groups: readonly WindowGroup[], now: number): RateDecision {
  let refusing: WindowStanding | null = null;
  let retryAfterMs = 0;
  for (const group of groups) {
    for (const count of group.counts) {
      count.prune(now);
      if (count.count < count.limit) continue;
      const wait = count.freesAt(now) - now;
      if (refusing === null || wait > retryAfterMs) {
        retryAfterMs = wait;
        refusing = standing(group.subject, count, now);
      }
    }
  }
  if (refusing !== null) return { allowed: false, window: refusing, retryAfterMs };
  let closest: WindowStanding | null = null;
  for (const group of groups) {
    for (const count of group.counts) {
      count.add(now);
      const candidate = standing(group.subject, count, now);
      if (closest === null || closer(candidate, closest)) closest = candidate;
    }
  }
  return { allowed: true, window: closest, retryAfterMs: 0 };
}

function standing(
  subject: WindowStanding["subject"],
  count: SlidingCount,
  now: number,
): WindowStanding {
  return {
    subject,
    limit: count.limit,
    windowMs: count.windowMs,
    remaining: Math.max(0, count.limit - count.count),
    resetAtMs: count.freesAt(now),
  };
}

/** Fewer requests left is closer to refusing; on a tie, the one that frees up later. */
function closer(a: WindowStanding, b: WindowStanding): boolean {
  return a.remaining < b.remaining || (a.remaining === b.remaining && a.resetAtMs > b.resetAtMs);
}

/** Groups not used for this many takes are checked for idleness (memory stays bounded). */
const SWEEP_EVERY = 10_000;

/** Keyed window groups, forgetting the idle ones now and then. */
class GroupTable {
  readonly #groups = new Map<string, WindowGroup>();
  #takes = 0;

  get(id: string, subject: WindowStanding["subject"], windows: readonly RateWindow[]): WindowGroup {
    let group = this.#groups.get(id);
    if (!group) {
      group = new WindowGroup(subject, windows);
      this.#groups.set(id, group);
    }
    return group;
  }

  noteTake(now: number): void {
    this.#takes += 1;
    if (this.#takes % SWEEP_EVERY !== 0) return;
    for (const [id, group] of this.#groups) if (group.idle(now)) this.#groups.delete(id);
  }

  get size(): number {
    return this.#groups.size;
  }
}

export class RateLimiter {
  readonly limits: RateLimits;
  readonly #now: () => number;
  readonly #table = new GroupTable();

  constructor(limits: RateLimits, now: () => number = Date.now) {
    this.limits = limits;
    this.#now = now;
  }

  /** Counts one request of a key (of `userId`) in `family`, unless a window is full. */
  take(family: ApiFamily, keyId: string, userId: string): RateDecision {
    const now = this.#now();
    const limits = this.limits[family];
    const ids: Record<LimitSubject, string> = { key: keyId, user: userId, global: "" };
    const groups = LIMIT_SUBJECTS.filter((subject) => limits[subject].length > 0).map((subject) =>
      this.#table.get(`${family}\u0000${subject}\u0000${ids[subject]}`, subject, limits[subject]),
    );
    this.#table.noteTake(now);
    return decide(groups, now);
  }

  /** Subjects with counters in memory (for tests of the cleanup). */
  get trackedGroups(): number {
    return this.#table.size;
  }
}

/** Failed authentications per source address: beyond the windows, the address waits. */
export class AuthFailureThrottle {
  readonly windows: readonly RateWindow[];
  readonly #now: () => number;
  readonly #table = new GroupTable();

  constructor(windows: readonly RateWindow[], now: () => number = Date.now) {
    this.windows = windows;
    this.#now = now;
  }

  /** Null when `source` may try; else how long it must wait (ms) and the window that is full. */
  blocked(source: string): { retryAfterMs: number; window: WindowStanding } | null {
    if (this.windows.length === 0) return null;
    const now = this.#now();
    const group = this.#table.get(source, "source", this.windows);
    let worst: { retryAfterMs: number; window: WindowStanding } | null = null;
    for (const count of group.counts) {
      count.prune(now);
      if (count.count < count.limit) continue;
      const wait = count.freesAt(now) - now;
      if (!worst || wait > worst.retryAfterMs)
        worst = { retryAfterMs: wait, window: standing("source", count, now) };
    }
    return worst;
  }

  /** An authentication from `source` failed. */
  failed(source: string): void {
    if (this.windows.length === 0) return;
    const now = this.#now();
    const group = this.#table.get(source, "source", this.windows);
    for (const count of group.counts) {
      count.prune(now);
      if (count.count < count.limit) count.add(now);
    }
    this.#table.noteTake(now);
  }
}

const UNITS: ReadonlyArray<[ms: number, one: string, many: string]> = [
  [86_400_000, "day", "days"],
  [3_600_000, "hour", "hours"],
  [60_000, "minute", "minutes"],
  [1000, "second", "seconds"],
  [1, "millisecond", "milliseconds"],
];

/** "per hour", "per 10 seconds", "per day": a window's length in words. */
export function windowWords(windowMs: number): string {
  for (const [ms, one, many] of UNITS) {
    if (windowMs % ms !== 0) continue;
    const n = windowMs / ms;
    return n === 1 ? `per ${one}` : `per ${n} ${many}`;
  }
  return `per ${windowMs} milliseconds`;
}

/** The seed's 429 message: "Rate limit exceeded: 100 requests per minute". */
export function rateLimitMessage(window: { limit: number; windowMs: number }): string {
  const requests = window.limit === 1 ? "request" : "requests";
  return `Rate limit exceeded: ${window.limit} ${requests} ${windowWords(window.windowMs)}`;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Windows from text such as `20/10s,100/1m,5000/1d` (units ms, s, m, h, d); an empty text is no
 * windows (no limit). Throws an Error that names the part it cannot read.
 */
export function parseWindows(text: string): RateWindow[] {
  if (text.trim() === "" || text.trim() === "none") return [];
  return text.split(",").map((part) => {
    const [count, length, ...rest] = part.trim().split("/");
    const limit = Number(count);
    const duration = DURATION.exec(length?.trim() ?? "");
    if (rest.length > 0 || !Number.isSafeInteger(limit) || limit < 1 || !duration) {
      throw new Error(
        `cannot read the rate-limit window "${part.trim()}"; write LIMIT/LENGTH such as 100/1m or 20/10s (units ms, s, m, h, d)`,
      );
    }
    const windowMs = Math.round(Number(duration[1]) * (UNIT_MS[duration[2] ?? "s"] ?? 1000));
    if (windowMs < 1)
      throw new Error(`the rate-limit window "${part.trim()}" is shorter than 1 ms`);
    return { limit, windowMs };
  });
}

/**
 * One `--rate-limit` value: `FAMILY[.WHO]=WINDOWS`, e.g. `gateway=20/10s,100/1m,5000/1d` or
 * `discovery.global=10000/1h`; WHO is key (the default), user or global.
 */
export function parseRateLimitSpec(text: string): {
  family: ApiFamily;
  subject: LimitSubject;
  windows: RateWindow[];
} {
  const eq = text.indexOf("=");
  const [family, subject = "key", ...rest] = (eq < 0 ? text : text.slice(0, eq)).trim().split(".");
  if (eq < 0 || rest.length > 0 || !API_FAMILIES.includes(family as ApiFamily)) {
    throw new Error(
      `cannot read the rate limit "${text}"; write FAMILY[.WHO]=WINDOWS such as gateway=20/10s,100/1m (families ${API_FAMILIES.join(", ")})`,
    );
  }
  if (!LIMIT_SUBJECTS.includes(subject as LimitSubject)) {
    throw new Error(
      `unknown "${subject}" in the rate limit "${text}"; after the family write .key, .user or .global`,
    );
  }
  return {
    family: family as ApiFamily,
    subject: subject as LimitSubject,
    windows: parseWindows(text.slice(eq + 1)),
  };
}

/** Windows as `parseWindows` reads them back (for help texts and logs). */
export function formatWindows(windows: readonly RateWindow[]): string {
  if (windows.length === 0) return "none";
  return windows
    .map(({ limit, windowMs }) => {
      for (const [unit, ms] of [
        ["d", 86_400_000],
        ["h", 3_600_000],
        ["m", 60_000],
        ["s", 1000],
      ] as const) {
        if (windowMs % ms === 0) return `${limit}/${windowMs / ms}${unit}`;
      }
      return `${limit}/${windowMs}ms`;
    })
    .join(",");
}
