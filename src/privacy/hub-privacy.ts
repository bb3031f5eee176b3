// The hub-wide privacy settings from config.json's `"privacy"`: the default policy of every
// agent, whether the audit record is written, and the Python hub's incoming-text keywords and
// patterns. Then the policy of one agent: that default, overlaid by the agent's own entry in
// agents.json.

import type { ConfigFile } from "../config/config-file.ts";
import { compilePolicy, type Policy } from "./policy.ts";
import {
  checkHubPrivacySpec,
  type HubPrivacySpec,
  type PolicySpec,
  type SpecProblem,
} from "./policy-spec.ts";

export interface HubPrivacy {
  /** The policy part of config.json's `"privacy"` (empty: the built-in defaults). */
  defaultSpec: PolicySpec;
  /** Write the audit record (default on). */
  audit: boolean;
  /** Incoming user text (the Python hub's keys). */
  incoming: { keywords: string[]; patterns: string[] };
}

export const DEFAULT_HUB_PRIVACY: HubPrivacy = {
  defaultSpec: {},
  audit: true,
  incoming: { keywords: [], patterns: [] },
};

export type HubPrivacyRead = { ok: true; privacy: HubPrivacy } | { ok: false; error: string };

/** The settings from a read config file; `file` names it in the error. */
export function hubPrivacyOf(config: ConfigFile, file: string): HubPrivacyRead {
  if (config.privacy === undefined) return { ok: true, privacy: DEFAULT_HUB_PRIVACY };
  const checked = checkHubPrivacySpec(config.privacy);
  if (!checked.ok) {
    return { ok: false, error: `${file}: ${formatProblems(checked.problems, ["privacy"])}` };
  }
  const { audit, sensitive_keywords, sensitive_patterns, ...defaultSpec } =
    checked.spec as HubPrivacySpec;
  return {
    ok: true,
    privacy: {
      defaultSpec,
      audit: audit ?? true,
      incoming: { keywords: sensitive_keywords ?? [], patterns: sensitive_patterns ?? [] },
    },
  };
}

/**
 * The policy of one agent (by its agents.json name; null or an agent without an entry: the hub
 * default). `hubApiKey` is always at least redacted.
 */
export function agentPolicy(
  hub: HubPrivacy,
  agents: { privacy?: Record<string, PolicySpec> },
  agentName: string | null,
  hubApiKey: string | null,
): Policy {
  const own = agentName === null ? undefined : agents.privacy?.[agentName];
  return compilePolicy(own ? [hub.defaultSpec, own] : [hub.defaultSpec], { hubApiKey });
}

/** `privacy.custom[0].patterns[1] is …; privacy.email must be …` (first five). */
function formatProblems(problems: SpecProblem[], prefix: Array<string | number>): string {
  const shown = problems
    .slice(0, 5)
    .map((p) => `${formatPath([...prefix, ...p.path])} ${p.message}`);
  const more = problems.length > 5 ? ` (and ${problems.length - 5} more problems)` : "";
  return shown.join("; ") + more;
}

function formatPath(path: Array<string | number>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}
