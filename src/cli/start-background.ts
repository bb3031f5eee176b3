// The launcher half of a background `start`: spawn this CLI again as a detached
// `start --foreground --daemon-child`, hand it the key on stdin (never on its command line or
// in its environment, where `ps` and /proc/<pid>/environ would show it), and wait on a pipe
// (its fd 3) until it reports ready or failed. Then print which and let it go.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { HubPaths } from "../config/paths.ts";
import { controlSocketPath, logFilePath, stderrLogFilePath } from "../config/runtime-files.ts";
import { askDaemon } from "../control/client.ts";
import { daemonEnv, daemonNodeFlags } from "../system/daemon-settings.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { cliEntryPath } from "./entry-path.ts";
import { startSpinner } from "./spinner.ts";
import type { StartupMessage } from "./startup-report.ts";

interface LaunchOptions {
  paths: HubPaths;
  apiKey: string;
  keySource: string;
  /** `start` arguments for the child (no secrets). */
  args: string[];
  readyTimeoutMs: number;
  /** Runs once no other hub answers, right before the daemon is spawned. */
  beforeSpawn?: () => void;
}

export async function launchInBackground(options: LaunchOptions): Promise<number> {
  const { paths } = options;
  const socketPath = controlSocketPath(paths);
  const running = await askDaemon(socketPath, "status", { timeoutMs: 2_000 }).catch(() => null);
  if (running) {
    process.stderr.write(
      `hybro-hub is already running (pid ${running.pid}); use \`hybro-hub restart\` or \`hybro-hub stop\`\n`,
    );
    return ExitCode.error;
  }

  options.beforeSpawn?.();
  const logFile = logFilePath(paths);
  const stderrFile = stderrLogFilePath(paths);
  mkdirSync(paths.log, { recursive: true, mode: 0o700 });
  const stderrFd = openSync(stderrFile, "a", 0o600);
  const stderrStart = statSync(stderrFile).size;

  const env = daemonEnv(process.env);
  delete env.HYBRO_API_KEY;
  delete env.NOTIFY_SOCKET;
  const child = spawn(
    process.execPath,
    [
      ...daemonNodeFlags(process.execArgv, process.env.NODE_OPTIONS),
      ...process.execArgv.filter((arg) => !arg.startsWith("--inspect")),
      cliEntryPath(),
      "start",
      "--foreground",
      "--daemon-child",
      "--log-file",
      logFile,
      ...options.args,
    ],
    {
      detached: true,
      // stdin: the key; stdout: unused; stderr: crash output; fd 3: the readiness report.
      stdio: ["pipe", "ignore", stderrFd, "pipe"],
      env,
      // The caller's folder, as in the foreground: relative commands in agents.json resolve the same.
      cwd: process.cwd(),
    },
  );
  closeSync(stderrFd);
  child.stdin?.on("error", () => {}); // the child may die before reading it
  child.stdin?.end(JSON.stringify({ apiKey: options.apiKey, keySource: options.keySource }));

  const spinner = startSpinner("starting hybro-hub: registering with the relay");
  /** Printed with the outcome, once (it holds the inspector's token: never logged). */
  let inspectorUrl: string | null = null;
  const inspectorLine = () => (inspectorUrl ? `inspector: ${inspectorUrl}\n` : "");
  const report = child.stdio[3] as Readable;
  const outcome = await new Promise<
    | { kind: "message"; message: StartupMessage }
    | { kind: "exit"; code: number | null; signal: NodeJS.Signals | null }
    | { kind: "timeout"; progress: string | null }
  >((resolve) => {
    let progress: string | null = null;
    const timer = setTimeout(() => resolve({ kind: "timeout", progress }), options.readyTimeoutMs);
    const lines = createInterface({ input: report });
    lines.on("line", (line) => {
      let message: StartupMessage;
      try {
        message = JSON.parse(line) as StartupMessage;
      } catch {
        return;
      }
      if (message.event === "inspector") {
        inspectorUrl = message.url;
        return;
      }
      if (message.event === "progress") {
        progress = message.message;
        spinner.update(`starting hybro-hub: ${message.message}`);
        return;
      }
      clearTimeout(timer);
      resolve({ kind: "message", message });
    });
    child.once("exit", (code, signal) => {
      // Give a final report line that is still in the pipe the chance to arrive first.
      setTimeout(() => {
        clearTimeout(timer);
        resolve({ kind: "exit", code, signal });
      }, 100);
    });
  });
  spinner.stop();
  report.destroy();
  child.unref();

  if (outcome.kind === "message" && outcome.message.event === "ready") {
    const { pid, agents } = outcome.message;
    process.stdout.write(
      `hybro-hub started (pid ${pid}): ready, ${agents} agent${agents === 1 ? "" : "s"} synced\nlogs: ${logFile}\n${inspectorLine()}`,
    );
    return ExitCode.ok;
  }
  if (outcome.kind === "message" && outcome.message.event === "failed") {
    process.stderr.write(`error: ${outcome.message.message}\n`);
    return outcome.message.exitCode || ExitCode.error;
  }
  if (outcome.kind === "timeout") {
    // Ask the daemon what it is waiting for (a register failure is not a stream event).
    const now = await askDaemon(socketPath, "status", { timeoutMs: 2_000 }).catch(() => null);
    const reason = now?.relay.lastError ?? outcome.progress;
    process.stdout.write(
      `hybro-hub is running in the background (pid ${child.pid}) but is not ready yet` +
        `${reason ? `: ${reason}` : ""}.\n` +
        `It keeps retrying; check with \`hybro-hub status\`. logs: ${logFile}\n${inspectorLine()}`,
    );
    return ExitCode.ok;
  }
  const crash = readFrom(stderrFile, stderrStart).trim();
  const how =
    outcome.kind === "exit" && outcome.signal
      ? `was killed by ${outcome.signal}`
      : `exited with code ${outcome.kind === "exit" ? outcome.code : "?"}`;
  process.stderr.write(
    `error: hybro-hub ${how} during start-up; see ${logFile}${crash ? `\n${lastLines(crash, 20)}` : ""}\n`,
  );
  return outcome.kind === "exit" && outcome.code ? outcome.code : ExitCode.error;
}

function readFrom(file: string, offset: number): string {
  try {
    const size = statSync(file).size;
    if (size <= offset) return "";
    const fd = openSync(file, "r");
    const buffer = Buffer.alloc(Math.min(size - offset, 64 * 1024));
    readSync(fd, buffer, 0, buffer.length, Math.max(offset, size - buffer.length));
    closeSync(fd);
    return buffer.toString("utf8");
  } catch {
    return "";
  }
}

function lastLines(text: string, count: number): string {
  return text.split("\n").slice(-count).join("\n");
}
