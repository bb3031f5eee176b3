#!/usr/bin/env node
// hybro-hub command line. Each command lives in its own file and registers itself here.
import { Command } from "commander";
import { packageVersion } from "./version.ts";

export function buildProgram(): Command {
  const program = new Command("hybro-hub")
    .description("Bridge local AI agents to the Hybro relay, privately.")
    .version(packageVersion(), "-V, --version")
    .showHelpAfterError()
    .enablePositionalOptions();
  // Commands register here, one line each:
  return program;
}

await buildProgram().parseAsync(process.argv);
