// Background daemons that go wrong: a key the relay refuses, and a daemon that stops answering.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { cliEnv, daemonPidsFor, readAllFiles, runCli } from "./cli-runner.ts";

describe("stopping a daemon that does not answer", () => {
  let relay: DevRelay;
  let home: string;
  afterAll(async () => {
    for (const leftover of daemonPidsFor(home)) process.kill(leftover, "SIGKILL");
    await relay?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("kills it once the bound has passed and cleans up after it", async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-ops-hung-"));
    relay = await startDevRelay({ port: 0, memory: true });
    const { key } = relay.createKey({ name: "hub", scopes: ["*"] });
    const env = cliEnv(home, { HYBRO_GATEWAY_URL: relay.url, HYBRO_API_KEY: key });
    const started = await runCli(["start"], { env });
    expect(started.code, started.stderr).toBe(0);
    const [pid] = daemonPidsFor(home);
    expect(pid).toBeDefined();
    process.kill(pid as number, "SIGSTOP"); // hung: the socket accepts, nobody answers
    const result = await runCli(["stop", "--timeout-ms", "1000"], { env });
    const said = `stdout: ${result.stdout}\nstderr: ${result.stderr}`;
    expect(result.code, said).toBe(0);
    expect(result.stdout, said).toContain(`killed (pid ${pid})`);
    expect(daemonPidsFor(home)).toEqual([]);
    expect(() => statSync(join(home, "run", "control.sock"))).toThrow();
  });
});

describe("background start with a key the relay refuses", () => {
  let relay: DevRelay;
  let home: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-ops-badkey-"));
    relay = await startDevRelay({ port: 0, memory: true });
  });
  afterAll(async () => {
    for (const leftover of daemonPidsFor(home)) process.kill(leftover, "SIGKILL");
    await relay?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("fails with the relay's reason and exit code 3, and leaves nothing running", async () => {
    const unknownKey = `hybro_${randomBytes(30).toString("hex").slice(0, 40)}`;
    const env = cliEnv(home, { HYBRO_GATEWAY_URL: relay.url });
    const saved = await runCli(["config", "set-key"], { env, input: unknownKey });
    expect(saved.code, saved.stderr).toBe(0);
    const result = await runCli(["start"], { env });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/error: .*key/i);
    expect(result.stderr).not.toContain(unknownKey);
    await sleep(200);
    expect(daemonPidsFor(home)).toEqual([]);
    const status = await runCli(["status"], { env });
    expect(status.code).toBe(4);
    for (const file of readAllFiles(join(home, "log"))) expect(file.text).not.toContain(unknownKey);
  });
});
