// The one Backoff's growth and jitter draws, with seeded and broken random sources.
import { describe, expect, it } from "vitest";
import { Backoff, type Jitter, type Random } from "../../src/async/backoff.ts";
import { seededRandom } from "../relay/scripted-server.ts";

const backoff = (jitter: Jitter, random: Random, baseDelayMs = 1000, maxDelayMs = 60_000) =>
  new Backoff({ baseDelayMs, maxDelayMs, jitter }, { random });

describe("backoff", () => {
  it("doubles the ceiling per failure up to the cap", () => {
    const b = backoff("full", () => 0);
    const ceilings: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      ceilings.push(b.nextCeilingMs());
      b.nextDelayMs();
    }
    expect(ceilings).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    b.reset();
    expect(b.nextCeilingMs()).toBe(1000);
  });

  it("full jitter stays in [0, ceiling) and is reproducible with a seed", () => {
    const first = backoff("full", seededRandom(42));
    const second = backoff("full", seededRandom(42));
    const a: number[] = [];
    const b: number[] = [];
    for (let attempt = 0; attempt < 200; attempt += 1) {
      if (attempt % 10 === 0) {
        first.reset();
        second.reset();
      }
      const ceiling = first.nextCeilingMs();
      const delay = first.nextDelayMs();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(ceiling);
      a.push(delay);
      b.push(second.nextDelayMs());
    }
    expect(a).toEqual(b);
    // Spread out, not clumped at one end.
    const late = a.filter((_, i) => i % 10 >= 6);
    expect(Math.min(...late)).toBeLessThan(20_000);
    expect(Math.max(...late)).toBeGreaterThan(40_000);
  });

  it("survives a broken random source", () => {
    expect(backoff("full", () => 1).delayAfterMs(3)).toBeLessThan(8000);
    expect(backoff("full", () => Number.NaN).delayAfterMs(3)).toBe(0);
    expect(backoff("full", () => -1).delayAfterMs(3)).toBe(0);
    expect(backoff("equal", () => 1).delayAfterMs(3)).toBeLessThan(8000);
    expect(backoff("equal", () => Number.NaN).delayAfterMs(3)).toBe(4000);
  });

  it("delayAfterMs draws for a given step without counting a failure", () => {
    const b = backoff("equal", () => 0, 30_000, 300_000);
    expect([0, 1, 2, 3, 4].map((n) => b.delayAfterMs(n))).toEqual([
      15_000, 30_000, 60_000, 120_000, 150_000,
    ]);
    expect(b.failures).toBe(0);
  });

  it("equal jitter never exceeds the ceiling and waits at least half of it", () => {
    const b = backoff("equal", seededRandom(7), 300_000, 300_000);
    for (let i = 0; i < 100; i += 1) {
      const delay = b.nextDelayMs();
      expect(delay).toBeGreaterThanOrEqual(150_000);
      expect(delay).toBeLessThan(300_000);
    }
  });
});
