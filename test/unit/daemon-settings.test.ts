import { describe, expect, it } from "vitest";
import {
  DAEMON_ENV,
  DAEMON_NODE_FLAGS,
  daemonEnv,
  daemonNodeFlags,
} from "../../src/system/daemon-settings.ts";

describe("the daemon's Node flags", () => {
  it("are all given when the user set none", () => {
    expect(daemonNodeFlags([], "")).toEqual([...DAEMON_NODE_FLAGS]);
    expect(DAEMON_NODE_FLAGS).toEqual(["--max-semi-space-size=4", "--max-old-space-size=512"]);
  });

  it("leave a setting the user gave on the command line or in NODE_OPTIONS (either spelling)", () => {
    expect(daemonNodeFlags(["--max-semi-space-size=8"], "")).toEqual(["--max-old-space-size=512"]);
    expect(
      daemonNodeFlags([], "--inspect --max_semi_space_size=4 --max-old-space-size=2048"),
    ).toEqual([]);
    expect(daemonNodeFlags(["--expose-gc"], "--trace-warnings")).toEqual([...DAEMON_NODE_FLAGS]);
  });
});

describe("the daemon's environment", () => {
  it("adds the malloc setting, and leaves a value the user set", () => {
    expect(DAEMON_ENV).toEqual({ MALLOC_MMAP_THRESHOLD_: "131072" });
    expect(daemonEnv({ PATH: "/bin" })).toEqual({ PATH: "/bin", MALLOC_MMAP_THRESHOLD_: "131072" });
    expect(daemonEnv({ MALLOC_MMAP_THRESHOLD_: "65536" }).MALLOC_MMAP_THRESHOLD_).toBe("65536");
  });
});
