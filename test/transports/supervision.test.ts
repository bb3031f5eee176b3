import { describe, expect, it } from "vitest";
import { ExitWindow } from "../../src/agents/transports/supervision.ts";

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
