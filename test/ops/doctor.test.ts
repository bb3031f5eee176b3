// `hybro-hub doctor` against the development relay: a good setup passes every line; a refused
// key, a private file left readable and a broken agents file each fail with a fix.
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Check, runDoctor } from "../../src/cli/doctor.ts";
import { hubPaths } from "../../src/config/paths.ts";
import { controlSocketPath } from "../../src/config/runtime-files.ts";
import type { DaemonStatus } from "../../src/control/protocol.ts";
import { ControlServer } from "../../src/control/server.ts";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { cliEnv, daemonPidsFor, REPO_ROOT, runCli } from "./cli-runner.ts";

describe("hybro-hub doctor", () => {
  let relay: DevRelay;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let key: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-doctor-"));
    relay = await startDevRelay({ port: 0, memory: true });
    key = relay.createKey({ userId: "alice", name: "laptop", scopes: ["*"] }).key;
    mkdirSync(join(home, "config"), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "config", "config.json"), JSON.stringify({ apiKey: key }), {
      mode: 0o600,
    });
    writeFileSync(
      join(home, "config", "agents.json"),
      JSON.stringify({ agents: [{ name: "A", url: "http://127.0.0.1:9" }] }),
    );
    env = cliEnv(home, { HYBRO_GATEWAY_URL: relay.url });
  });
  afterAll(async () => {
    await relay?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const doctor = async () => {
    const result = await runCli(["doctor", "--json"], { env });
    const checks = JSON.parse(result.stdout) as Check[];
    return {
      code: result.code,
      checks,
      byName: (name: string) => checks.find((check) => check.name === name),
    };
  };

  it("passes a good setup: key accepted, relay reachable, clock in sync, files valid and private", async () => {
    const { code, checks, byName } = await doctor();
    expect(checks.filter((check) => check.result === "FAIL")).toEqual([]);
    expect(code).toBe(0);
    expect(byName("key at the relay")).toMatchObject({
      result: "PASS",
      detail: 'accepted (key "laptop" of alice)',
    });
    expect(byName("relay")?.result).toBe("PASS");
    expect(byName("clock")?.result).toBe("PASS");
    expect(byName("agents file")).toMatchObject({ result: "PASS" });
    expect(byName("config file permissions")?.result).toBe("PASS");
    expect(byName("daemon")?.result).toBe("INFO");
    const text = await runCli(["doctor"], { env });
    expect(text.stdout).toMatch(/^PASS {2}key at the relay: accepted/m);
    expect(text.stdout).not.toContain(key);
  });

  it("fails each problem with a fix, and exits 1", async () => {
    relay.revokeKey(relay.listKeys("alice")[0]?.id ?? "");
    chmodSync(join(home, "config", "config.json"), 0o644);
    writeFileSync(join(home, "config", "agents.json"), '{"agents": [{"name": ""}]}');
    const { code, byName } = await doctor();
    expect(code).toBe(1);
    expect(byName("key at the relay")).toMatchObject({
      result: "FAIL",
      fix: expect.stringContaining("config set-key"),
    });
    expect(byName("config file permissions")).toMatchObject({
      result: "FAIL",
      fix: `chmod 600 ${join(home, "config", "config.json")}`,
    });
    expect(byName("agents file")?.result).toBe("FAIL");
  });

  it("says when a stdio agent's script is not where the agents file points, and not after init", async () => {
    // agents.example.json copied alone: its echo agent's script stayed behind.
    writeFileSync(
      join(home, "config", "agents.json"),
      readFileSync(join(REPO_ROOT, "agents.example.json"), "utf8"),
    );
    const { byName } = await doctor();
    expect(byName('agent "Echo"')).toMatchObject({
      result: "FAIL",
      detail: `examples/echo-stdio-agent.mjs not found in ${join(home, "config")} (its cwd), so the agent cannot start`,
      fix: expect.stringContaining("hybro-hub init"),
    });
    expect((await runCli(["init", "--force"], { env })).code).toBe(0);
    const after = await doctor();
    expect(after.byName("agents file")?.result).toBe("PASS");
    expect(after.byName('agent "Echo"')).toBeUndefined();
  });

  it("fails the relay stream when the running hub reports a setup problem", async () => {
    const paths = hubPaths({ HYBRO_HUB_HOME: home });
    const refused =
      'the relay refused the command stream of hub id 0123: "Hub not owned by this API key". …';
    const status = {
      relay: {
        connection: "backoff",
        problem: {
          kind: "refused",
          message: refused,
          since: "2030-01-01T00:00:00.000Z",
          sessions: 2,
        },
      },
      pid: 7,
    } as unknown as DaemonStatus;
    const server = new ControlServer({
      socketPath: controlSocketPath(paths),
      logger: silentLogger(),
      handlers: {
        status: () => status,
        agents: () => [],
        stop: () => ({ pid: 7, stopping: true }),
        "reload-key": () => {
          throw new Error("no");
        },
      },
    });
    await server.listen();
    try {
      const checks = await runDoctor(paths, { gatewayUrl: relay.url });
      expect(checks.find((check) => check.name === "relay stream")).toMatchObject({
        result: "FAIL",
        detail: refused,
        fix: expect.stringContaining("delete the hub_id file"),
      });
    } finally {
      await server.close();
    }
  });

  it("reports an unreachable relay", async () => {
    const result = await runCli(["doctor", "--json", "--gateway-url", "http://127.0.0.1:9"], {
      env,
    });
    const checks = JSON.parse(result.stdout) as Check[];
    expect(checks.find((check) => check.name === "relay")).toMatchObject({
      result: "FAIL",
      detail: expect.stringContaining("cannot reach http://127.0.0.1:9"),
    });
    expect(result.code).toBe(1);
  });
});

// `start --gateway-url` for one run, `config set gateway-url` for every run: doctor checks the
// relay the running hub uses (not the default), and the saved one too when it differs; `status`
// and `config path` say which relay the next start uses.
describe("hybro-hub doctor, status and config path with a running hub on another relay", () => {
  let relay: DevRelay;
  let home: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-doctor-running-"));
    relay = await startDevRelay({ port: 0, memory: true });
    const key = relay.createKey({ userId: "alice", name: "laptop", scopes: ["*"] }).key;
    mkdirSync(join(home, "config"), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "config", "config.json"), JSON.stringify({ apiKey: key }), {
      mode: 0o600,
    });
    writeFileSync(join(home, "config", "agents.json"), JSON.stringify({ agents: [] }));
    env = cliEnv(home); // no HYBRO_GATEWAY_URL: only the flag, then the saved URL
    const started = await runCli(["start", "--gateway-url", relay.url], { env });
    expect(started.code, started.stderr).toBe(0);
  });
  afterAll(async () => {
    await runCli(["stop", "--timeout-ms", "5000"], { env }).catch(() => {});
    for (const pid of daemonPidsFor(home)) process.kill(pid, "SIGKILL");
    await relay?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const doctor = async (extra: Record<string, string> = {}) => {
    const result = await runCli(["doctor", "--json"], { env: { ...env, ...extra } });
    return { code: result.code, checks: JSON.parse(result.stdout) as Check[] };
  };

  it("checks the running hub's relay, not the one a start from this shell would use", async () => {
    // (A closed local port stands in for the default relay, which a test must not call.)
    const { code, checks } = await doctor({ HYBRO_GATEWAY_URL: "http://127.0.0.1:9" });
    expect(checks.find((check) => check.name === "relay")).toMatchObject({
      result: "PASS",
      detail: expect.stringContaining(`${relay.url} (the running hub's) answered`),
    });
    expect(checks.find((check) => check.name === "key at the relay")?.result).toBe("PASS");
    // The next start would use another relay: said, and checked as such.
    expect(checks.find((check) => check.name === "relay setting")?.detail).toBe(
      `the running hub uses ${relay.url}; the next start uses http://127.0.0.1:9 (from HYBRO_GATEWAY_URL)`,
    );
    expect(checks.find((check) => check.name === "relay (next start)")?.result).toBe("FAIL");
    expect(code).toBe(1);
  });

  it("config set gateway-url saves the URL (0600, the key kept); config path and status show it", async () => {
    const saved = await runCli(["config", "set", "gateway-url", "http://127.0.0.1:9/"], { env });
    expect(saved.code, saved.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(home, "config", "config.json"), "utf8"));
    expect(config).toEqual({
      apiKey: expect.stringMatching(/^hybro_/),
      gatewayUrl: "http://127.0.0.1:9",
    });
    expect(statSync(join(home, "config", "config.json")).mode & 0o777).toBe(0o600);

    const paths = await runCli(["config", "path"], { env });
    expect(paths.stdout).toContain(
      "relay    http://127.0.0.1:9 (saved with `config set gateway-url`)",
    );
    const status = await runCli(["status"], { env });
    expect(status.stdout).toContain(`open · ${relay.url}`);
    expect(status.stdout).toContain(
      "the next start uses http://127.0.0.1:9 (saved with `config set gateway-url`)",
    );
  });

  it("doctor checks the saved relay as the next start's, and only once when it is the running hub's", async () => {
    const { code, checks } = await doctor();
    expect(checks.find((check) => check.name === "relay")?.result).toBe("PASS");
    expect(checks.find((check) => check.name === "relay (next start)")).toMatchObject({
      result: "FAIL",
      detail: expect.stringContaining("cannot reach http://127.0.0.1:9"),
      fix: expect.stringContaining("config set gateway-url"),
    });
    expect(code).toBe(1);

    // Saved as the running hub's: one relay, checked once, and status has nothing to add.
    expect((await runCli(["config", "set", "gateway-url", relay.url], { env })).code).toBe(0);
    const again = await doctor();
    expect(again.checks.filter((check) => check.name.startsWith("relay"))).toHaveLength(1);
    expect(again.checks.filter((check) => check.result === "FAIL")).toEqual([]);
    expect((await runCli(["status"], { env })).stdout).not.toContain("the next start uses");
  });

  it("config set refuses what it cannot save, and never the key", async () => {
    const bad = await runCli(["config", "set", "gateway-url", "ftp://relay"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("must start with https://");
    const key = await runCli(["config", "set", "api-key", "hybro_x"], { env });
    expect(key.code).toBe(2);
    expect(key.stderr).toContain("config set-key");
    const unknown = await runCli(["config", "set", "colour", "blue"], { env });
    expect(unknown.code).toBe(2);
    const unset = await runCli(["config", "unset", "gateway-url"], { env });
    expect(unset.code).toBe(0);
    const config = JSON.parse(readFileSync(join(home, "config", "config.json"), "utf8"));
    expect(config.gatewayUrl).toBeUndefined();
    expect(config.apiKey).toMatch(/^hybro_/);
  });
});
