// The exit codes the README's table gives for the command line itself: help and version 0, a bad
// flag or a missing argument 2 (commander's own default would be 1).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packageVersion } from "../../src/system/version.ts";
import { cliEnv, runCli } from "./cli-runner.ts";

describe("hybro-hub's own exit codes", () => {
  const home = mkdtempSync(join(tmpdir(), "hybro-usage-"));
  const env = cliEnv(home);
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("help and version exit 0; an unknown option, a missing argument or a bad choice exit 2", async () => {
    const [help, version, unknown, missing, choice, devUnknown] = await Promise.all([
      runCli(["--help"], { env }),
      runCli(["--version"], { env }),
      runCli(["start", "--no-such-flag"], { env }),
      runCli(["config", "set", "gateway-url"], { env }),
      runCli(["dev", "--log-level", "loud"], { env }),
      runCli(["dev", "--no-such-flag"], { env }),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("init");
    expect(version).toMatchObject({ code: 0, stdout: `${packageVersion()}\n` });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--no-such-flag'");
    expect(missing.code).toBe(2);
    expect(choice.code).toBe(2);
    expect(devUnknown.code).toBe(2); // `dev` alone is loaded on its own (see main.ts)
  });
});
