import { describe, expect, it } from "vitest";
import { DAEMON_NODE_FLAGS, daemonNodeFlags } from "../../src/system/daemon-node-flags.ts";

describe("the daemon's Node flags", () => {
  it("are all given when the user set none", () => {
    expect(daemonNodeFlags([], "")).toEqual([...DAEMON_NODE_FLAGS]);
    expect(DAEMON_NODE_FLAGS).toContain("--max-semi-space-size=4");
  });

  it("leave a setting the user gave on the command line or in NODE_OPTIONS (either spelling)", () => {
    expect(daemonNodeFlags(["--max-semi-space-size=8"], "")).toEqual([]);
    expect(daemonNodeFlags([], "--inspect --max_semi_space_size=4")).toEqual([]);
    expect(daemonNodeFlags(["--expose-gc"], "--trace-warnings")).toEqual([...DAEMON_NODE_FLAGS]);
  });
});
