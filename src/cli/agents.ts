// `hybro-hub agents`: the running daemon's roster with health and turn counts.
import type { Command } from "commander";
import { printFromDaemon } from "./status.ts";
import { formatAgents } from "./status-text.ts";

export function registerAgentsCommand(program: Command): void {
  program
    .command("agents")
    .description("list the running hub's agents with health and turn counts")
    .option("--json", "print the daemon's answer as JSON")
    .action(async (options: { json?: boolean }) => {
      process.exitCode = await printFromDaemon("agents", options.json, formatAgents);
    });
}
