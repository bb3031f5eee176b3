// `hybro-hub init`: a ready agents.json in the config folder. It is the packaged example plus a
// copy of the example stdio agent next to it, so the entry's relative path (resolved from the
// file's own folder) finds the script wherever the folder is.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join, resolve as resolvePath } from "node:path";
import type { Command } from "commander";
import { defaultAgentsFilePath, hubPaths } from "../config/paths.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { packagePath } from "./entry-path.ts";

/** The example agent, where agents.example.json's stdio entry expects it (relative to the file). */
const EXAMPLE_AGENT = join("examples", "echo-stdio-agent.mjs");

export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description(
      "write a ready agents.json (the example, with its stdio echo agent) into the config folder",
    )
    .option("--agents <file>", "write this file instead (the example agent goes next to it)")
    .option("--force", "replace an existing file (the old one is kept as .bak)")
    .action((options: { agents?: string; force?: boolean }) => {
      process.exitCode = runInit(
        resolvePath(options.agents ?? defaultAgentsFilePath(hubPaths())),
        options.force === true,
      );
    });
}

function runInit(agentsFile: string, force: boolean): number {
  const folder = dirname(agentsFile);
  const agentCopy = join(folder, EXAMPLE_AGENT);
  if (existsSync(agentsFile) && !force) {
    process.stderr.write(
      `error: ${agentsFile} already exists; it is left as it is (\`hybro-hub init --force\` replaces it and keeps the old one as ${agentsFile}.bak)\n`,
    );
    return ExitCode.error;
  }
  try {
    mkdirSync(dirname(agentCopy), { recursive: true, mode: 0o700 });
    if (existsSync(agentsFile)) renameSync(agentsFile, `${agentsFile}.bak`);
    copyFileSync(packagePath("agents.example.json"), agentsFile);
    const packaged = readFileSync(packagePath(EXAMPLE_AGENT));
    const kept = existsSync(agentCopy) && !readFileSync(agentCopy).equals(packaged) && !force;
    if (!kept) copyFileSync(packagePath(EXAMPLE_AGENT), agentCopy);
    process.stdout.write(
      [
        `wrote ${agentsFile}: the example agents (the stdio echo is on; an HTTP and a WebSocket entry are off until you enable them)`,
        kept
          ? `kept ${agentCopy}: it differs from the packaged example agent (--force replaces it)`
          : `wrote ${agentCopy}: the echo agent it runs (copy it to write your own)`,
        `next: \`hybro-hub dev --agents ${agentsFile}\` tries it on a local relay; with a key saved, \`hybro-hub start\` serves it (a running hub picks up the change by itself)`,
        "",
      ].join("\n"),
    );
    return ExitCode.ok;
  } catch (error) {
    process.stderr.write(`error: cannot write ${agentsFile}: ${(error as Error).message}\n`);
    return ExitCode.error;
  }
}
