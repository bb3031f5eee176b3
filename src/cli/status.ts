// `hybro-hub status`: asks the running daemon over its control socket.
import type { Command } from "commander";
import { configFilePath, hubPaths } from "../config/paths.ts";
import { controlSocketPath } from "../config/runtime-files.ts";
import { askDaemon, DaemonNotRunningError } from "../control/client.ts";
import type { ControlCommand, ControlResults } from "../control/protocol.ts";
import { ExitCode } from "./exit-codes.ts";
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
  try {
    const result = await askDaemon(controlSocketPath(hubPaths()), command);
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : format(result));
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof DaemonNotRunningError) {
      if (json) process.stdout.write(`${JSON.stringify({ running: false })}\n`);
      process.stderr.write("hybro-hub is not running (start it with `hybro-hub start`)\n");
      return ExitCode.notRunning;
    }
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return ExitCode.error;
  }
}
