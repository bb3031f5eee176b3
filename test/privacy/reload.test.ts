// config.json's "privacy" in a running daemon: read at start (a broken one stops the start,
// naming the entry), read again on SIGHUP; a broken edit keeps the settings in force with one
// line, a fixed one applies. The daemon runs in this process, its file watches slowed to an
// hour, so only the (real) signal brings an edit in.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { updateConfigFile } from "../../src/config/config-file.ts";
import { controlSocketPath } from "../../src/config/runtime-files.ts";
import { askDaemon } from "../../src/control/client.ts";
import { type HubHome, startHubHome } from "../support/hub-home.ts";
import { keyedHome, runHubInProcess } from "../support/in-process-hub.ts";

describe("config.json privacy in a running hub", () => {
  let fixture: HubHome;

  beforeAll(async () => {
    fixture = await startHubHome("hybro-privacy-reload-", [{ name: "One" }]);
  });
  afterAll(() => fixture?.close());

  const start = (folder: string, privacy: Record<string, unknown>) => {
    const home = keyedHome(fixture.relay, join(fixture.home, folder));
    updateConfigFile(home.configFile, { privacy });
    return { home, hub: runHubInProcess(fixture.relay, home, fixture.writeAgentsFile()) };
  };

  it("refuses to start with a broken policy, naming the entry", async () => {
    const { hub } = start("broken", { email: "shred" });
    expect(await hub.exited).toBe(2);
    expect(hub.failures).toHaveLength(1);
    expect(hub.failures[0]).toContain("privacy.email");
    expect(hub.failures[0]).toContain("config.json");
  });

  it("on SIGHUP keeps the settings in force when the edit is broken, then takes the fixed one", async () => {
    const { home, hub } = start("reload", { email: "redact" });
    const { configFile } = home;
    const { lines } = hub;
    await hub.ready;
    const policy = async () =>
      (await askDaemon(controlSocketPath(home.paths), "agents"))[0]?.privacy;
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
    expect(await hub.exited).toBe(0);
  });
});
