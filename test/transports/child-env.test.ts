import { describe, expect, it } from "vitest";
import { childEnv, expandHome } from "../../src/agents/transports/child-env.ts";

describe("childEnv", () => {
  const parent = {
    PATH: "/usr/bin",
    HOME: "/home/me",
    LANG: "en_US.UTF-8",
    LC_ALL: "C",
    TZ: "UTC",
    HYBRO_API_KEY: "hk_secret_value_123",
    AWS_SECRET_ACCESS_KEY: "aws",
    GITHUB_TOKEN: "gh",
    NODE_OPTIONS: "--inspect",
    RANDOM_THING: "x",
  };

  it("inherits only the allowlist and LC_*", () => {
    expect(childEnv(undefined, parent, "/home/me")).toEqual({
      env: { PATH: "/usr/bin", HOME: "/home/me", LANG: "en_US.UTF-8", LC_ALL: "C", TZ: "UTC" },
      refused: [],
    });
  });

  it("never inherits a secret-looking name, even an allowlisted-looking one", () => {
    const { env } = childEnv(undefined, { ...parent, LC_API_KEY: "x", TERM_TOKEN: "y" }, "/h");
    expect(env.LC_API_KEY).toBeUndefined();
    expect(env.TERM_TOKEN).toBeUndefined();
  });

  it("adds the entry's env, expanding ~/, but refuses the hub's key by name or value", () => {
    const { env, refused } = childEnv(
      {
        NOTES: "~/notes",
        OWN_TOKEN: "agent-token",
        HYBRO_API_KEY: "anything",
        COPY: "hk_secret_value_123",
        PATH: "/opt/bin",
      },
      parent,
      "/home/me",
    );
    expect(env).toMatchObject({
      NOTES: "/home/me/notes",
      OWN_TOKEN: "agent-token",
      PATH: "/opt/bin",
    });
    expect(env.HYBRO_API_KEY).toBeUndefined();
    expect(env.COPY).toBeUndefined();
    expect(refused.sort()).toEqual(["COPY", "HYBRO_API_KEY"]);
  });
});

describe("expandHome", () => {
  it("expands ~ and ~/ only", () => {
    expect(expandHome("~", "/h")).toBe("/h");
    expect(expandHome("~/a/b", "/h")).toBe("/h/a/b");
    expect(expandHome("~bob/x", "/h")).toBe("~bob/x");
    expect(expandHome("/abs/~/x", "/h")).toBe("/abs/~/x");
    expect(expandHome("rel", "/h")).toBe("rel");
  });
});
