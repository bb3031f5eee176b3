// `hybro-hub doctor` against the development relay: a good setup passes every line; a refused
// key, a private file left readable and a broken agents file each fail with a fix.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Check } from "../../src/cli/doctor.ts";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
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
