// `hybro-hub stop`: graceful over the control socket (or SIGTERM when the socket is gone), then
// SIGKILL once the bound has passed, so nothing is left running.
import { unlinkSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { type HubPaths, hubPaths } from "../config/paths.ts";
import {
  isProcessAlive,
  looksLikeHubProcess,
  readPidFile,
  removePidFileIf,
} from "../config/pid-file.ts";
import { controlSocketPath, pidFilePath } from "../config/runtime-files.ts";
import { askDaemon, isSocketLive } from "../control/client.ts";
import { ExitCode } from "./exit-codes.ts";
import { startSpinner } from "./spinner.ts";

/** Graceful stop bound: the hub's shutdown grace (10 s) + outbox flush (5 s) + margin. */
export const DEFAULT_STOP_TIMEOUT_MS = 30_000;
export const STOP_POLL_INTERVAL_MS = 100;

export type StopOutcome =
  | { kind: "not-running" }
  | { kind: "stopped"; pid: number; managedBy: string | null }
  | { kind: "killed"; pid: number }
  | { kind: "failed"; pid: number; message: string };

export function registerStopCommand(program: Command): void {
  program
    .command("stop")
    .description("stop the running hub (running turns get the shutdown grace period)")
    .option("--timeout-ms <ms>", "then kill it", String(DEFAULT_STOP_TIMEOUT_MS))
    .action(async (options: { timeoutMs: string }) => {
      const outcome = await stopDaemon(hubPaths(), Number(options.timeoutMs));
      process.exitCode = printStopOutcome(outcome);
    });
}

export function printStopOutcome(outcome: StopOutcome): number {
  switch (outcome.kind) {
    case "not-running":
      process.stdout.write("hybro-hub is not running\n");
      return ExitCode.ok;
    case "stopped":
      process.stdout.write(`hybro-hub stopped (pid ${outcome.pid})\n`);
      if (outcome.managedBy === "systemd")
        process.stdout.write(
          "it runs as a systemd service: it starts again at next login (`hybro-hub service uninstall` removes it)\n",
        );
      if (outcome.managedBy === "launchd")
        process.stdout.write(
          "it runs as a launchd agent: it starts again at next login (`hybro-hub service uninstall` removes it)\n",
        );
      return ExitCode.ok;
    case "killed":
      process.stdout.write(`hybro-hub did not stop in time and was killed (pid ${outcome.pid})\n`);
      return ExitCode.ok;
    case "failed":
      process.stderr.write(`error: ${outcome.message}\n`);
      return ExitCode.error;
  }
}

export async function stopDaemon(paths: HubPaths, timeoutMs: number): Promise<StopOutcome> {
  const socketPath = controlSocketPath(paths);
  const pidFile = pidFilePath(paths);
  let pid: number | null = null;
  let managedBy: string | null = null;
  // A hung daemon accepts connections but never answers: do not wait longer than the bound.
  const askTimeoutMs = Math.min(5_000, timeoutMs);
  try {
    const status = await askDaemon(socketPath, "status", { timeoutMs: askTimeoutMs });
    pid = status.pid;
    managedBy = status.managedBy;
    await askDaemon(socketPath, "stop", { timeoutMs: askTimeoutMs });
  } catch {
    // No answer on the socket (none, or a hung daemon): fall back to the pid file and a signal.
    pid ??= readPidFile(pidFile);
    if (pid === null || !isProcessAlive(pid) || !looksLikeHubProcess(pid)) {
      await cleanUp(paths, pid);
      return { kind: "not-running" };
    }
    try {
      process.kill(pid, "SIGTERM");
    } catch (killError) {
      return {
        kind: "failed",
        pid,
        message: `cannot signal pid ${pid}: ${(killError as Error).message}`,
      };
    }
  }
  const spinner = startSpinner(`stopping hybro-hub (pid ${pid}): finishing running turns`);
  try {
    if (await waitForExit(pid, timeoutMs)) {
      await cleanUp(paths, pid);
      return { kind: "stopped", pid, managedBy };
    }
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // exited just now
    }
    if (await waitForExit(pid, 5_000)) {
      await cleanUp(paths, pid);
      return { kind: "killed", pid };
    }
    return { kind: "failed", pid, message: `pid ${pid} is still running after SIGKILL` };
  } finally {
    spinner.stop();
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(STOP_POLL_INTERVAL_MS);
  }
  return true;
}

/** A killed daemon leaves its pid file and socket behind; remove them (only if still its own). */
async function cleanUp(paths: HubPaths, pid: number | null): Promise<void> {
  removePidFileIf(pidFilePath(paths), pid);
  const socketPath = controlSocketPath(paths);
  // A killed multi-threaded process can show as gone (its main thread a zombie) while its other
  // threads still hold the listening socket for a moment: give it up to a second to let go.
  for (let attempt = 0; await isSocketLive(socketPath, 250); attempt++) {
    if (attempt >= 10) return; // still answering: another daemon owns it now
    await sleep(100);
  }
  try {
    unlinkSync(socketPath);
  } catch {
    // none
  }
}
