// `hybro-hub restart`: stop the running hub and start it again the way it was started (the
// daemon reports its non-secret start options); options given here override those.
import { spawnSync } from "node:child_process";
import { Command } from "commander";
import { hubPaths } from "../config/paths.ts";
import { controlSocketPath } from "../config/runtime-files.ts";
import { askDaemon } from "../control/client.ts";
import { LAUNCHD_LABEL } from "../service/launchd-plist.ts";
import { SYSTEMD_UNIT_NAME } from "../service/systemd-unit.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { addStartOptions, runStart, type StartOptions } from "./start.ts";
import { DEFAULT_STOP_TIMEOUT_MS, printStopOutcome, stopDaemon } from "./stop.ts";

export function registerRestartCommand(program: Command): void {
  addStartOptions(
    program.command("restart").description("stop the running hub and start it again"),
  ).action(async (options: StartOptions, command: Command) => {
    const code = await restart(options, command);
    if (options.foreground) process.exit(code);
    process.exitCode = code;
  });
}

async function restart(given: StartOptions, command: Command): Promise<number> {
  const paths = hubPaths();
  const status = await askDaemon(controlSocketPath(paths), "status").catch(() => null);
  if (status?.managedBy === "systemd") {
    return run("systemctl", ["--user", "restart", SYSTEMD_UNIT_NAME]);
  }
  if (status?.managedBy === "launchd") {
    return run("launchctl", ["kickstart", "-k", `gui/${process.getuid?.() ?? 0}/${LAUNCHD_LABEL}`]);
  }
  const stopped = await stopDaemon(paths, DEFAULT_STOP_TIMEOUT_MS);
  if (stopped.kind === "not-running")
    process.stdout.write("hybro-hub was not running; starting it\n");
  else if (printStopOutcome(stopped) !== ExitCode.ok) return ExitCode.error;

  // The previous daemon's options, then whatever was given to restart on the command line.
  const previous = addStartOptions(new Command("start")).exitOverride();
  previous.parse(status?.launch ?? [], { from: "user" });
  const options = { ...(previous.opts() as StartOptions) };
  for (const [name, value] of Object.entries(given)) {
    const source = command.getOptionValueSource(name);
    if (source === "cli" || source === "env")
      (options as unknown as Record<string, unknown>)[name] = value;
  }
  return runStart(options);
}

function run(program: string, args: string[]): number {
  process.stdout.write(`hybro-hub runs as a service: ${program} ${args.join(" ")}\n`);
  const result = spawnSync(program, args, { stdio: "inherit" });
  if (result.error) {
    process.stderr.write(`error: ${result.error.message}\n`);
    return ExitCode.error;
  }
  return result.status ?? ExitCode.error;
}
