// SIGHUP (`systemctl --user reload hybro-hub`) re-reads the agents file as well as the key, for
// when the file watch cannot see a change (a network filesystem, an editor it misses). The
// daemon runs in this process with its file watches slowed to an hour, so only the signal can
// bring the edit in; the signal is real.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { controlSocketPath } from "../../src/config/runtime-files.ts";
import { askDaemon } from "../../src/control/client.ts";
import { type HubHome, startHubHome } from "../support/hub-home.ts";
import { keyedHome, runHubInProcess } from "../support/in-process-hub.ts";

describe("SIGHUP", () => {
  let fixture: HubHome;

  beforeAll(async () => {
    fixture = await startHubHome("hybro-hup-", [{ name: "One" }, { name: "Two" }]);
  });
  afterAll(() => fixture?.close());

  it("re-reads the agents file (and the key) at once", async () => {
    const { relay } = fixture;
    const agentsFile = fixture.writeAgentsFile(["One"]);
    const home = keyedHome(relay, fixture.home);
    const hub = runHubInProcess(relay, home, agentsFile);
    await hub.ready;
    const names = async () =>
      (await askDaemon(controlSocketPath(home.paths), "agents")).map((a) => a.name).sort();
    expect(await names()).toEqual(["One"]);

    fixture.writeAgentsFile();
    process.kill(process.pid, "SIGHUP");
    await vi.waitFor(async () => expect(await names()).toEqual(["One", "Two"]), {
      timeout: 10_000,
    });
    expect(hub.lines.some((l) => /SIGHUP: re-reading .*agents\.json/.test(l.msg))).toBe(true);
    expect(hub.lines.some((l) => /SIGHUP: API key unchanged/.test(l.msg))).toBe(true);

    process.kill(process.pid, "SIGTERM");
    expect(await hub.exited).toBe(0);
  });
});
