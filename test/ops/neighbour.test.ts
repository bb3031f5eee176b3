// Another user on the same machine (uid 65534 via setpriv) against the hub's runtime folder.
// With XDG_RUNTIME_DIR unset the folder is <tmp>/hybro-hub-<user>, in a folder everyone may
// write: the neighbour makes it first (open to all, a symlink, or with a fake control socket).
// The hub must refuse such a folder for every command, with one line saying what to do.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { otherUserUnavailable, runAsOtherUser, startAsOtherUser } from "../support/other-user.ts";
import { isRunning } from "../transports/support.ts";
import { type CliResult, cliEnv, runCli } from "./cli-runner.ts";

const NEIGHBOUR = fileURLToPath(new URL("./fixtures/neighbour.mjs", import.meta.url));
const skipReason = otherUserUnavailable ? ` (skipped: ${otherUserUnavailable})` : "";

/** One line on stderr, no stack trace. */
function expectOneLine(result: CliResult, pattern: RegExp): void {
  const said = `stdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.stderr.trim().split("\n"), said).toHaveLength(1);
  expect(result.stderr, said).toMatch(pattern);
  expect(result.stderr, said).not.toMatch(/\n\s+at /);
}

describe.skipIf(otherUserUnavailable)(
  `a neighbour who owns the runtime folder${skipReason}`,
  () => {
    let shared: string;
    let home: string;
    let runtime: string;
    let env: NodeJS.ProcessEnv;
    let stopNeighbour = () => {};
    let decoy: ChildProcess | null = null;

    beforeAll(() => {
      // A stand-in for /tmp: everyone may create in it, sticky like the real one.
      shared = mkdtempSync(join(tmpdir(), "hybro-shared-tmp-"));
      chmodSync(shared, 0o1777);
      home = mkdtempSync(join(tmpdir(), "hybro-victim-"));
      runtime = join(shared, `hybro-hub-${userInfo().username}`);
      env = cliEnv(home, {
        TMPDIR: shared,
        HOME: home,
        XDG_CONFIG_HOME: join(home, "config"),
        XDG_DATA_HOME: join(home, "data"),
        XDG_STATE_HOME: join(home, "state"),
        HYBRO_API_KEY: `hybro_${"a".repeat(40)}`,
        HYBRO_GATEWAY_URL: "http://127.0.0.1:9",
      });
      delete env.HYBRO_HUB_HOME;
      delete env.XDG_RUNTIME_DIR;
    });
    afterEach(() => {
      stopNeighbour();
      stopNeighbour = () => {};
      if (decoy?.exitCode === null) decoy.kill("SIGKILL");
      decoy = null;
      rmSync(runtime, { recursive: true, force: true });
    });
    afterAll(() => {
      rmSync(shared, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    });

    it("status refuses the folder instead of printing the neighbour's answers", async () => {
      const neighbour = await startAsOtherUser(NEIGHBOUR, [runtime, "1"], env);
      stopNeighbour = neighbour.stop;
      const result = await runCli(["status"], { env });
      expect(result.stdout).not.toContain("Neighbour");
      expect(result.code).toBe(1);
      expectOneLine(result, /runtime folder .*hybro-hub-.* belongs to another user \(uid 65534\)/);
      expect(result.stderr).toMatch(/XDG_RUNTIME_DIR|HYBRO_HUB_HOME/);
    });

    it("stop never signals the process the neighbour's socket names", async () => {
      decoy = spawn("sleep", ["300"], { stdio: "ignore" });
      await once(decoy, "spawn");
      const neighbour = await startAsOtherUser(NEIGHBOUR, [runtime, String(decoy.pid)], env);
      stopNeighbour = neighbour.stop;
      const result = await runCli(["stop", "--timeout-ms", "500"], { env });
      expect(isRunning(decoy.pid as number)).toBe(true);
      expect(result.code).toBe(1);
      expectOneLine(result, /belongs to another user/);
    });

    it("start refuses a folder the neighbour made open to all, and writes nothing in it", async () => {
      const neighbour = await startAsOtherUser(NEIGHBOUR, [runtime], env);
      stopNeighbour = neighbour.stop;
      const result = await runCli(["start", "--foreground"], { env, timeoutMs: 15_000 });
      expect(result.code).toBe(1);
      expectOneLine(result, /belongs to another user/);
      expect(readdirSync(runtime)).toEqual([]);
    });

    it("start refuses a symlink planted as the folder and leaves its target alone", async () => {
      const precious = join(home, "precious");
      mkdirSync(precious, { recursive: true });
      writeFileSync(join(precious, "control.sock"), "the victim's own file\n");
      runAsOtherUser("ln", ["-s", precious, runtime]);
      const result = await runCli(["start", "--foreground"], { env, timeoutMs: 15_000 });
      expect(result.code).toBe(1);
      expectOneLine(result, /runtime folder .* is a symbolic link/);
      expect(readdirSync(precious)).toEqual(["control.sock"]);
      rmSync(runtime);
    });
  },
);

describe("a runtime folder of ours that others may enter", () => {
  let home: string;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), "hybro-open-run-"));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("is refused with the chmod that fixes it", async () => {
    const env = cliEnv(home, { HYBRO_API_KEY: `hybro_${"a".repeat(40)}` });
    mkdirSync(join(home, "run"), { recursive: true });
    chmodSync(join(home, "run"), 0o755);
    const result = await runCli(["start", "--foreground"], { env, timeoutMs: 15_000 });
    expect(result.code).toBe(1);
    expectOneLine(
      result,
      /runtime folder .* is open to other users \(mode 0755\); run `chmod 700 /,
    );
    const status = await runCli(["status"], { env });
    expect(status.code).toBe(1);
    expectOneLine(status, /open to other users/);
  });

  it("a symlink of our own is refused too", async () => {
    const env = cliEnv(home, { HYBRO_API_KEY: `hybro_${"a".repeat(40)}` });
    rmSync(join(home, "run"), { recursive: true, force: true });
    mkdirSync(join(home, "elsewhere"), { mode: 0o700 });
    symlinkSync(join(home, "elsewhere"), join(home, "run"));
    const result = await runCli(["status"], { env });
    expect(result.code).toBe(1);
    expectOneLine(result, /is a symbolic link/);
  });
});
