// `hybro-hub status`: asks the running daemon over its control socket.
import type { Command } from "commander";
import { hubLockState } from "../config/hub-lock.ts";
import { configFilePath, hubPaths } from "../config/paths.ts";
import { controlSocketPath } from "../config/runtime-files.ts";
import { askDaemon, DaemonNotRunningError, UnsafeRuntimeFolderError } from "../control/client.ts";
import type { ControlCommand, ControlResults } from "../control/protocol.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { chooseGatewayUrl, gatewayUrlOrigin } from "./gateway-url.ts";
import { formatStatus } from "./status-text.ts";

export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("show the running hub: relay connection, uptime, agents, turns, outbox")
    .option("--json", "print the daemon's answer as JSON")
    .action(async (options: { json?: boolean }) => {
      const next = chooseGatewayUrl({ configFile: configFilePath(hubPaths()) });
      process.exitCode = await printFromDaemon("status", options.json, (status) =>
        formatStatus(status, { url: next.url, origin: gatewayUrlOrigin(next.source) }),
      );
    });
}

/** Asks the daemon and prints the answer; the exit code says whether one is running. */
export async function printFromDaemon<C extends ControlCommand>(
  command: C,
  json: boolean | undefined,
  format: (result: ControlResults[C]) => string,
): Promise<number> {
  const paths = hubPaths();
  const socketPath = controlSocketPath(paths);
  try {
    const result = await askDaemon(socketPath, command);
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : format(result));
    return ExitCode.ok;
  } catch (error) {
    // No answer on the socket; the data folder's hub lock still tells whether a hub runs.
    const lock = error instanceof UnsafeRuntimeFolderError ? null : hubLockState(paths.data);
    if (lock?.held) {
      if (json) {
        const pid = lock.holder?.pid ?? null;
        process.stdout.write(`${JSON.stringify({ running: true, pid, answering: false })}\n`);
      }
      const who = lock.holder ? `is running (pid ${lock.holder.pid})` : "is starting";
      process.stderr.write(
        `hybro-hub ${who} but its control socket ${socketPath} does not answer (was the runtime folder removed?); \`hybro-hub stop\` stops it\n`,
      );
      return ExitCode.error;
    }
    if (error instanceof DaemonNotRunningError) {
      if (json) process.stdout.write(`${JSON.stringify({ running: false })}\n`);
      process.stderr.write("hybro-hub is not running (start it with `hybro-hub start`)\n");
      return ExitCode.notRunning;
    }
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return ExitCode.error;
  }
}
