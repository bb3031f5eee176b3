// A key on a command line is readable by every local user (`ps`, /proc/<pid>/cmdline) for as
// long as the process lives, and stays in shell history. No hub process may carry one; the
// README never shows one; the development relay takes its admin key from the environment.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/devrelay/api-key.ts";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { cliEnv, daemonPidsFor, REPO_ROOT, runCli, runCliUntil } from "./cli-runner.ts";

describe("a key on the command line", () => {
  let relay: DevRelay;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let key: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-argv-"));
    relay = await startDevRelay({ port: 0, memory: true });
    key = relay.createKey({ name: "hub", scopes: ["*"] }).key;
    env = cliEnv(home, { HYBRO_GATEWAY_URL: relay.url });
  });
  afterAll(async () => {
    for (const leftover of daemonPidsFor(home)) process.kill(leftover, "SIGKILL");
    await relay?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("never stays in a running hub's argv: start --foreground --api-key is refused", async () => {
    const run = await runCliUntil(["start", "--foreground", "--api-key", key], env, /hub ready/);
    if (run.exited === null) {
      // It runs: its command line must not hold the key.
      const cmdline = readFileSync(`/proc/${run.child.pid}/cmdline`, "utf8");
      run.child.kill("SIGKILL");
      expect(cmdline).not.toContain(key);
    }
    expect(run.exited).toBe(2);
    expect(run.output.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.output.stderr).toMatch(/--api-key is not accepted.*config set-key.*HYBRO_API_KEY/);
    expect(run.output.stderr).not.toContain(key);
  });

  it("background start --api-key is refused too, and saves nothing", async () => {
    const result = await runCli(["start", "--api-key", key], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--api-key is not accepted/);
    expect(result.stderr).not.toContain(key);
    expect(daemonPidsFor(home)).toEqual([]);
    expect(() => readFileSync(join(home, "config", "config.json"), "utf8")).toThrow();
  });

  it("the relay warns about --admin-key and takes HYBRO_RELAY_ADMIN_KEY instead", async () => {
    const admin = generateApiKey();
    const relayEnv = cliEnv(home, { HYBRO_RELAY_ADMIN_KEY: admin });
    const fromEnv = await runCliUntil(
      ["relay", "--memory", "--port", "0", "--log-level", "silent"],
      relayEnv,
      /relay listening on (\S+)/,
    );
    const url = /relay listening on (\S+)/.exec(fromEnv.output.stdout)?.[1] as string;
    const verified = await fetch(`${url}/api/v1/auth/verify`, { headers: { "x-api-key": admin } });
    fromEnv.child.kill("SIGTERM");
    expect(verified.status).toBe(200);
    expect(fromEnv.output.stderr).not.toContain("warning");

    const onArgv = await runCliUntil(
      ["relay", "--memory", "--port", "0", "--log-level", "silent", "--admin-key", admin],
      cliEnv(home),
      /relay listening on/,
    );
    onArgv.child.kill("SIGTERM");
    expect(onArgv.output.stderr).toMatch(/warning: --admin-key .* HYBRO_RELAY_ADMIN_KEY/);
    expect(onArgv.output.stderr).not.toContain(admin);
  });
});

describe("the README", () => {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);

  it("puts no key on a command line", () => {
    expect(commands.length).toBeGreaterThan(0);
    for (const block of commands) {
      expect(block).not.toMatch(/--api-key\s+(?!-file)\S/);
      expect(block).not.toMatch(/--admin-key\s+\S/);
    }
    expect(readme).not.toMatch(/start --api-key/);
  });

  it("shows config set-key and HYBRO_RELAY_ADMIN_KEY instead", () => {
    expect(commands.join("\n")).toMatch(/hybro-hub config set-key/);
    expect(commands.join("\n")).toMatch(/HYBRO_RELAY_ADMIN_KEY=/);
  });
});
