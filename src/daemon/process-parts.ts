// The parts of the daemon process, each a start and a close around one thing: the control
// socket, the process's signals, the watch of config.json (or the key file), the privacy
// settings, the inspector, the HubDaemon, the metrics server and the startup report. The list
// and its order are in process.ts.
import { unwatchFile, watchFile } from "node:fs";
import { loadOrCreateHubId } from "../config/hub-id.ts";
import type { HubLock } from "../config/hub-lock.ts";
import { controlSocketPath } from "../config/runtime-files.ts";
import { ControlServer, ControlSocketInUseError } from "../control/server.ts";
import type { Inspector } from "../inspector/index.ts";
import type { PublishCounters } from "../metrics/hub-metrics.ts";
import { publishLimitFromEnv } from "../relay/settings.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { parseListenAddress } from "../system/listen-address.ts";
import { metricsExposureWarning } from "../system/listen-warning.ts";
import type { HubDaemon } from "./daemon.ts";
import { type Part, StartRefused } from "./parts.ts";
import type { DaemonRun } from "./run.ts";

/** `hybro-hub status`, `agents`, `stop` and `reload-key` over the control socket. */
export function controlSocket(run: DaemonRun): Part {
  const { logger } = run;
  const socketPath = controlSocketPath(run.options.paths);
  const control = new ControlServer({
    socketPath,
    logger,
    handlers: {
      status: () => run.status(),
      agents: () => run.status().agents,
      stop: () => {
        logger.info("stop requested over the control socket");
        setImmediate(() => void run.shutdown(ExitCode.ok));
        return { pid: process.pid, stopping: true };
      },
      "reload-key": () => run.reloadKey("reload requested"),
    },
  });
  return {
    name: "control socket",
    async start() {
      try {
        await control.listen();
      } catch (error) {
        throw new StartRefused(
          error instanceof ControlSocketInUseError
            ? "hybro-hub is already running (its control socket answers); use `hybro-hub restart` or `hybro-hub stop`"
            : `cannot open the control socket ${socketPath}: ${(error as Error).message}`,
          ExitCode.error,
        );
      }
    },
    close: () => control.close(),
  };
}

/** SIGINT/SIGTERM stop (a second one exits now), SIGHUP reloads, a crash is logged first. */
export function processSignals(run: DaemonRun, lock: HubLock): Part {
  const { logger, options } = run;
  const onSignal = (signal: NodeJS.Signals) => {
    if (run.stopping) {
      logger.warn(`second ${signal}: exiting now; events not yet sent go out on the next start`);
      lock.release();
      process.exit(ExitCode.forced);
    }
    logger.info(`${signal}: finishing running turns, then stopping (send again to exit now)`);
    void run.shutdown(ExitCode.ok);
  };
  // SIGHUP (`systemctl --user reload hybro-hub`): the key and the agents file, read again now.
  const onHangup = () => {
    run.tryReloadKey("SIGHUP");
    if (!run.daemon) return;
    run.reloadPrivacy("SIGHUP");
    logger.info(`SIGHUP: re-reading ${options.agentsFile}`);
    void run.daemon.registry.reload();
  };
  // A bug that escapes every handler still ends the process (Node's default); log it first so
  // the reason is in hub.log, not only in the stderr file.
  const onCrash = (error: Error, origin: string) => {
    logger.fatal({ err: error, origin }, "hybro-hub crashed; this is a bug, please report it");
  };
  return {
    name: "signals",
    start() {
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      process.on("SIGHUP", onHangup);
      process.on("uncaughtExceptionMonitor", onCrash);
    },
    close() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onHangup);
      process.off("uncaughtExceptionMonitor", onCrash);
    },
  };
}

/** A replaced key (config.json, or the named key file) and changed privacy settings, reloaded. */
export function configWatch(run: DaemonRun): Part {
  const { options } = run;
  const watched = options.apiKeyFile ?? options.configFile;
  const changed = (now: { mtimeMs: number }, before: { mtimeMs: number }) =>
    now.mtimeMs !== before.mtimeMs && now.mtimeMs !== 0;
  const onWatchedChange = (now: { mtimeMs: number }, before: { mtimeMs: number }) => {
    if (!changed(now, before)) return;
    run.tryReloadKey(`${watched} changed`);
    if (watched === options.configFile) run.reloadPrivacy(`${watched} changed`);
  };
  const onConfigChange = (now: { mtimeMs: number }, before: { mtimeMs: number }) => {
    if (changed(now, before)) run.reloadPrivacy(`${options.configFile} changed`);
  };
  return {
    name: "config watch",
    start() {
      const watch = { interval: run.settings.keyWatchIntervalMs, persistent: false };
      watchFile(watched, watch, onWatchedChange);
      if (watched !== options.configFile) watchFile(options.configFile, watch, onConfigChange);
    },
    close() {
      unwatchFile(watched, onWatchedChange);
      unwatchFile(options.configFile, onConfigChange);
    },
  };
}

/** config.json's "privacy", checked before anything else is made (a broken one stops the start). */
export function privacyAtStart(run: DaemonRun): Part {
  return {
    name: "privacy settings",
    start() {
      const read = run.readPrivacyAtStart();
      if (!read.ok) throw new StartRefused(read.error, ExitCode.usage);
    },
  };
}

/** The holder of the inspector (`--inspect`) between the parts that make, attach and close it. */
export interface InspectorSlot {
  inspector: Inspector | null;
}

/** `--inspect`: the recorder the hub reports to, made before the hub (nothing listens yet). */
export function inspectorRecorder(run: DaemonRun, slot: InspectorSlot): Part {
  const { logger, options } = run;
  return {
    name: "inspector",
    async start() {
      if (!options.inspect) return;
      const { createInspector, keptTurnsFromEnv, parseInspectAddress } = await import(
        "../inspector/index.ts"
      );
      const parsed = parseInspectAddress(options.inspect);
      if (!parsed.ok) throw new StartRefused(`--inspect ${parsed.error}`, ExitCode.usage);
      const kept = keptTurnsFromEnv(process.env);
      if (kept.error) logger.warn(kept.error);
      slot.inspector = createInspector({
        address: parsed.address,
        logger,
        ...(kept.turns ? { recorder: { maxTurns: kept.turns } } : {}),
      });
      options.secrets.add(slot.inspector.token); // masked should anything ever log it
    },
    close: () => slot.inspector?.close(),
  };
}

/** The HubDaemon, assembled with its settings (started last, after every other part). */
export function hubDaemon(run: DaemonRun, slot: InspectorSlot): Part {
  const { logger, options } = run;
  return {
    name: "hub",
    async start() {
      const hubId = loadOrCreateHubId(options.paths.data, (message) => logger.warn(message));
      run.hubId = hubId;
      // Loaded on demand so the CLI's other commands do not pay for the hub's modules.
      const { HubDaemon } = await import("./daemon.ts");
      const bodyLimit = publishLimitFromEnv(process.env);
      if (bodyLimit.error) logger.warn(bodyLimit.error);
      run.daemon = new HubDaemon({
        hubId,
        gatewayUrl: options.gatewayUrl,
        apiKey: () => run.apiKey(),
        keySource: options.keySource,
        agentsFile: options.agentsFile,
        logger,
        ...options.parts,
        relay: {
          ...(bodyLimit.bytes ? { publishMaxBodyBytes: bodyLimit.bytes } : {}),
          ...options.parts?.relay,
        },
        hub: { shutdownGraceMs: options.shutdownGraceMs },
        dataDir: options.paths.data,
        ...(run.startPrivacy ? { privacy: run.startPrivacy } : {}),
        ...(slot.inspector ? { observer: slot.inspector.recorder } : {}),
      });
    },
  };
}

/** `--inspect`: serves the page for the assembled hub and reports its URL once. */
export function inspectorPage(run: DaemonRun, slot: InspectorSlot): Part {
  const { logger, options } = run;
  return {
    name: "inspector page",
    async start() {
      const { inspector } = slot;
      if (!inspector) return;
      try {
        run.inspectorUrl = await inspector.attach(hubOf(run));
      } catch (error) {
        throw new StartRefused(
          `--inspect ${options.inspect}: cannot listen: ${(error as Error).message}`,
          ExitCode.error,
        );
      }
      logger.info(
        `inspector on ${new URL(run.inspectorUrl).origin}/ (its URL was printed at start)`,
      );
      run.report.inspector(run.inspectorUrl);
    },
  };
}

/** `--metrics`: Prometheus metrics and /ready on the given address. */
export function metricsServer(run: DaemonRun): Part {
  const { logger, options } = run;
  let closeMetrics = () => {};
  let server: { url: string; close(): Promise<void> } | null = null;
  return {
    name: "metrics",
    async start() {
      if (!options.metrics) return;
      const hub = hubOf(run);
      const { startMetricsServer } = await import("../metrics/server.ts");
      const { createHubMetrics } = await import("../metrics/hub-metrics.ts");
      const address = parseListenAddress(options.metrics);
      if (!address) {
        throw new StartRefused(
          `--metrics ${options.metrics}: expected host:port, e.g. 127.0.0.1:9464`,
          ExitCode.usage,
        );
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
        server = await startMetricsServer({
          ...address,
          registry: metrics.registry,
          ready: () => {
            const relay = hub.link.state();
            return relay.ready && relay.connection === "open";
          },
        });
      } catch (error) {
        throw new StartRefused(
          `--metrics ${options.metrics}: cannot listen: ${(error as Error).message}`,
          ExitCode.error,
        );
      }
      run.metricsUrl = `${server.url}/metrics`;
      logger.info(`metrics on ${run.metricsUrl}`);
    },
    async close() {
      closeMetrics();
      await server?.close();
    },
  };
}

/** Tells whoever started the daemon: progress while the relay is not reachable, then ready or failed. */
export function startupReport(run: DaemonRun): Part {
  const { logger, report } = run;
  return {
    name: "startup report",
    start() {
      const hub = hubOf(run);
      hub.on("ready", ({ agents }) => {
        run.phase = run.stopping ? run.phase : "ready";
        logger.info(`hub ready: ${agents} agent${agents === 1 ? "" : "s"} synced`);
        if (!run.reported) {
          run.reported = true;
          report.ready({ pid: process.pid, agents });
        }
      });
      hub.on("fatal", (error) => {
        logger.error(error.message);
        if (!run.reported) {
          run.reported = true;
          report.failed(error.message, ExitCode.auth);
        }
        void run.shutdown(ExitCode.auth, true);
      });
      hub.link.on("disconnected", (error) => {
        if (run.reported) return;
        report.progress(
          error
            ? `relay not reachable yet (${error.message}); retrying`
            : "connecting to the relay",
        );
      });
    },
  };
}

function hubOf(run: DaemonRun): HubDaemon {
  if (!run.daemon) throw new Error("internal: a part that needs the hub started before it");
  return run.daemon;
}

function publishStatsOf(hub: HubDaemon): PublishCounters {
  const { batches, eventsSent, retries, dropped } = hub.link.state().publish;
  return { batches, eventsSent, retries, dropped };
}
