import { describe, expect, it } from "vitest";
import { backoffDelayMs, ExitWindow } from "../../src/agents/transports/supervision.ts";

describe("backoffDelayMs", () => {
  it("doubles per attempt up to the cap, with the jitter in [cap/2, cap]", () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffDelayMs(n, 500, 3000, () => 0))).toEqual([
      250, 500, 1000, 1500, 1500,
    ]);
    expect([0, 1, 2, 3, 10].map((n) => backoffDelayMs(n, 500, 3000, () => 1))).toEqual([
      500, 1000, 2000, 3000, 3000,
    ]);
    expect(backoffDelayMs(1_000, 500, 30_000, () => 0.5)).toBe(22_500);
  });
});

describe("ExitWindow", () => {
  it("calls it a crash loop at the limit within the window, forgetting older exits", () => {
    const w = new ExitWindow(3, 1000);
    expect(w.record(0)).toBe(false);
    expect(w.record(600)).toBe(false);
    expect(w.record(1200)).toBe(false); // the exit at 0 fell out of the window
    expect(w.record(1300)).toBe(true);
    w.clear();
    expect(w.record(1400)).toBe(false);
  });
});
