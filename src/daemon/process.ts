// The daemon process itself, however it was started (`start --foreground` in a terminal, the
// background child of `start`, systemd or launchd): the private runtime folder and the hub lock
// (one hub per data folder), then the parts below started in order, the hub last, and closed in
// reverse once it stops.
import { acquireHubLock, type HubLock } from "../config/hub-lock.ts";
import { ensureRuntimeFolder } from "../config/runtime-files.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { oneLineError } from "../system/one-line-errors.ts";
import { StartedParts, StartRefused } from "./parts.ts";
import {
  configWatch,
  controlSocket,
  hubDaemon,
  type InspectorSlot,
  inspectorPage,
  inspectorRecorder,
  metricsServer,
  privacyAtStart,
  processSignals,
  startupReport,
} from "./process-parts.ts";
import { type DaemonProcessOptions, DaemonRun } from "./run.ts";

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
  // A private runtime folder, then the data folder's hub lock: one hub per data folder, even
  // when its runtime folder was removed or another one is used (see config/hub-lock.ts).
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
    return await runLocked(new DaemonRun(options), lock);
  } catch (error) {
    return refuse(error);
  } finally {
    lock.release();
  }
}

async function runLocked(run: DaemonRun, lock: HubLock): Promise<number> {
  const { logger, options, report } = run;
  const slot: InspectorSlot = { inspector: null };
  const parts = [
    controlSocket(run),
    processSignals(run, lock),
    configWatch(run),
    privacyAtStart(run),
    inspectorRecorder(run, slot),
    hubDaemon(run, slot),
    inspectorPage(run, slot),
    metricsServer(run),
    startupReport(run),
  ];
  const started = new StartedParts();
  try {
    try {
      await started.start(parts);
    } catch (error) {
      if (!(error instanceof StartRefused)) throw error;
      report.failed(error.message, error.exitCode);
      return error.exitCode;
    }
    const hub = run.daemon as NonNullable<typeof run.daemon>;
    logger.info(
      {
        hubId: run.hubId,
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
      if (!run.reported) {
        run.reported = true;
        report.failed(message, ExitCode.error);
      }
      void run.shutdown(ExitCode.error, true);
    }
    return await run.exited;
  } finally {
    await started.close((part, error) =>
      logger.error({ err: error }, `error while closing the ${part.name}`),
    );
  }
}
