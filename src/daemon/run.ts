// What the parts of one daemon run share: its phase, the HubDaemon once assembled, the key in
// use, the privacy settings in force, the stop that every way of stopping goes through, and the
// status the control socket answers with.
import { resolveApiKey } from "../config/api-key.ts";
import { readConfigFile } from "../config/config-file.ts";
import type { HubPaths } from "../config/paths.ts";
import { type DaemonStatus, keyFingerprint, type ReloadKeyResult } from "../control/protocol.ts";
import type { Logger } from "../log/logger.ts";
import { type HubPrivacy, type HubPrivacyRead, hubPrivacyOf } from "../privacy/hub-privacy.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { withDefaults } from "../system/settings.ts";
import { packageVersion } from "../system/version.ts";
import type { HubDaemon, HubDaemonOptions } from "./daemon.ts";

/** How a starting daemon tells whoever started it that it is ready or has failed. */
export interface StartupReport {
  progress(message: string): void;
  /** The inspector listens (`--inspect`): tell the user its URL, once, outside every log. */
  inspector(url: string): void;
  ready(info: { pid: number; agents: number }): void;
  failed(message: string, exitCode: number): void;
}

interface DaemonProcessSettings {
  /** How often config.json (or --api-key-file) is checked for a replaced key. */
  keyWatchIntervalMs: number;
  /** How long a stop waits for the relay to take queued events. */
  stopFlushTimeoutMs: number;
}
const DEFAULT_DAEMON_PROCESS_SETTINGS: DaemonProcessSettings = {
  keyWatchIntervalMs: 1_000,
  stopFlushTimeoutMs: 5_000,
};

export interface DaemonProcessOptions {
  paths: HubPaths;
  configFile: string;
  /** The key to start with; replaced on SIGHUP / `reload-key` / a change of the watched file. */
  apiKey: string;
  keySource: string;
  /** When the key came from a file the user named, reloads read that file; else config.json. */
  apiKeyFile?: string | undefined;
  gatewayUrl: string;
  agentsFile: string;
  shutdownGraceMs: number;
  logger: Logger;
  /** Every key value this process has held, for the logger's mask (filled here). */
  secrets: Set<string>;
  logFile: string | null;
  metrics?: string | undefined;
  /** `--inspect` address (loopback only), or undefined when the inspector is off. */
  inspect?: string | undefined;
  report: StartupReport;
  /** The non-secret `start` arguments, for `restart`. */
  launch: string[];
  settings?: Partial<DaemonProcessSettings>;
  /** Settings of the hub's parts (tests slow the agents-file watch, for one). */
  parts?: Pick<HubDaemonOptions, "registry" | "relay" | "outbox">;
}

export class DaemonRun {
  readonly options: DaemonProcessOptions;
  readonly settings: DaemonProcessSettings;
  readonly logger: Logger;
  readonly report: StartupReport;
  phase: DaemonStatus["state"] = "starting";
  /** This hub's id (data folder), read by the hub part. */
  hubId: string | null = null;
  /** Assembled by the hub part; null before. */
  daemon: HubDaemon | null = null;
  /** Where the inspector and the metrics are served, once they are. */
  inspectorUrl: string | null = null;
  metricsUrl: string | null = null;
  /** config.json's privacy settings as read at start. */
  startPrivacy: HubPrivacy | null = null;
  /** Set once the start is reported (ready or failed): later events are only logged. */
  reported = false;
  #apiKey: string;
  #privacyText: string | null = null;
  #exitCode: number = ExitCode.ok;
  #stopping: Promise<void> | null = null;
  #resolveExit: (code: number) => void = () => {};
  /** The process's exit code, once the hub has stopped. */
  readonly exited = new Promise<number>((resolve) => {
    this.#resolveExit = resolve;
  });

  constructor(options: DaemonProcessOptions) {
    this.options = options;
    this.settings = withDefaults(DEFAULT_DAEMON_PROCESS_SETTINGS, options.settings);
    this.logger = options.logger;
    this.report = options.report;
    this.#apiKey = options.apiKey;
    options.secrets.add(options.apiKey);
  }

  /** The key in use (read on every relay call, so a reload takes effect at once). */
  apiKey(): string {
    return this.#apiKey;
  }

  get stopping(): boolean {
    return this.#stopping !== null;
  }

  /** Stops the hub (once); `fast` skips the grace period and the flush. */
  shutdown(code: number, fast = false): Promise<void> {
    this.#exitCode = code === ExitCode.ok ? this.#exitCode : code;
    this.#stopping ??= (async () => {
      this.phase = "stopping";
      try {
        await this.daemon?.stop(
          fast
            ? { graceMs: 0, flushTimeoutMs: 0 }
            : {
                graceMs: this.options.shutdownGraceMs,
                flushTimeoutMs: this.settings.stopFlushTimeoutMs,
              },
        );
      } catch (error) {
        this.logger.error({ err: error }, "error while stopping; exiting anyway");
        this.#exitCode = this.#exitCode === ExitCode.ok ? ExitCode.error : this.#exitCode;
      }
      this.#resolveExit(this.#exitCode);
    })();
    return this.#stopping;
  }

  /** Reads the key again (the named file, else config.json); throws, logged, when it cannot. */
  reloadKey(why: string): ReloadKeyResult {
    // An empty environment: HYBRO_API_KEY was consumed at start, and systemd's credential is a
    // copy made at start; a replacement can only come from the named file or config.json.
    const again = resolveApiKey({
      flagFile: this.options.apiKeyFile,
      configFile: this.options.configFile,
      env: {},
    });
    if (!again.ok) {
      this.logger.error(`${why}: keeping the current API key: ${again.error}`);
      throw new Error(again.error);
    }
    const changed = again.key !== this.#apiKey;
    this.options.secrets.add(again.key);
    this.#apiKey = again.key;
    if (changed) this.logger.info(`${why}: now using the API key from ${again.source}`);
    else this.logger.debug(`${why}: API key unchanged (${again.source})`);
    return { changed, source: again.source, fingerprint: keyFingerprint(this.#apiKey) };
  }

  /** Reads the key again, as above, where a failure is only logged. */
  tryReloadKey(why: string): void {
    try {
      this.reloadKey(why);
    } catch {
      // logged in reloadKey
    }
  }

  /**
   * config.json's "privacy": read at start (a broken one stops the start), again on SIGHUP and
   * when the file changes; a broken one then keeps the settings in force, in one line.
   */
  readPrivacyAtStart(): HubPrivacyRead {
    const read = readPrivacy(this.options.configFile);
    if (read.ok) {
      this.#privacyText = JSON.stringify(read.privacy);
      this.startPrivacy = read.privacy;
    }
    return read;
  }

  reloadPrivacy(why: string): void {
    const daemon = this.daemon;
    if (!daemon) return;
    const read = readPrivacy(this.options.configFile);
    if (!read.ok) {
      this.logger.error(`${why}: keeping the privacy settings in force: ${read.error}`);
      return;
    }
    const text = JSON.stringify(read.privacy);
    if (text === this.#privacyText) return;
    this.#privacyText = text;
    daemon.setPrivacy(read.privacy);
    this.logger.info(
      `${why}: privacy settings from ${this.options.configFile} now apply to new turns`,
    );
  }

  /** What `hybro-hub status` shows. */
  status(): DaemonStatus {
    const daemon = this.daemon;
    if (!daemon) throw new Error("the hub is still starting");
    const { options } = this;
    return {
      ...daemon.snapshot(),
      state: this.phase,
      pid: process.pid,
      version: packageVersion(),
      nodeVersion: process.version,
      logFile: options.logFile,
      managedBy: managedBy(),
      metricsUrl: this.metricsUrl,
      inspectorUrl: this.inspectorUrl,
      launch: options.launch,
    };
  }
}

/** config.json's privacy settings (a file it cannot read is an error here too). */
function readPrivacy(configFile: string): HubPrivacyRead {
  const config = readConfigFile(configFile);
  if (!config.ok) return { ok: false, error: config.error };
  return hubPrivacyOf(config.config, configFile);
}

/** systemd and launchd set HYBRO_HUB_SERVICE in the files `service install` writes. */
function managedBy(): DaemonStatus["managedBy"] {
  const value = process.env.HYBRO_HUB_SERVICE;
  return value === "systemd" || value === "launchd" ? value : null;
}
