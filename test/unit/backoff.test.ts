import { describe, expect, it } from "vitest";
import {
  backoffCeilingMs,
  equalJitterMs,
  fullJitterDelayMs,
  nextHeartbeatIntervalMs,
} from "../../src/async/backoff.ts";
import { seededRandom } from "../relay/scripted-server.ts";

describe("backoff", () => {
  it("doubles the ceiling per attempt up to the cap", () => {
    expect([0, 1, 2, 3, 6, 7, 100].map((n) => backoffCeilingMs(n, 1000, 60_000))).toEqual([
      1000, 2000, 4000, 8000, 60_000, 60_000, 60_000,
    ]);
  });

  it("full jitter stays in [0, ceiling) and is reproducible with a seed", () => {
    const first = seededRandom(42);
    const second = seededRandom(42);
    const a: number[] = [];
    const b: number[] = [];
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const delay = fullJitterDelayMs(attempt % 10, 1000, 60_000, first);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(backoffCeilingMs(attempt % 10, 1000, 60_000));
      a.push(delay);
      b.push(fullJitterDelayMs(attempt % 10, 1000, 60_000, second));
    }
    expect(a).toEqual(b);
    // Spread out, not clumped at one end.
    const late = a.filter((_, i) => i % 10 >= 6);
    expect(Math.min(...late)).toBeLessThan(20_000);
    expect(Math.max(...late)).toBeGreaterThan(40_000);
  });

  it("survives a broken random source", () => {
    expect(fullJitterDelayMs(3, 1000, 60_000, () => 1)).toBeLessThan(8000);
    expect(fullJitterDelayMs(3, 1000, 60_000, () => Number.NaN)).toBe(0);
    expect(fullJitterDelayMs(3, 1000, 60_000, () => -1)).toBe(0);
  });

  it("heartbeat period doubles to its cap and its jitter never exceeds the nominal value", () => {
    let interval = 30_000;
    const seen: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      interval = nextHeartbeatIntervalMs(interval, 300_000);
      seen.push(interval);
    }
    expect(seen).toEqual([60_000, 120_000, 240_000, 300_000, 300_000, 300_000]);
    const random = seededRandom(7);
    for (let i = 0; i < 100; i += 1) {
      const delay = equalJitterMs(300_000, random);
      expect(delay).toBeGreaterThanOrEqual(150_000);
      expect(delay).toBeLessThan(300_000);
    }
  });
});
