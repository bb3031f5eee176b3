// The daemon process's parts: started in order, the started ones closed in reverse, whatever
// ended the run (a part that refused to start, or a close that failed).
import { describe, expect, it } from "vitest";
import { type Part, StartedParts, StartRefused } from "../../src/daemon/parts.ts";

function recorded(log: string[], name: string, fail?: "start" | "close"): Part {
  return {
    name,
    start() {
      if (fail === "start") throw new StartRefused(`${name} refused`, 2);
      log.push(`start ${name}`);
    },
    close() {
      log.push(`close ${name}`);
      if (fail === "close") throw new Error(`${name} failed to close`);
    },
  };
}

describe("StartedParts", () => {
  it("starts in order and closes in reverse", async () => {
    const log: string[] = [];
    const parts = new StartedParts();
    await parts.start(["a", "b", "c"].map((name) => recorded(log, name)));
    await parts.close(() => {});
    expect(log).toEqual(["start a", "start b", "start c", "close c", "close b", "close a"]);
  });

  it("stops at a part that refuses and closes only the ones started before it", async () => {
    const log: string[] = [];
    const parts = new StartedParts();
    const started = parts.start([
      recorded(log, "a"),
      recorded(log, "b", "start"),
      recorded(log, "c"),
    ]);
    await expect(started).rejects.toMatchObject({ message: "b refused", exitCode: 2 });
    await parts.close(() => {});
    expect(log).toEqual(["start a", "close a"]);
  });

  it("closes the others when one close fails, and reports it; a second close does nothing", async () => {
    const log: string[] = [];
    const failed: string[] = [];
    const parts = new StartedParts();
    await parts.start([recorded(log, "a"), recorded(log, "b", "close"), recorded(log, "c")]);
    await parts.close((part, error) => failed.push(`${part.name}: ${(error as Error).message}`));
    await parts.close(() => failed.push("closed twice"));
    expect(log).toEqual(["start a", "start b", "start c", "close c", "close b", "close a"]);
    expect(failed).toEqual(["b: b failed to close"]);
  });
});
