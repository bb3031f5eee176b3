// `hybro-hub stop`: graceful over the control socket (or SIGTERM when the socket is gone), then
// SIGKILL once the bound has passed, so nothing is left running. Only a process proven to be
// this data folder's hub is ever signalled (see running-hub.ts), and only while its pid still
// names that same process.
import { unlinkSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { pollUntil } from "../async/poll.ts";
import type { LockHolder } from "../config/hub-lock.ts";
import { type HubPaths, hubPaths } from "../config/paths.ts";
import { controlSocketPath, runtimeFolderProblem } from "../config/runtime-files.ts";
import { askDaemon, isSocketLive } from "../control/client.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { findRunningHub, stillRunning } from "./running-hub.ts";
import { startSpinner } from "./spinner.ts";

/** Graceful stop bound: the hub's shutdown grace (10 s) + outbox flush (5 s) + margin. */
export const DEFAULT_STOP_TIMEOUT_MS = 30_000;
const STOP_POLL_INTERVAL_MS = 100;

type StopOutcome =
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
  // A hung daemon accepts connections but never answers: do not wait longer than the bound.
  const askTimeoutMs = Math.min(5_000, timeoutMs);
  const hub = await findRunningHub(paths, askTimeoutMs);
  if (hub.kind === "none") {
    if (hub.problem) return { kind: "failed", pid: 0, message: hub.problem };
    await removeStaleSocket(paths);
    return { kind: "not-running" };
  }
  if (hub.kind === "unproven") return { kind: "failed", pid: 0, message: hub.message };
  const asked =
    hub.kind === "answering" &&
    (await askDaemon(controlSocketPath(paths), "stop", { timeoutMs: askTimeoutMs }).then(
      () => true,
      () => false, // it answered a moment ago: a signal to that very process will do
    ));
  if (!asked) {
    const problem = signalHub(hub.holder, "SIGTERM");
    if (problem) return { kind: "failed", pid: hub.holder.pid, message: problem };
  }
  const { holder } = hub;
  const managedBy = hub.kind === "answering" ? hub.status.managedBy : null;
  const spinner = startSpinner(`stopping hybro-hub (pid ${holder.pid}): finishing running turns`);
  try {
    if (await waitForExit(holder, timeoutMs)) {
      await removeStaleSocket(paths);
      return { kind: "stopped", pid: holder.pid, managedBy };
    }
    signalHub(holder, "SIGKILL");
    if (await waitForExit(holder, 5_000)) {
      await removeStaleSocket(paths);
      return { kind: "killed", pid: holder.pid };
    }
    return {
      kind: "failed",
      pid: holder.pid,
      message: `pid ${holder.pid} is still running after SIGKILL`,
    };
  } finally {
    spinner.stop();
  }
}

/** Signals the hub only while that pid is still the very process proven to be it. */
function signalHub(holder: LockHolder, signal: NodeJS.Signals): string | null {
  if (!stillRunning(holder)) return null; // gone already (its pid may be someone else's now)
  try {
    process.kill(holder.pid, signal);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ESRCH") return null;
    return `cannot signal the hub (pid ${holder.pid}): ${code === "EPERM" ? "it runs as another user" : (error as Error).message}`;
  }
}

function waitForExit(holder: LockHolder, timeoutMs: number): Promise<boolean> {
  return pollUntil(() => !stillRunning(holder), timeoutMs, STOP_POLL_INTERVAL_MS);
}

/** A killed daemon leaves its socket behind; remove it (only if nothing answers on it). */
async function removeStaleSocket(paths: HubPaths): Promise<void> {
  const socketPath = controlSocketPath(paths);
  if (runtimeFolderProblem(paths.runtime)) return; // not ours to tidy
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
