// `hybro-hub doctor` against the development relay: a good setup passes every line; a refused
// key, a private file left readable and a broken agents file each fail with a fix.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
import { cliEnv, runCli } from "./cli-runner.ts";

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
