// `hybro-hub privacy report|test`: what the privacy guard did (from the audit record) and what it
// would do with a text. Only the command names live here; the work is loaded when one runs, so
// the bin does not load the guard for every other command.
import type { Command } from "commander";

export function registerPrivacyCommand(program: Command): void {
  const privacy = program
    .command("privacy")
    .description("what the privacy guard recorded, and what it would do with a text");
  privacy
    .command("report")
    .description("bytes out per agent, detections and actions per kind, blocked turns, over time")
    .option(
      "--since <when>",
      'a duration back from now (30m, 24h, 7d, 2w), a date, or "all"',
      "24h",
    )
    .option("--json", "print the report as JSON")
    .option("--file <file>", "another audit file (default: privacy-audit.jsonl in the data folder)")
    .action(async (options: { since: string; json?: boolean; file?: string }) => {
      const { privacyReport } = await import("./privacy-commands.ts");
      process.exitCode = await privacyReport(options);
    });
  privacy
    .command("test")
    .description(
      "run a text through an agent's policy: what would be flagged and done (values masked)",
    )
    .argument("[file]", 'the text to test; "-" or none reads standard input')
    .option("--agent <name>", "the agent whose policy applies (default: the hub-wide policy)")
    .option("--agents <file>", "agents file (default: agents.json in the config directory)")
    .option("--print", "also print the text as it would leave")
    .option("--json", "print the result as JSON")
    .action(
      async (
        file: string | undefined,
        options: { agent?: string; agents?: string; print?: boolean; json?: boolean },
      ) => {
        const { privacyTest } = await import("./privacy-commands.ts");
        process.exitCode = await privacyTest(file, options);
      },
    );
}
