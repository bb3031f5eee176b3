import { describe, expect, it } from "vitest";
import { StreamHealth, type StreamHealthSettings } from "../../src/relay/stream-health.ts";

const HUB = "abcdefabcdefabcdefabcdefabcdefab";
const SETTINGS: StreamHealthSettings = {
  duplicateHubCloses: 3,
  duplicateHubWindowMs: 600_000,
  slowReconnectBaseMs: 30_000,
  slowReconnectMaxMs: 600_000,
};

function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** The lowest and highest value `floorMs` can take (equal jitter: [ceiling/2, ceiling)). */
function floorRange(health: StreamHealth): [number, number] {
  return [health.floorMs(() => 0), health.floorMs(() => 0.999_999)];
}

describe("StreamHealth: the relay refuses the hub", () => {
  it("one normal retry after the first refusal, then slow and growing to the cap", () => {
    const time = clock();
    const health = new StreamHealth(HUB, SETTINGS, time.now);
    const first = health.ended({ kind: "refused", reason: "Hub not owned by this API key" });
    expect(first.started).toBe(true);
    expect(first.problem).toMatchObject({
      kind: "refused",
      reason: "Hub not owned by this API key",
      sessions: 1,
      since: time.now(),
    });
    expect(first.problem?.message).toContain(`hub id ${HUB}: "Hub not owned by this API key"`);
    expect(first.problem?.message).toContain("another account's key");
    // The first refusal gets one normal retry (after registering again): no floor.
    expect(floorRange(health)).toEqual([0, 0]);

    const ceilings: number[] = [];
    for (let i = 0; i < 7; i++) {
      time.advance(1000);
      const verdict = health.ended({ kind: "refused", reason: "Hub not owned by this API key" });
      expect(verdict.started).toBe(false); // said once
      const [low, high] = floorRange(health);
      expect(low).toBe(Math.floor(high / 2 + 0.5)); // equal jitter below the ceiling
      ceilings.push(Math.round(high / 1000) * 1000);
    }
    expect(ceilings).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
    expect(health.problem()?.sessions).toBe(8);
  });

  it("connection_ready ends it and starts the count over; a new reason is said again", () => {
    const time = clock();
    const health = new StreamHealth(HUB, SETTINGS, time.now);
    health.ended({ kind: "refused", reason: "Unknown hub" });
    health.ended({ kind: "refused", reason: "Unknown hub" });
    expect(floorRange(health)[0]).toBeGreaterThan(0);
    expect(health.ready()?.kind).toBe("refused");
    expect(health.problem()).toBeNull();
    expect(floorRange(health)).toEqual([0, 0]);
    health.ended({ kind: "closed", ready: true });
    expect(health.ended({ kind: "refused", reason: "Unknown hub" }).started).toBe(true);
    expect(floorRange(health)).toEqual([0, 0]); // a first refusal again
    const changed = health.ended({ kind: "refused", reason: "Hub not owned by this API key" });
    expect(changed.started).toBe(true);
    expect(changed.problem?.sessions).toBe(1);
  });
});

describe("StreamHealth: another hub with the same id", () => {
  it("three clean ends of opened streams within the window make the pattern", () => {
    const time = clock();
    const health = new StreamHealth(HUB, SETTINGS, time.now);
    for (let i = 0; i < 2; i++) {
      health.ready();
      time.advance(5_000);
      expect(health.ended({ kind: "closed", ready: true }).problem).toBeNull();
      time.advance(2_000);
    }
    expect(floorRange(health)).toEqual([0, 0]);
    health.ready();
    time.advance(5_000);
    const verdict = health.ended({ kind: "closed", ready: true });
    expect(verdict.started).toBe(true);
    expect(verdict.problem?.kind).toBe("duplicate_hub");
    expect(verdict.problem?.message).toMatch(
      new RegExp(
        `^another hub is using hub id ${HUB} — is hybro-hub running twice, or was the data directory copied\\?`,
      ),
    );
    expect(floorRange(health)).toEqual([15_000, 29_999]);
    health.ready();
    time.advance(40_000);
    const again = health.ended({ kind: "closed", ready: true });
    expect(again.started).toBe(false);
    expect(again.problem?.sessions).toBe(4);
    expect(floorRange(health)).toEqual([30_000, 59_999]);
  });

  it("failures, streams that end before connection_ready and spread-out ends do not count", () => {
    const time = clock();
    const health = new StreamHealth(HUB, SETTINGS, time.now);
    for (let i = 0; i < 10; i++) {
      health.ended({ kind: "failed" });
      health.ended({ kind: "closed", ready: false });
    }
    expect(health.problem()).toBeNull();
    // One clean end every 5 minutes: never three within 10 minutes.
    for (let i = 0; i < 6; i++) {
      health.ready();
      time.advance(300_000);
      expect(health.ended({ kind: "closed", ready: true }).problem).toBeNull();
    }
  });

  it("wears off once a stream stays open a whole window", () => {
    const time = clock();
    const health = new StreamHealth(HUB, SETTINGS, time.now);
    for (let i = 0; i < 3; i++) {
      health.ready();
      time.advance(1_000);
      health.ended({ kind: "closed", ready: true });
    }
    expect(health.problem()?.kind).toBe("duplicate_hub");
    health.ready();
    time.advance(599_999);
    expect(health.problem()?.kind).toBe("duplicate_hub");
    time.advance(1);
    expect(health.problem()).toBeNull();
    expect(floorRange(health)).toEqual([0, 0]);
    // The count starts over: one more clean end is not the pattern.
    expect(health.ended({ kind: "closed", ready: true }).problem).toBeNull();
  });

  it("a refusal takes precedence and does not read as a duplicate", () => {
    const time = clock();
    const health = new StreamHealth(HUB, SETTINGS, time.now);
    health.ended({ kind: "refused", reason: "x" });
    for (let i = 0; i < 3; i++) health.ended({ kind: "closed", ready: true });
    expect(health.problem()?.kind).toBe("refused");
  });
});
