#!/usr/bin/env node
// hybro-hub command line. Each command lives in its own file and registers itself here.
import { Command } from "commander";
import { registerAgentsCommand } from "./agents.ts";
import { registerConfigCommand } from "./config.ts";
import { registerDevCommand } from "./dev.ts";
import { registerDoctorCommand } from "./doctor.ts";
import { ExitCode } from "./exit-codes.ts";
import {
  registerChatCommand,
  registerDiscoverCommand,
  registerSendCommand,
} from "./gateway-commands.ts";
import { registerLogsCommand } from "./logs.ts";
import { oneLineError } from "./one-line-errors.ts";
import { registerRelayCommand } from "./relay.ts";
import { registerRestartCommand } from "./restart.ts";
import { registerServiceCommand } from "./service.ts";
import { registerStartCommand } from "./start.ts";
import { registerStatusCommand } from "./status.ts";
import { registerStopCommand } from "./stop.ts";
import { packageVersion } from "./version.ts";

export function buildProgram(): Command {
  const program = new Command("hybro-hub")
    .description("Bridge local AI agents to the Hybro relay, privately.")
    .version(packageVersion(), "-V, --version")
    .showHelpAfterError()
    .enablePositionalOptions();
  // Commands register here, one line each:
  registerStartCommand(program);
  registerStopCommand(program);
  registerRestartCommand(program);
  registerStatusCommand(program);
  registerAgentsCommand(program);
  registerLogsCommand(program);
  registerDoctorCommand(program);
  registerConfigCommand(program);
  registerServiceCommand(program);
  registerDevCommand(program);
  registerRelayCommand(program);
  registerDiscoverCommand(program);
  registerSendCommand(program);
  registerChatCommand(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  // A folder it cannot write, a full disk: one line saying what to do. Anything else is a bug.
  const line = oneLineError(error);
  if (!line) throw error;
  process.stderr.write(`error: ${line}\n`);
  process.exitCode = ExitCode.error;
}
