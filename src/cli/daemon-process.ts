// The daemon process itself, however it was started (`start --foreground` in a terminal, the
// background child of `start`, systemd or launchd): private runtime folder, the hub lock
// (single instance per data folder), control socket, signals, key and agents reload, metrics
// and the readiness report around one HubDaemon.
import { unwatchFile, watchFile } from "node:fs";
import { resolveApiKey } from "../config/api-key.ts";
import { readConfigFile } from "../config/config-file.ts";
import { loadOrCreateHubId } from "../config/hub-id.ts";
import { acquireHubLock, type HubLock } from "../config/hub-lock.ts";
import type { HubPaths } from "../config/paths.ts";
import { controlSocketPath, ensureRuntimeFolder } from "../config/runtime-files.ts";
import { type DaemonStatus, keyFingerprint, type ReloadKeyResult } from "../control/protocol.ts";
import { ControlServer, ControlSocketInUseError } from "../control/server.ts";
import type { HubDaemon, HubDaemonOptions } from "../daemon/daemon.ts";
import type { Logger } from "../log/logger.ts";
import type { PublishCounters } from "../metrics/hub-metrics.ts";
import { type HubPrivacyRead, hubPrivacyOf } from "../privacy/hub-privacy.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { metricsExposureWarning } from "../system/listen-warning.ts";
import { oneLineError } from "../system/one-line-errors.ts";
import type { StartupReport } from "./startup-report.ts";
import { packageVersion } from "./version.ts";

export interface DaemonProcessSettings {
  /** How often config.json (or --api-key-file) is checked for a replaced key. */
  keyWatchIntervalMs: number;
  /** How long a stop waits for the relay to take queued events. */
  stopFlushTimeoutMs: number;
}
export const DEFAULT_DAEMON_PROCESS_SETTINGS: DaemonProcessSettings = {
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

type Phase = DaemonStatus["state"];

/** Runs the hub until it is stopped; resolves to the process's exit code. */
export async function runDaemonProcess(options: DaemonProcessOptions): Promise<number> {
  const { paths, report } = options;
  // A folder it cannot write (data, runtime) or will not use: one line, no stack trace.
  const refuse = (error: unknown): number => {
    const line = oneLineError(error);
    if (!line) throw error;
    report.failed(line, ExitCode.error);
    return ExitCode.error;
  };
  // 1. A private runtime folder, then the data folder's hub lock: one hub per data folder,
  // even when its runtime folder was removed or another one is used (see config/hub-lock.ts).
  let lock: HubLock;
  try {
    ensureRuntimeFolder(paths.runtime);
    const claim = acquireHubLock(paths.data);
    if (!claim.ok) {
      report.failed(claim.message, ExitCode.error);
      return ExitCode.error;
    }
    lock = claim.lock;
  } catch (error) {
    return refuse(error);
  }
  try {
    return await runLocked(options, lock);
  } catch (error) {
    return refuse(error);
  } finally {
    lock.release();
  }
}

async function runLocked(options: DaemonProcessOptions, lock: HubLock): Promise<number> {
  const settings = { ...DEFAULT_DAEMON_PROCESS_SETTINGS, ...options.settings };
  const { logger, paths, report } = options;
  const socketPath = controlSocketPath(paths);
  let apiKey = options.apiKey;
  options.secrets.add(apiKey);

  let phase: Phase = "starting";
  let daemon: HubDaemon | null = null;
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  let exitCode: number = ExitCode.ok;
  let stopping: Promise<void> | null = null;
  const shutdown = (code: number, fast = false): Promise<void> => {
    exitCode = code === ExitCode.ok ? exitCode : code;
    stopping ??= (async () => {
      phase = "stopping";
      try {
        await daemon?.stop(
          fast
            ? { graceMs: 0, flushTimeoutMs: 0 }
            : { graceMs: options.shutdownGraceMs, flushTimeoutMs: settings.stopFlushTimeoutMs },
        );
      } catch (error) {
        logger.error({ err: error }, "error while stopping; exiting anyway");
        exitCode = exitCode === ExitCode.ok ? ExitCode.error : exitCode;
      }
      resolveExit(exitCode);
    })();
    return stopping;
  };

  const reloadKey = (why: string): ReloadKeyResult => {
    // An empty environment: HYBRO_API_KEY was consumed at start, and systemd's credential is a
    // copy made at start; a replacement can only come from the named file or config.json.
    const again = resolveApiKey({
      flagFile: options.apiKeyFile,
      configFile: options.configFile,
      env: {},
    });
    if (!again.ok) {
      logger.error(`${why}: keeping the current API key: ${again.error}`);
      throw new Error(again.error);
    }
    const changed = again.key !== apiKey;
    options.secrets.add(again.key);
    apiKey = again.key;
    if (changed) logger.info(`${why}: now using the API key from ${again.source}`);
    else logger.debug(`${why}: API key unchanged (${again.source})`);
    return { changed, source: again.source, fingerprint: keyFingerprint(apiKey) };
  };

  // config.json's "privacy": read at start (a broken one stops the start), again on SIGHUP and
  // when the file changes; a broken one then keeps the settings in force, in one line.
  let privacyText: string | null = null;
  const reloadPrivacy = (why: string) => {
    if (!daemon) return;
    const read = readPrivacy(options.configFile);
    if (!read.ok) {
      logger.error(`${why}: keeping the privacy settings in force: ${read.error}`);
      return;
    }
    const text = JSON.stringify(read.privacy);
    if (text === privacyText) return;
    privacyText = text;
    daemon.setPrivacy(read.privacy);
    logger.info(`${why}: privacy settings from ${options.configFile} now apply to new turns`);
  };

  const control = new ControlServer({
    socketPath,
    logger,
    handlers: {
      status: () => statusOf(),
      agents: () => statusOf().agents,
      stop: () => {
        logger.info("stop requested over the control socket");
        setImmediate(() => void shutdown(ExitCode.ok));
        return { pid: process.pid, stopping: true };
      },
      "reload-key": () => reloadKey("reload requested"),
    },
  });
  let metricsServer: { url: string; close(): Promise<void> } | null = null;
  let inspector: import("../inspector/index.ts").Inspector | null = null;
  let inspectorUrl: string | null = null;
  let closeMetrics = () => {};
  const statusOf = (): DaemonStatus => {
    if (!daemon) throw new Error("the hub is still starting");
    return {
      ...daemon.snapshot(),
      state: phase,
      pid: process.pid,
      version: packageVersion(),
      nodeVersion: process.version,
      logFile: options.logFile,
      managedBy: managedBy(),
      metricsUrl: metricsServer ? `${metricsServer.url}/metrics` : null,
      inspectorUrl,
      launch: options.launch,
    };
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`second ${signal}: exiting now; events not yet sent go out on the next start`);
      lock.release();
      process.exit(ExitCode.forced);
    }
    logger.info(`${signal}: finishing running turns, then stopping (send again to exit now)`);
    void shutdown(ExitCode.ok);
  };
  // SIGHUP (`systemctl --user reload hybro-hub`): the key and the agents file, read again now.
  const onHangup = () => {
    try {
      reloadKey("SIGHUP");
    } catch {
      // logged in reloadKey
    }
    if (!daemon) return;
    reloadPrivacy("SIGHUP");
    logger.info(`SIGHUP: re-reading ${options.agentsFile}`);
    void daemon.registry.reload();
  };
  // A bug that escapes every handler still ends the process (Node's default); log it first so
  // the reason is in hub.log, not only in the stderr file.
  const onCrash = (error: Error, origin: string) => {
    logger.fatal({ err: error, origin }, "hybro-hub crashed; this is a bug, please report it");
  };
  const watched = options.apiKeyFile ?? options.configFile;
  const onWatchedChange = (now: { mtimeMs: number }, before: { mtimeMs: number }) => {
    if (now.mtimeMs === before.mtimeMs || now.mtimeMs === 0) return;
    try {
      reloadKey(`${watched} changed`);
    } catch {
      // logged in reloadKey
    }
    if (watched === options.configFile) reloadPrivacy(`${watched} changed`);
  };
  const onConfigChange = (now: { mtimeMs: number }, before: { mtimeMs: number }) => {
    if (now.mtimeMs === before.mtimeMs || now.mtimeMs === 0) return;
    reloadPrivacy(`${options.configFile} changed`);
  };

  try {
    try {
      await control.listen();
    } catch (error) {
      const message =
        error instanceof ControlSocketInUseError
          ? "hybro-hub is already running (its control socket answers); use `hybro-hub restart` or `hybro-hub stop`"
          : `cannot open the control socket ${socketPath}: ${(error as Error).message}`;
      report.failed(message, ExitCode.error);
      return ExitCode.error;
    }
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onHangup);
    process.on("uncaughtExceptionMonitor", onCrash);
    watchFile(
      watched,
      { interval: settings.keyWatchIntervalMs, persistent: false },
      onWatchedChange,
    );
    if (watched !== options.configFile) {
      watchFile(
        options.configFile,
        { interval: settings.keyWatchIntervalMs, persistent: false },
        onConfigChange,
      );
    }
    const privacy = readPrivacy(options.configFile);
    if (!privacy.ok) {
      report.failed(privacy.error, ExitCode.usage);
      return ExitCode.usage;
    }
    privacyText = JSON.stringify(privacy.privacy);

    if (options.inspect) {
      const { createInspector, keptTurnsFromEnv, parseInspectAddress } = await import(
        "../inspector/index.ts"
      );
      const parsed = parseInspectAddress(options.inspect);
      if (!parsed.ok) {
        report.failed(`--inspect ${parsed.error}`, ExitCode.usage);
        return ExitCode.usage;
      }
      const kept = keptTurnsFromEnv(process.env);
      if (kept.error) logger.warn(kept.error);
      inspector = createInspector({
        address: parsed.address,
        logger,
        ...(kept.turns ? { recorder: { maxTurns: kept.turns } } : {}),
      });
      options.secrets.add(inspector.token); // masked should anything ever log it
    }

    const hubId = loadOrCreateHubId(paths.data, (message) => logger.warn(message));
    // Loaded on demand so the CLI's other commands do not pay for the hub's modules.
    const { HubDaemon } = await import("../daemon/daemon.ts");
    const { publishLimitFromEnv } = await import("../relay/settings.ts");
    const bodyLimit = publishLimitFromEnv(process.env);
    if (bodyLimit.error) logger.warn(bodyLimit.error);
    daemon = new HubDaemon({
      hubId,
      gatewayUrl: options.gatewayUrl,
      apiKey: () => apiKey,
      keySource: options.keySource,
      agentsFile: options.agentsFile,
      logger,
      ...options.parts,
      relay: {
        ...(bodyLimit.bytes ? { publishMaxBodyBytes: bodyLimit.bytes } : {}),
        ...options.parts?.relay,
      },
      hub: { shutdownGraceMs: options.shutdownGraceMs },
      dataDir: paths.data,
      privacy: privacy.privacy,
      ...(inspector ? { observer: inspector.recorder } : {}),
    });
    const hub = daemon;

    if (inspector) {
      try {
        inspectorUrl = await inspector.attach(hub);
      } catch (error) {
        report.failed(
          `--inspect ${options.inspect}: cannot listen: ${(error as Error).message}`,
          ExitCode.error,
        );
        return ExitCode.error;
      }
      logger.info(`inspector on ${new URL(inspectorUrl).origin}/ (its URL was printed at start)`);
      report.inspector(inspectorUrl);
    }

    if (options.metrics) {
      const { parseListenAddress, startMetricsServer } = await import("../metrics/server.ts");
      const { createHubMetrics } = await import("../metrics/hub-metrics.ts");
      const address = parseListenAddress(options.metrics);
      if (!address) {
        report.failed(
          `--metrics ${options.metrics}: expected host:port, e.g. 127.0.0.1:9464`,
          ExitCode.usage,
        );
        return ExitCode.usage;
      }
      const exposed = metricsExposureWarning(options.metrics, address.host);
      if (exposed) logger.warn(exposed);
      const metrics = createHubMetrics({
        snapshot: () => hub.snapshot(),
        on: (event, listener) => hub.on(event, listener),
        off: (event, listener) => hub.off(event, listener),
        publishStats: () => publishStatsOf(hub),
        privacyStats: () => hub.privacy.counts(),
      });
      closeMetrics = metrics.close;
      try {
        metricsServer = await startMetricsServer({
          ...address,
          registry: metrics.registry,
          ready: () => {
            const relay = hub.link.state();
            return relay.ready && relay.connection === "open";
          },
        });
      } catch (error) {
        report.failed(
          `--metrics ${options.metrics}: cannot listen: ${(error as Error).message}`,
          ExitCode.error,
        );
        return ExitCode.error;
      }
      logger.info(`metrics on ${metricsServer.url}/metrics`);
    }

    let reported = false;
    hub.on("ready", ({ agents }) => {
      phase = stopping ? phase : "ready";
      logger.info(`hub ready: ${agents} agent${agents === 1 ? "" : "s"} synced`);
      if (!reported) {
        reported = true;
        report.ready({ pid: process.pid, agents });
      }
    });
    hub.on("fatal", (error) => {
      logger.error(error.message);
      if (!reported) {
        reported = true;
        report.failed(error.message, ExitCode.auth);
      }
      void shutdown(ExitCode.auth, true);
    });
    hub.link.on("disconnected", (error) => {
      if (reported) return;
      report.progress(
        error ? `relay not reachable yet (${error.message}); retrying` : "connecting to the relay",
      );
    });

    logger.info(
      {
        hubId,
        gatewayUrl: options.gatewayUrl,
        agentsFile: options.agentsFile,
        keySource: options.keySource,
      },
      "starting hub",
    );
    try {
      await hub.start();
    } catch (error) {
      const message = `the hub failed to start: ${(error as Error).message}`;
      logger.error({ err: error }, message);
      if (!reported) {
        reported = true;
        report.failed(message, ExitCode.error);
      }
      void shutdown(ExitCode.error, true);
    }
    return await exited;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onHangup);
    process.off("uncaughtExceptionMonitor", onCrash);
    unwatchFile(watched, onWatchedChange);
    unwatchFile(options.configFile, onConfigChange);
    closeMetrics();
    await metricsServer?.close();
    await inspector?.close();
    await control.close();
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

function publishStatsOf(hub: HubDaemon): PublishCounters {
  const { batches, eventsSent, retries, dropped } = hub.link.state().publish;
  return { batches, eventsSent, retries, dropped };
}
