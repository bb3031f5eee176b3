// The `hybro-hub` program itself, before any command is added (program.ts adds them all; the bin
// adds only `dev` or `start` when that is the command, see main.ts).
import { Command, type CommanderError } from "commander";
import { ExitCode } from "../system/exit-codes.ts";
import { packageVersion } from "../system/version.ts";

export function rootProgram(): Command {
  return (
    new Command("hybro-hub")
      .description("Bridge local AI agents to the Hybro relay, privately.")
      .version(packageVersion(), "-V, --version")
      .showHelpAfterError()
      .enablePositionalOptions()
      // Set before the commands are added, which inherit it: help and version end with 0, every
      // parse error (unknown option, missing argument, bad choice) is a usage error.
      .exitOverride((error: CommanderError) => {
        process.exit(error.exitCode === 0 ? ExitCode.ok : ExitCode.usage);
      })
  );
}
