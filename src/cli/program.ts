// hybro-hub command line. Each command lives in its own file and registers itself here; main.ts
// (the bin) loads this once the Node version is known to be new enough.
import type { Command } from "commander";
import { registerAgentsCommand } from "./agents.ts";
import { registerConfigCommand } from "./config.ts";
import { registerDevCommand } from "./dev.ts";
import { registerDoctorCommand } from "./doctor.ts";
import {
  registerChatCommand,
  registerDiscoverCommand,
  registerSendCommand,
} from "./gateway-commands.ts";
import { registerInitCommand } from "./init.ts";
import { registerLogsCommand } from "./logs.ts";
import { registerPrivacyCommand } from "./privacy.ts";
import { rootProgram } from "./program-root.ts";
import { registerRelayCommand } from "./relay.ts";
import { registerRestartCommand } from "./restart.ts";
import { registerServiceCommand } from "./service.ts";
import { registerStartCommand } from "./start.ts";
import { registerStatusCommand } from "./status.ts";
import { registerStopCommand } from "./stop.ts";

export function buildProgram(): Command {
  const program = rootProgram();
  // Commands register here, one line each:
  registerStartCommand(program);
  registerStopCommand(program);
  registerRestartCommand(program);
  registerStatusCommand(program);
  registerAgentsCommand(program);
  registerLogsCommand(program);
  registerDoctorCommand(program);
  registerInitCommand(program);
  registerConfigCommand(program);
  registerServiceCommand(program);
  registerDevCommand(program);
  registerRelayCommand(program);
  registerDiscoverCommand(program);
  registerSendCommand(program);
  registerChatCommand(program);
  registerPrivacyCommand(program);
  return program;
}
