// config.json's "privacy" in a running daemon: read at start (a broken one stops the start,
// naming the entry), read again on SIGHUP; a broken edit keeps the settings in force with one
// line, a fixed one applies. The daemon runs in this process, its file watches slowed to an
// hour, so only the (real) signal brings an edit in.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { saveApiKey, updateConfigFile } from "../../src/config/config-file.ts";
import { configFilePath, hubPaths } from "../../src/config/paths.ts";
import { controlSocketPath } from "../../src/config/runtime-files.ts";
import { askDaemon } from "../../src/control/client.ts";
import { runDaemonProcess } from "../../src/daemon/process.ts";
import type { StartupReport } from "../../src/daemon/run.ts";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { capturingLogger } from "../transports/support.ts";

describe("config.json privacy in a running hub", () => {
  let relay: DevRelay;
  let agent: TestAgent;
  let home: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-privacy-reload-"));
    relay = await startDevRelay({ port: 0, memory: true });
    agent = await startTestAgent({
      dialect: "1.0",
      streaming: false,
      behaviour: "echo",
      name: "One",
    });
  });
  afterAll(async () => {
    await relay?.close();
    await agent?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const start = (paths: ReturnType<typeof hubPaths>, key: string, report: StartupReport) => {
    const agentsFile = join(home, "agents.json");
    writeFileSync(agentsFile, JSON.stringify({ agents: [{ name: "One", url: agent.url }] }));
    const { logger, lines } = capturingLogger();
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
      settings: { keyWatchIntervalMs: 3_600_000 },
      parts: { registry: { debounceMs: 3_600_000 } },
    });
    return { exited, lines };
  };

  it("refuses to start with a broken policy, naming the entry", async () => {
    const paths = hubPaths({ HYBRO_HUB_HOME: join(home, "broken") });
    const { key } = relay.createKey({ name: "hub", scopes: ["*"] });
    saveApiKey(configFilePath(paths), key);
    updateConfigFile(configFilePath(paths), { privacy: { email: "shred" } });
    const failures: string[] = [];
    const { exited } = start(paths, key, {
      progress: () => {},
      inspector: () => {},
      ready: () => {},
      failed: (message) => failures.push(message),
    });
    expect(await exited).toBe(2);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain("privacy.email");
    expect(failures[0]).toContain("config.json");
  });

  it("on SIGHUP keeps the settings in force when the edit is broken, then takes the fixed one", async () => {
    const paths = hubPaths({ HYBRO_HUB_HOME: join(home, "reload") });
    const configFile = configFilePath(paths);
    const { key } = relay.createKey({ name: "hub", scopes: ["*"] });
    saveApiKey(configFile, key);
    updateConfigFile(configFile, { privacy: { email: "redact" } });
    let ready = false;
    const { exited, lines } = start(paths, key, {
      progress: () => {},
      inspector: () => {},
      ready: () => {
        ready = true;
      },
      failed: (message) => {
        throw new Error(message);
      },
    });
    await vi.waitFor(() => expect(ready).toBe(true), { timeout: 15_000 });
    const policy = async () => (await askDaemon(controlSocketPath(paths), "agents"))[0]?.privacy;
    expect(await policy()).toBe("secrets redact, personal log (email redact), custom none");

    updateConfigFile(configFile, { privacy: { email: "shred" } });
    process.kill(process.pid, "SIGHUP");
    await vi.waitFor(() => expect(lines.some((l) => /keeping the privacy/.test(l.msg))).toBe(true));
    const kept = lines.filter((l) => l.level >= 40 && /privacy/.test(l.msg));
    expect(kept).toHaveLength(1);
    expect(kept[0]?.msg).toMatch(
      /^SIGHUP: keeping the privacy settings in force: .*config\.json: privacy\.email /,
    );
    expect(await policy()).toBe("secrets redact, personal log (email redact), custom none");

    updateConfigFile(configFile, { privacy: { email: "block" } });
    process.kill(process.pid, "SIGHUP");
    await vi.waitFor(async () =>
      expect(await policy()).toBe("secrets redact, personal log (email block), custom none"),
    );

    process.kill(process.pid, "SIGTERM");
    expect(await exited).toBe(0);
  });
});
