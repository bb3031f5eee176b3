// Footprint: a started hub with one HTTP agent and no metrics loads only what it runs. The
// development relay, the SDK, the other commands, prom-client, the pretty printer and the
// libraries of the stdio and WebSocket transports cost memory and start time all day if loaded.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { CLI, cliEnv, REPO_ROOT } from "./cli-runner.ts";

const RECORDER = join(import.meta.dirname, "../support/record-loaded-modules.mjs");

describe("the modules a started hub loads", () => {
  let relay: DevRelay;
  let agent: TestAgent;
  let home: string;
  let child: ChildProcess | null = null;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-modules-"));
    relay = await startDevRelay({ port: 0, memory: true });
    agent = await startTestAgent({ dialect: "1.0", streaming: false, behaviour: "echo" });
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    await relay?.close();
    await agent?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("leaves out the dev relay, the SDK, other commands, prom-client, pino-pretty, execa, ws and Node's bundled undici", async () => {
    const { key } = relay.createKey({ name: "modules", scopes: ["*"] });
    const agentsFile = join(home, "agents.json");
    writeFileSync(agentsFile, JSON.stringify({ agents: [{ name: "Echo", url: agent.url }] }));
    const listFile = join(home, "loaded.txt");
    child = spawn(
      process.execPath,
      ["--import", RECORDER, CLI, "start", "--foreground", "--agents", agentsFile],
      {
        cwd: REPO_ROOT,
        env: cliEnv(home, {
          HYBRO_GATEWAY_URL: relay.url,
          HYBRO_API_KEY: key,
          HYBRO_TEST_LOADED_MODULES: listFile,
        }),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const exited = once(child, "exit");
    await new Promise<void>((resolve, reject) => {
      child?.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        if (stdout.includes("hub ready: 1 agent synced")) resolve();
      });
      void exited.then(() => reject(new Error(`the hub exited before ready:\n${stderr}`)));
    });
    child.kill("SIGTERM");
    await exited;

    const loaded = readFileSync(listFile, "utf8").split("\n");
    const relative = loaded.map((url) => url.replace(/^file:\/\/.*?\/(src|node_modules)\//, "$1/"));
    // The recorder sees what the hub runs (else the absences below would prove nothing).
    expect(relative).toContain("src/hub/hub.ts");
    expect(relative.some((path) => path.startsWith("node_modules/undici/"))).toBe(true);

    const unneeded = relative.filter((path) =>
      /^(src\/(devrelay|sdk)\/|src\/cli\/(dev|relay|chat|gateway-commands|doctor|logs|program)\.ts$|node_modules\/(prom-client|pino-pretty|execa|ws)\/)/.test(
        path,
      ),
    );
    expect(unneeded).toEqual([]);
    // An ESM import of node:http reads its lazy exports (WebSocket, …), which load Node's own
    // bundled undici beside the npm one: a few MB resident for nothing (system/http-server.ts).
    expect(relative).toContain("builtin:internal/modules/esm/loader");
    expect(relative.filter((path) => path.startsWith("builtin:internal/deps/undici"))).toEqual([]);
  });
});
