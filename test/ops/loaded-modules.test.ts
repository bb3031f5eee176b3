// Footprint: a started hub with one HTTP agent and no metrics loads only what it runs. The
// development relay, the SDK, the other commands, prom-client, the pretty printer and the
// libraries of the stdio and WebSocket transports cost memory and start time all day if loaded.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubHome, startHubHome } from "../support/hub-home.ts";
import { cliEnv, runCliUntil } from "./cli-runner.ts";

const RECORDER = join(import.meta.dirname, "../support/record-loaded-modules.mjs");

describe("the modules a started hub loads", () => {
  let fixture: HubHome;

  beforeAll(async () => {
    fixture = await startHubHome("hybro-modules-", [{ name: "Echo" }]);
  });
  afterAll(() => fixture?.close());

  it("leaves out the dev relay, the SDK, other commands, prom-client, pino-pretty, execa, ws, zod, undici's unused parts and Node's bundled undici", async () => {
    const { home, relay } = fixture;
    const { key } = relay.createKey({ name: "modules", scopes: ["*"] });
    const listFile = join(home, "loaded.txt");
    const run = await runCliUntil(
      ["start", "--foreground", "--agents", fixture.writeAgentsFile()],
      cliEnv(home, {
        HYBRO_GATEWAY_URL: relay.url,
        HYBRO_API_KEY: key,
        HYBRO_TEST_LOADED_MODULES: listFile,
      }),
      /^hub ready: 1 agent synced$/m, // the stdout line, not the log line on stderr
      { nodeArgs: ["--import", RECORDER] },
    );
    fixture.own(run.child);
    expect(run.exited, `the hub exited before ready:\n${run.output.stderr}`).toBeNull();
    const exited = once(run.child, "exit");
    run.child.kill("SIGTERM");
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
    // undici by the pieces the hub uses (system/undici.ts), not its index with fetch, WebSocket,
    // the caches and the mocks.
    expect(
      relative.filter((path) =>
        /^node_modules\/undici\/(index\.js|lib\/(web|mock|cache)\/)/.test(path),
      ),
    ).toEqual([]);
    // Schemas are valibot's: one module file (zod was 95 of them and 3 MB of heap).
    expect(relative.filter((path) => path.startsWith("node_modules/valibot/"))).toHaveLength(1);
    expect(relative.filter((path) => /(^|\/)zod(\/|@|$)/.test(path))).toEqual([]);
    // An ESM import of node:http reads its lazy exports (WebSocket, …), which load Node's own
    // bundled undici beside the npm one: a few MB resident for nothing (system/http-server.ts).
    expect(relative).toContain("builtin:internal/modules/esm/loader");
    expect(relative.filter((path) => path.startsWith("builtin:internal/deps/undici"))).toEqual([]);
  });
});
