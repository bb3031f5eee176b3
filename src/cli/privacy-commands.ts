// The work of `hybro-hub privacy report` and `privacy test` (registered in privacy.ts).
import { readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { resolveApiKey } from "../config/api-key.ts";
import { readConfigFile } from "../config/config-file.ts";
import { configFilePath, defaultAgentsFilePath, hubPaths } from "../config/paths.ts";
import { loadAgentsFile } from "../daemon/agents-file.ts";
import { privacyAuditFilePath } from "../privacy/audit-log.ts";
import { readAudit } from "../privacy/audit-read.ts";
import { agentPolicy, hubPrivacyOf } from "../privacy/hub-privacy.ts";
import { changesText } from "../privacy/kinds.ts";
import { maskValue } from "../privacy/mask.ts";
import { Placeholders } from "../privacy/placeholders.ts";
import { describePolicy } from "../privacy/policy.ts";
import { redactText } from "../privacy/redact.ts";
import { buildReport, formatReport, parseSince } from "../privacy/report.ts";
import { findAll } from "../privacy/scan.ts";
import { policyBlock } from "../privacy/turn-guard.ts";
import { ExitCode } from "../system/exit-codes.ts";

export async function privacyReport(options: {
  since: string;
  json?: boolean;
  file?: string;
}): Promise<number> {
  const now = new Date();
  const all = options.since.trim().toLowerCase() === "all";
  const since = all ? null : parseSince(options.since, now);
  if (!all && since === null) {
    process.stderr.write(
      `error: --since ${JSON.stringify(options.since)} is neither a duration (30m, 24h, 7d, 2w), a date (2026-11-01) nor "all"\n`,
    );
    return ExitCode.usage;
  }
  const file = options.file ?? privacyAuditFilePath(hubPaths());
  const read = readAudit(file, since);
  if (read.files.length === 0 && !options.json) {
    process.stdout.write(
      `No audit record at ${file} yet: the hub writes one line there for every event it publishes.\n`,
    );
    return ExitCode.ok;
  }
  const report = buildReport(read.records, { since, now, malformed: read.malformed });
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ file, ...report }, null, 2)}\n`);
  } else {
    const window = all
      ? "all recorded"
      : /^\d+/.test(options.since) && !options.since.includes("-")
        ? `last ${options.since.trim()}`
        : `since ${options.since.trim()}`;
    process.stdout.write(formatReport(report, window));
  }
  return ExitCode.ok;
}

export async function privacyTest(
  file: string | undefined,
  options: { agent?: string; agents?: string; print?: boolean; json?: boolean },
): Promise<number> {
  const paths = hubPaths();
  const configFile = configFilePath(paths);
  const config = readConfigFile(configFile);
  if (!config.ok) return fail(config.error);
  const hub = hubPrivacyOf(config.config, configFile);
  if (!hub.ok) return fail(hub.error);
  const agentsFile = resolvePath(options.agents ?? defaultAgentsFilePath(paths));
  const agents = await loadAgentsFile(agentsFile);
  if (!agents.ok) return fail(agents.error);
  let agentName: string | null = null;
  if (options.agent !== undefined) {
    const entry = agents.config.agents.find(
      (a) => a.name === options.agent || a.localAgentId === options.agent,
    );
    if (!entry) {
      const names = agents.config.agents.map((a) => a.name);
      process.stderr.write(
        `error: no agent named ${JSON.stringify(options.agent)} in ${agentsFile}${names.length > 0 ? ` (agents: ${names.join(", ")})` : ""}; auto-discovered agents follow the hub-wide policy: leave out --agent\n`,
      );
      return ExitCode.usage;
    }
    agentName = entry.name;
  }

  if ((file === undefined || file === "-") && process.stdin.isTTY) {
    process.stderr.write(
      "error: give a FILE, or pipe the text in (… | hybro-hub privacy test -)\n",
    );
    return ExitCode.usage;
  }
  let text: string;
  try {
    text =
      file === undefined || file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  } catch (error) {
    return fail(`cannot read ${file ?? "standard input"}: ${(error as Error).message}`);
  }

  // The hub's own key is always flagged; use it when one is configured (it is never printed).
  const key = resolveApiKey({ configFile, env: process.env });
  const policy = agentPolicy(hub.privacy, agents.config, agentName, key.ok ? key.key : null);
  const findings = findAll(policy, text);
  const blocking = findings.find((f) => f.action === "block");
  const block = blocking ? policyBlock(blocking, "the text") : null;
  const changing = findings.filter((f) => changesText(f.action));
  const output = block ? null : redactText(text, 0, text.length, changing, new Placeholders());
  const listed = findings.map((f) => ({
    ...position(text, f.start),
    kind: f.kind,
    rule: f.rule,
    action: f.action,
    value: maskValue(text.slice(f.start, f.end)),
  }));
  const policyName = agentName === null ? "the hub-wide policy" : `the policy of "${agentName}"`;

  if (options.json) {
    const result: Record<string, unknown> = {
      agent: agentName,
      policy: describePolicy(policy),
      findings: listed,
      blocked: block,
      redactions: block ? 0 : changing.length,
    };
    if (options.print) result["output"] = output;
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return ExitCode.ok;
  }
  const lines = [`Using ${policyName}: ${describePolicy(policy).join(", ")}`, ""];
  if (listed.length === 0) lines.push("Nothing flagged.");
  else {
    lines.push(`${listed.length} finding${listed.length === 1 ? "" : "s"}:`);
    const where = listed.map((f) => `${f.line}:${f.column}`);
    const what = listed.map((f) => `${f.kind} (${f.rule})`);
    const whereWidth = Math.max(...where.map((w) => w.length));
    const whatWidth = Math.max(...what.map((w) => w.length));
    listed.forEach((f, i) => {
      const at = (where[i] as string).padEnd(whereWidth);
      lines.push(
        `  ${at}  ${f.action.padEnd(6)}  ${(what[i] as string).padEnd(whatWidth)}  ${f.value}`,
      );
    });
  }
  lines.push("");
  if (block) {
    lines.push(`Would be BLOCKED: the turn would fail with ${block.errorType}: ${block.message}`);
  } else if (changing.length > 0) {
    lines.push(
      `Would leave with ${changing.length} value${changing.length === 1 ? "" : "s"} redacted.`,
    );
  } else {
    lines.push("Would leave unchanged.");
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  if (options.print && output !== null) {
    process.stdout.write(
      `\n--- as it would leave ---\n${output}${output.endsWith("\n") ? "" : "\n"}`,
    );
  }
  return ExitCode.ok;
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

function fail(message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return ExitCode.error;
}
