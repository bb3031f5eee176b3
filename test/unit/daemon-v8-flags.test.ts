import { describe, expect, it } from "vitest";
import { DAEMON_V8_FLAGS, daemonV8FlagsToSet } from "../../src/cli/daemon-v8-flags.ts";

describe("the daemon's V8 flags", () => {
  it("sets all of them when the user gave none", () => {
    expect(daemonV8FlagsToSet([], "")).toEqual([...DAEMON_V8_FLAGS]);
  });

  it("leaves a flag the user gave on the command line or in NODE_OPTIONS (either spelling)", () => {
    expect(daemonV8FlagsToSet(["--max-semi-space-size=8"], "")).toEqual(["--optimize-for-size"]);
    expect(daemonV8FlagsToSet([], "--inspect --max_semi_space_size=4")).toEqual([
      "--optimize-for-size",
    ]);
    expect(daemonV8FlagsToSet(["--optimize-for-size"], "--max-semi-space-size=2")).toEqual([]);
  });
});
