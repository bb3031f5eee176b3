// The development relay's rate limiter on a fake clock: several sliding windows at once, per
// key, per user and for everyone; exact Retry-After; no double burst at a window's edge.
import { describe, expect, it } from "vitest";
import {
  AuthFailureThrottle,
  formatWindows,
  parseRateLimitSpec,
  parseWindows,
  RateLimiter,
  type RateLimits,
  type RateWindow,
  rateLimitMessage,
  windowWords,
} from "../../src/devrelay/rate-limit.ts";
import { DEFAULT_RATE_LIMITS, mergeRateLimits } from "../../src/devrelay/settings.ts";
import { seededRandom } from "../relay/scripted-server.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function clock(start = 0) {
  const time = { now: start };
  return { time, now: () => time.now };
}

/** Limits with only `gateway` set (everything else unlimited). */
function gatewayOnly(limits: Partial<RateLimits["gateway"]>): RateLimits {
  const none = { key: [], user: [], global: [] };
  return {
    hub: none,
    discovery: none,
    keys: none,
    gateway: { key: [], user: [], global: [], ...limits },
  };
}

describe("several windows at once", () => {
  it("each window refuses when full, names itself, and Retry-After is exact", () => {
    const { time, now } = clock(1_000_000);
    const start = time.now;
    const limiter = new RateLimiter(
      gatewayOnly({
        key: [
          { limit: 20, windowMs: 10 * SECOND },
          { limit: 100, windowMs: MINUTE },
          { limit: 5000, windowMs: DAY },
        ],
      }),
      now,
    );
    const take = () => limiter.take("gateway", "k1", "alice");
    for (let i = 0; i < 19; i++) expect(take().allowed).toBe(true);
    // The headers show the window closest to refusing: one left in the 10 s window.
    expect(take()).toMatchObject({
      allowed: true,
      window: { limit: 20, windowMs: 10 * SECOND, remaining: 0, resetAtMs: start + 10 * SECOND },
    });
    time.now = start + 4_321;
    const refused = take();
    expect(refused).toMatchObject({
      allowed: false,
      retryAfterMs: 10 * SECOND - 4_321,
      window: { subject: "key", limit: 20, windowMs: 10 * SECOND },
    });
    expect(rateLimitMessage(refused.window!)).toBe(
      "Rate limit exceeded: 20 requests per 10 seconds",
    );
    time.now = start + 10 * SECOND - 1;
    expect(take().allowed).toBe(false);
    time.now = start + 10 * SECOND; // the first twenty leave the 10 s window now
    expect(take().allowed).toBe(true);

    // Fill the minute: 20 more at 20 s, 30 s and 40 s (the refusals above did not count).
    for (let i = 0; i < 19; i++) take();
    for (const at of [20, 30, 40]) {
      time.now = start + at * SECOND;
      for (let i = 0; i < 20; i++) expect(take().allowed, `at ${at} s`).toBe(true);
    }
    time.now = start + 50 * SECOND; // the 10 s window is empty, the minute is full
    const minute = take();
    expect(minute).toMatchObject({
      allowed: false,
      retryAfterMs: 10 * SECOND,
      window: { limit: 100, windowMs: MINUTE, remaining: 0 },
    });
    expect(rateLimitMessage(minute.window!)).toBe("Rate limit exceeded: 100 requests per minute");
    time.now = start + MINUTE;
    expect(take()).toMatchObject({ allowed: true });
  });

  it("allows no double burst across a window's edge (a fixed window would allow 200 here)", () => {
    const { time, now } = clock(0);
    const limiter = new RateLimiter(gatewayOnly({ key: [{ limit: 100, windowMs: MINUTE }] }), now);
    time.now = MINUTE - 1; // the last millisecond of a fixed minute
    for (let i = 0; i < 100; i++) expect(limiter.take("gateway", "k", "u").allowed).toBe(true);
    time.now = MINUTE; // a fixed window would start over here
    const next = limiter.take("gateway", "k", "u");
    expect(next).toMatchObject({ allowed: false, retryAfterMs: MINUTE - 1 });
    time.now = 2 * MINUTE - 2;
    expect(limiter.take("gateway", "k", "u").allowed).toBe(false);
    time.now = 2 * MINUTE - 1;
    expect(limiter.take("gateway", "k", "u").allowed).toBe(true);
  });

  it("never lets more than a window's limit through in any stretch of its length (random load)", () => {
    const random = seededRandom(17);
    const windows: RateWindow[] = [
      { limit: 7, windowMs: 1_000 },
      { limit: 30, windowMs: 10_000 },
    ];
    const { time, now } = clock(0);
    const limiter = new RateLimiter(gatewayOnly({ key: windows }), now);
    const allowed: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      time.now += Math.floor(random() * 40);
      if (limiter.take("gateway", "k", "u").allowed) allowed.push(time.now);
    }
    for (const { limit, windowMs } of windows) {
      let from = 0;
      for (let to = 0; to < allowed.length; to++) {
        while ((allowed[to] ?? 0) - (allowed[from] ?? 0) >= windowMs) from++;
        expect(to - from + 1).toBeLessThanOrEqual(limit);
      }
    }
    // And it is no stricter than needed: a good share got through.
    expect(allowed.length).toBeGreaterThan(1000);
  });

  it("a refused request is let through exactly at Retry-After, also for day-long windows", () => {
    const { time, now } = clock(1_234_567);
    const limiter = new RateLimiter(gatewayOnly({ key: [{ limit: 2, windowMs: DAY }] }), now);
    expect(limiter.take("gateway", "k", "u").allowed).toBe(true);
    time.now += 17;
    expect(limiter.take("gateway", "k", "u").allowed).toBe(true);
    time.now += 5 * HOUR;
    const refused = limiter.take("gateway", "k", "u");
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 1_234_567 + DAY - time.now });
    const at = time.now + refused.retryAfterMs;
    time.now = at - 1;
    expect(limiter.take("gateway", "k", "u").allowed).toBe(false);
    time.now = at;
    expect(limiter.take("gateway", "k", "u").allowed).toBe(true);
    expect(limiter.take("gateway", "k", "u")).toMatchObject({ allowed: false, retryAfterMs: 17 });
  });

  it("a window over 100,000 requests shares granules: never early, at most one granule late", () => {
    const { time, now } = clock(5_000_003);
    const limit = 150_000;
    const limiter = new RateLimiter(gatewayOnly({ key: [{ limit, windowMs: HOUR }] }), now);
    const start = time.now;
    let allowed = 0;
    for (let i = 0; i < limit; i++) {
      if (i % 100 === 0) time.now += 1;
      if (limiter.take("gateway", "k", "u").allowed) allowed++;
    }
    expect(allowed).toBe(limit);
    const refused = limiter.take("gateway", "k", "u");
    expect(refused.allowed).toBe(false);
    const trueWait = start + 1 + HOUR - time.now; // the first request leaves then
    expect(refused.retryAfterMs).toBeGreaterThanOrEqual(trueWait);
    expect(refused.retryAfterMs - trueWait).toBeLessThan(HOUR / 100_000);
  });
});

describe("who a window counts", () => {
  it("per user: more keys of one user gain nothing; another user has their own", () => {
    const { now } = clock(0);
    const limits = mergeRateLimits(DEFAULT_RATE_LIMITS, {
      gateway: { key: [{ limit: 2, windowMs: HOUR }] },
    });
    expect(limits.gateway.user).toEqual([{ limit: 2, windowMs: HOUR }]);
    const limiter = new RateLimiter(limits, now);
    expect(limiter.take("gateway", "alice-key-1", "alice").allowed).toBe(true);
    expect(limiter.take("gateway", "alice-key-1", "alice").allowed).toBe(true);
    const minted = limiter.take("gateway", "alice-key-2", "alice");
    expect(minted).toMatchObject({ allowed: false, window: { subject: "user", limit: 2 } });
    expect(limiter.take("gateway", "bob-key", "bob").allowed).toBe(true);
    // Other families keep their own counts.
    expect(limiter.take("discovery", "alice-key-1", "alice").allowed).toBe(true);
  });

  it("per key within a roomier user window, and a global window across users", () => {
    const { now } = clock(0);
    const limiter = new RateLimiter(
      gatewayOnly({
        key: [{ limit: 1, windowMs: HOUR }],
        user: [{ limit: 10, windowMs: HOUR }],
        global: [{ limit: 3, windowMs: HOUR }],
      }),
      now,
    );
    expect(limiter.take("gateway", "a1", "alice").allowed).toBe(true);
    expect(limiter.take("gateway", "a1", "alice").window?.subject).toBe("key");
    expect(limiter.take("gateway", "a2", "alice").allowed).toBe(true);
    expect(limiter.take("gateway", "b1", "bob").allowed).toBe(true);
    expect(limiter.take("gateway", "c1", "carol")).toMatchObject({
      allowed: false,
      window: { subject: "global", limit: 3 },
    });
  });

  it("forgets subjects whose windows emptied", () => {
    const { time, now } = clock(0);
    const limiter = new RateLimiter(gatewayOnly({ key: [{ limit: 5, windowMs: SECOND }] }), now);
    for (let i = 0; i < 5000; i++) limiter.take("gateway", `k${i}`, `u${i}`);
    expect(limiter.trackedGroups).toBe(5000);
    time.now = 2 * SECOND;
    for (let i = 0; i < 5000; i++) limiter.take("gateway", "same", "same");
    expect(limiter.trackedGroups).toBeLessThanOrEqual(1);
  });
});

describe("failed authentications per source address", () => {
  it("a source that failed too often waits until its oldest failure leaves the window", () => {
    const { time, now } = clock(0);
    const throttle = new AuthFailureThrottle([{ limit: 3, windowMs: MINUTE }], now);
    for (let i = 0; i < 3; i++) {
      expect(throttle.blocked("10.0.0.1")).toBeNull();
      throttle.failed("10.0.0.1");
      time.now += SECOND;
    }
    expect(throttle.blocked("10.0.0.1")).toMatchObject({
      retryAfterMs: MINUTE - 3 * SECOND,
      window: { subject: "source", limit: 3 },
    });
    expect(throttle.blocked("10.0.0.2")).toBeNull();
    time.now = MINUTE;
    expect(throttle.blocked("10.0.0.1")).toBeNull();
  });
});

describe("windows as text", () => {
  it("reads and writes LIMIT/LENGTH lists and flag values", () => {
    expect(parseWindows("20/10s,100/1m, 5000/1d")).toEqual([
      { limit: 20, windowMs: 10 * SECOND },
      { limit: 100, windowMs: MINUTE },
      { limit: 5000, windowMs: DAY },
    ]);
    expect(parseWindows("none")).toEqual([]);
    expect(formatWindows(parseWindows("20/10s,100/1m,5000/1d,3/250ms"))).toBe(
      "20/10s,100/1m,5000/1d,3/250ms",
    );
    expect(parseRateLimitSpec("discovery.global=10000/1h")).toEqual({
      family: "discovery",
      subject: "global",
      windows: [{ limit: 10_000, windowMs: HOUR }],
    });
    expect(parseRateLimitSpec("gateway=2/1h").subject).toBe("key");
    for (const bad of ["gateway=100", "gateway=0/1m", "gateway=1/1y", "gateway=1/1m/2", "x/1m"]) {
      expect(() => parseRateLimitSpec(bad), bad).toThrow(/write/);
    }
    expect(() => parseRateLimitSpec("nope=1/1m")).toThrow(/families hub, gateway/);
    expect(() => parseRateLimitSpec("gateway.team=1/1m")).toThrow(/\.key, \.user or \.global/);
    expect([HOUR, MINUTE, DAY, SECOND, 10 * SECOND, 90 * MINUTE].map(windowWords)).toEqual([
      "per hour",
      "per minute",
      "per day",
      "per second",
      "per 10 seconds",
      "per 90 minutes",
    ]);
  });
});
