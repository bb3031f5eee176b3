// The `"privacy"` object of agents.json: a policy per agent, keyed by the agent's name. A name
// that is not an agent of the file is an error (a typo would otherwise leave that agent on the
// default policy without a word); auto-discovered agents follow the hub-wide default.

import { closest } from "../config/did-you-mean.ts";
import { checkPolicySpec, type PolicySpec, type SpecProblem } from "./policy-spec.ts";

interface AgentPoliciesCheck {
  /** Each named agent's spec (only the good ones when there are problems). */
  policies: Record<string, PolicySpec>;
  /** Paths start with "privacy". */
  problems: SpecProblem[];
}

export function checkAgentPolicies(
  raw: Record<string, unknown> | undefined,
  agentNames: readonly string[],
): AgentPoliciesCheck {
  const policies: Record<string, PolicySpec> = {};
  const problems: SpecProblem[] = [];
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (!agentNames.includes(name)) {
      const near = closest(name, agentNames);
      problems.push({
        path: ["privacy", name],
        message: `names no agent in "agents"${near ? ` (did you mean "${near}"?)` : ""}; auto-discovered agents follow the hub-wide policy ("privacy" in config.json)`,
      });
      continue;
    }
    const checked = checkPolicySpec(value);
    if (checked.ok) policies[name] = checked.spec;
    else {
      for (const p of checked.problems) problems.push({ ...p, path: ["privacy", name, ...p.path] });
    }
  }
  return { policies, problems };
}
