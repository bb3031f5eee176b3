// One hub per data folder, whatever happens to the runtime folder: the hub holds an advisory
// lock in its data folder for its whole life, and `stop` signals only a process it has proven
// is that hub (never one named by a leftover file or a command line that says "hybro").
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { isRunning } from "../transports/support.ts";
import { cliEnv, daemonPidsFor, runCli } from "./cli-runner.ts";

const LOCK_HOLDER = fileURLToPath(new URL("./fixtures/lock-holder.ts", import.meta.url));

function startDecoy(): Promise<ChildProcess> {
  // A process of ours whose command line mentions hybro, as an unrelated tool's might.
  const decoy = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "hybro-decoy"], {
    stdio: "ignore",
  });
  return once(decoy, "spawn").then(() => decoy);
}

describe("the hub lock", () => {
  let relay: DevRelay;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];
  /** Environments of hubs started outside HYBRO_HUB_HOME, stopped after each test. */
  const extraEnvs: NodeJS.ProcessEnv[] = [];

  beforeAll(async () => {
    relay = await startDevRelay({ port: 0, memory: true });
  });
  afterEach(async () => {
    for (const each of [env, ...extraEnvs.splice(0)]) {
      await runCli(["stop", "--timeout-ms", "5000"], { env: each }).catch(() => {});
    }
    for (const leftover of daemonPidsFor(home)) process.kill(leftover, "SIGKILL");
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(home, { recursive: true, force: true });
  });
  afterAll(async () => {
    await relay?.close();
  });

  const freshHome = () => {
    home = mkdtempSync(join(tmpdir(), "hybro-lock-"));
    const { key } = relay.createKey({ name: "hub", scopes: ["*"] });
    env = cliEnv(home, { HYBRO_GATEWAY_URL: relay.url, HYBRO_API_KEY: key });
  };

  it("finds a hub whose runtime folder was removed: status says so, start refuses, stop stops it", async () => {
    freshHome();
    const started = await runCli(["start"], { env });
    expect(started.code, started.stderr).toBe(0);
    const [pid] = daemonPidsFor(home);
    expect(pid).toBeDefined();
    rmSync(join(home, "run"), { recursive: true, force: true });

    const status = await runCli(["status"], { env });
    expect(status.code, status.stderr).toBe(1);
    expect(status.stderr).toMatch(
      new RegExp(`hybro-hub is running \\(pid ${pid}\\) but its control socket .* does not answer`),
    );

    const second = await runCli(["start"], { env });
    expect(second.code, second.stdout).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`already running \\(pid ${pid}`));
    expect(daemonPidsFor(home)).toEqual([pid]);

    const stopped = await runCli(["stop", "--timeout-ms", "10000"], { env });
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain(`stopped (pid ${pid})`);
    expect(daemonPidsFor(home)).toEqual([]);
  });

  it("refuses a second hub on the same data folder even with another runtime folder", async () => {
    freshHome();
    // Same data, config and logs; two runtime folders (two XDG_RUNTIME_DIR values, say).
    const xdg = { ...env };
    delete xdg.HYBRO_HUB_HOME;
    Object.assign(xdg, {
      XDG_DATA_HOME: join(home, "xdg-data"),
      XDG_CONFIG_HOME: join(home, "xdg-config"),
      XDG_STATE_HOME: join(home, "xdg-state"),
    });
    const inRuntime = (name: string) => {
      mkdirSync(join(home, name), { mode: 0o700 });
      return { ...xdg, XDG_RUNTIME_DIR: join(home, name) };
    };
    const envA = inRuntime("runtime-a");
    const envB = inRuntime("runtime-b");
    extraEnvs.push(envA, envB);
    const a = await runCli(["start"], { env: envA });
    expect(a.code, a.stderr).toBe(0);
    const b = await runCli(["start"], { env: envB });
    expect(b.code, b.stdout).toBe(1);
    expect(b.stderr).toMatch(/already running \(pid \d+.*hub\.lock/);
    expect(daemonPidsFor(home, `XDG_DATA_HOME=${join(home, "xdg-data")}`)).toHaveLength(1);
  });

  it("stop leaves alone a process a leftover pid file names, even one that says hybro", async () => {
    freshHome();
    const decoy = await startDecoy();
    children.push(decoy);
    mkdirSync(join(home, "run"), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "run", "hub.pid"), `${decoy.pid}\n`);
    const result = await runCli(["stop", "--timeout-ms", "500"], { env });
    expect(result.stdout).toContain("not running");
    expect(isRunning(decoy.pid as number)).toBe(true);
  });

  it("stop does not believe a lock record that names another process", async () => {
    freshHome();
    const decoy = await startDecoy();
    children.push(decoy);
    const holder = spawn(process.execPath, [LOCK_HOLDER, join(home, "data")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(holder);
    const [line] = (await once(holder.stdout, "data")) as [Buffer];
    expect(line.toString()).toContain("holding");
    // The record is rewritten to name the decoy, with a start time that is not the decoy's.
    writeFileSync(
      join(home, "data", "hub.lock.holder"),
      `${JSON.stringify({ pid: decoy.pid, start: "linux:not-its-start" })}\n`,
    );
    const result = await runCli(["stop", "--timeout-ms", "1000"], { env });
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(isRunning(decoy.pid as number)).toBe(true);
  });
});
