// `hybro-hub config set-key` without a running hub: from a file or stdin, never argv; format
// checked; saved with mode 0600; the service's credential copy kept equal.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv, runCli } from "./cli-runner.ts";

const KEY = "hybro_ConfigSetKeyTest0123456789abcdefABCDEF";

describe("config set-key", () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), "hybro-setkey-"));
    env = cliEnv(home);
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("refuses something that is not a Hybro key and saves nothing", async () => {
    const result = await runCli(["config", "set-key"], { env, input: "sk-not-a-hybro-key\n" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('must start with "hybro_"');
    expect(() => statSync(join(home, "config", "config.json"))).toThrow();
  });

  it("saves a key from a file with mode 0600 and updates the service's key file", async () => {
    mkdirSync(join(home, "config"), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "config", "api-key"), "hybro_old\n", { mode: 0o600 });
    writeFileSync(join(home, "key.txt"), `${KEY}\n`);
    const result = await runCli(["config", "set-key", "--from-file", join(home, "key.txt")], {
      env,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("hybro-hub is not running; it uses the new key when it starts");
    expect(result.stdout).not.toContain(KEY);
    const file = join(home, "config", "config.json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ apiKey: KEY });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(home, "config", "api-key"), "utf8").trim()).toBe(KEY);
  });

  it("takes no key on the command line", async () => {
    const result = await runCli(["config", "set-key", KEY], { env });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("too many arguments");
  });
});
