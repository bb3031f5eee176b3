// The hub daemon run in the test's own process, as `start --foreground` runs it
// (runDaemonProcess), so a test can send it real signals (`process.kill(process.pid, "SIGHUP")`).
// Its watches of agents.json and of the key are slowed to an hour: only the signal brings an
// edit in.
import { saveApiKey } from "../../src/config/config-file.ts";
import { configFilePath, type HubPaths, hubPaths } from "../../src/config/paths.ts";
import { runDaemonProcess } from "../../src/daemon/process.ts";
import type { DevRelay } from "../../src/devrelay/index.ts";
import { capturingLogger, type LogLine } from "../transports/support.ts";

const AN_HOUR_MS = 3_600_000;

export interface KeyedHome {
  paths: HubPaths;
  configFile: string;
  /** A fresh key of the relay, saved in the home's config.json. */
  key: string;
}

/** The hub folders under `home`, with a fresh key of `relay` saved in config.json. */
export function keyedHome(relay: DevRelay, home: string): KeyedHome {
  const paths = hubPaths({ HYBRO_HUB_HOME: home });
  const configFile = configFilePath(paths);
  const { key } = relay.createKey({ name: "hub", scopes: ["*"] });
  saveApiKey(configFile, key);
  return { paths, configFile, key };
}

export interface InProcessHub {
  /** The exit code runDaemonProcess returns (after SIGTERM, or a refused start). */
  exited: Promise<number>;
  /** Resolves when the hub reports ready; rejects with the failure it reports instead. */
  ready: Promise<void>;
  /** Every failure the hub reported (the start report's `failed`). */
  failures: string[];
  /** Its log, parsed. */
  lines: LogLine[];
}

export function runHubInProcess(
  relay: DevRelay,
  home: KeyedHome,
  agentsFile: string,
): InProcessHub {
  const { logger, lines } = capturingLogger();
  const failures: string[] = [];
  let readied: () => void = () => {};
  let refused: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    readied = resolve;
    refused = reject;
  });
  // A test that expects the start to fail reads `failures` and never awaits `ready`.
  ready.catch(() => {});
  const exited = runDaemonProcess({
    paths: home.paths,
    configFile: home.configFile,
    apiKey: home.key,
    keySource: "the test",
    gatewayUrl: relay.url,
    agentsFile,
    shutdownGraceMs: 1_000,
    logger,
    secrets: new Set(),
    logFile: null,
    report: {
      progress: () => {},
      inspector: () => {},
      ready: () => readied(),
      failed: (message) => {
        failures.push(message);
        refused(new Error(message));
      },
    },
    launch: [],
    settings: { keyWatchIntervalMs: AN_HOUR_MS },
    parts: { registry: { debounceMs: AN_HOUR_MS } },
  });
  exited.then(
    (code) => refused(new Error(`the hub exited (${code}) before it was ready`)),
    (error: unknown) => refused(error instanceof Error ? error : new Error(String(error))),
  );
  return { exited, ready, failures, lines };
}
