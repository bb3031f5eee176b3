// SIGHUP (`systemctl --user reload hybro-hub`) re-reads the agents file as well as the key, for
// when the file watch cannot see a change (a network filesystem, an editor it misses). The
// daemon runs in this process with its file watch slowed to an hour, so only the signal can
// bring the edit in; the signal is real.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { saveApiKey } from "../../src/config/config-file.ts";
import { configFilePath, hubPaths } from "../../src/config/paths.ts";
import { controlSocketPath } from "../../src/config/runtime-files.ts";
import { askDaemon } from "../../src/control/client.ts";
import { runDaemonProcess } from "../../src/daemon/process.ts";
import type { StartupReport } from "../../src/daemon/run.ts";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { capturingLogger } from "../transports/support.ts";

describe("SIGHUP", () => {
  let relay: DevRelay;
  let first: TestAgent;
  let second: TestAgent;
  let home: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-hup-"));
    relay = await startDevRelay({ port: 0, memory: true });
    first = await startTestAgent({
      dialect: "1.0",
      streaming: false,
      behaviour: "echo",
      name: "One",
    });
    second = await startTestAgent({
      dialect: "1.0",
      streaming: false,
      behaviour: "echo",
      name: "Two",
    });
  });
  afterAll(async () => {
    await relay?.close();
    await first?.close();
    await second?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("re-reads the agents file (and the key) at once", async () => {
    const paths = hubPaths({ HYBRO_HUB_HOME: home });
    const agentsFile = join(home, "agents.json");
    const entry = (agent: TestAgent, name: string) => ({ name, url: agent.url });
    writeFileSync(agentsFile, JSON.stringify({ agents: [entry(first, "One")] }));
    const { key } = relay.createKey({ name: "hub", scopes: ["*"] });
    saveApiKey(configFilePath(paths), key);
    const { logger, lines } = capturingLogger();
    let ready = false;
    const report: StartupReport = {
      progress: () => {},
      inspector: () => {},
      ready: () => {
        ready = true;
      },
      failed: (message) => {
        throw new Error(message);
      },
    };
    const exited = runDaemonProcess({
      paths,
      configFile: configFilePath(paths),
      apiKey: key,
      keySource: "the test",
      gatewayUrl: relay.url,
      agentsFile,
      shutdownGraceMs: 1_000,
      logger,
      secrets: new Set(),
      logFile: null,
      report,
      launch: [],
      parts: { registry: { debounceMs: 3_600_000 } },
    });
    await vi.waitFor(() => expect(ready).toBe(true), { timeout: 15_000 });
    const names = async () =>
      (await askDaemon(controlSocketPath(paths), "agents")).map((a) => a.name).sort();
    expect(await names()).toEqual(["One"]);

    writeFileSync(
      agentsFile,
      JSON.stringify({ agents: [entry(first, "One"), entry(second, "Two")] }),
    );
    process.kill(process.pid, "SIGHUP");
    await vi.waitFor(async () => expect(await names()).toEqual(["One", "Two"]), {
      timeout: 10_000,
    });
    expect(lines.some((l) => /SIGHUP: re-reading .*agents\.json/.test(l.msg))).toBe(true);
    expect(lines.some((l) => /SIGHUP: API key unchanged/.test(l.msg))).toBe(true);

    process.kill(process.pid, "SIGTERM");
    expect(await exited).toBe(0);
  });
});
