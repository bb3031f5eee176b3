// A privacy policy as the user writes it, and its checks. The same shape sits in two places:
// the hub-wide default (`"privacy"` in config.json, which may also hold `audit` and the Python
// hub's `sensitive_keywords` / `sensitive_patterns` for incoming text) and per agent (the
// `"privacy"` object of agents.json, keyed by agent name). Checking is pure and total: any value
// gives either a spec or problems, each with the path of the entry and what is wrong.
//
//   "privacy": {
//     "secrets": "block",                 // a group: api_key, jwt, private_key, password
//     "personal": "redact",               // a group: email, phone, card, iban, ssn
//     "phone": "off",                     // one kind (wins over its group)
//     "custom": [{ "name": "codename", "keywords": ["titan"], "patterns": ["PROJ-\\d{4}"],
//                  "action": "block" }],
//     "allow": ["noreply@example.com"],   // exact values never flagged
//     "allowPatterns": [".*@example\\.com"] // patterns a whole flagged value may match
//   }

import * as v from "valibot";
import { keySuggestion } from "../config/did-you-mean.ts";
import { issuePath, strictObject, unknownKeyObject } from "../validation/schema-pieces.ts";
import { valueAt } from "../wire/value-at.ts";
import {
  ACTIONS,
  type Action,
  BUILTIN_KINDS,
  type BuiltinKind,
  GROUPS,
  type Group,
} from "./kinds.ts";
import { patternProblem } from "./patterns.ts";

interface CustomRuleSpec {
  name: string;
  keywords?: string[];
  patterns?: string[];
  action?: Action;
}

export type PolicySpec = Partial<Record<BuiltinKind | Group, Action>> & {
  custom?: CustomRuleSpec[];
  allow?: string[];
  allowPatterns?: string[];
};

/** config.json's `"privacy"`: the default policy, plus settings only the hub as a whole has. */
export type HubPrivacySpec = PolicySpec & {
  /** Write the audit record of what left (default true). */
  audit?: boolean;
  /** The Python hub's incoming-text keywords (case-insensitive substrings). */
  sensitive_keywords?: string[];
  /** The Python hub's incoming-text patterns (case-insensitive). */
  sensitive_patterns?: string[];
};

export interface SpecProblem {
  /** Path inside the checked value (the caller puts its own prefix in front). */
  path: Array<string | number>;
  message: string;
}

type SpecCheck<T> = { ok: true; spec: T } | { ok: false; problems: SpecProblem[] };

/** A custom rule's name shows in placeholders (`[redacted:codename]`) and in audit lines. */
const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

const action = v.picklist(ACTIONS);
const nonEmpty = v.pipe(v.string(), v.minLength(1));

const actionKeys = Object.fromEntries(
  [...Object.keys(GROUPS), ...BUILTIN_KINDS].map((key) => [key, v.optional(action)]),
) as Record<BuiltinKind | Group, v.OptionalSchema<typeof action, undefined>>;

const customRuleEntries = {
  name: v.string(),
  keywords: v.optional(v.array(nonEmpty)),
  patterns: v.optional(v.array(nonEmpty)),
  action: v.optional(action),
};

const policyEntries = {
  ...actionKeys,
  custom: v.optional(v.array(strictObject(customRuleEntries))),
  allow: v.optional(v.array(nonEmpty)),
  allowPatterns: v.optional(v.array(nonEmpty)),
};
const hubEntries = {
  ...policyEntries,
  audit: v.optional(v.boolean()),
  sensitive_keywords: v.optional(v.array(nonEmpty)),
  sensitive_patterns: v.optional(v.array(nonEmpty)),
};
const policySchema = strictObject(policyEntries);
const hubSchema = strictObject(hubEntries);

const POLICY_KEYS = Object.keys(policyEntries);
const HUB_KEYS = Object.keys(hubEntries);
const RULE_KEYS = Object.keys(customRuleEntries);

/** Checks one agent's policy (or the policy part of anything). */
export function checkPolicySpec(raw: unknown): SpecCheck<PolicySpec> {
  return check(policySchema, raw, POLICY_KEYS);
}

/** Checks config.json's `"privacy"`. */
export function checkHubPrivacySpec(raw: unknown): SpecCheck<HubPrivacySpec> {
  const result = check(hubSchema, raw, HUB_KEYS);
  if (!result.ok) return result;
  const problems = patternListProblems(result.spec.sensitive_patterns, ["sensitive_patterns"]);
  return problems.length > 0 ? { ok: false, problems } : result;
}

function check<T extends PolicySpec>(
  schema: v.GenericSchema<unknown, T>,
  raw: unknown,
  known: readonly string[],
): SpecCheck<T> {
  const parsed = v.safeParse(schema, raw);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.issues.map((issue) => toProblem(issue, raw, known)),
    };
  }
  const problems = [
    ...customRuleProblems(parsed.output.custom ?? []),
    ...patternListProblems(parsed.output.allowPatterns, ["allowPatterns"]),
  ];
  return problems.length > 0 ? { ok: false, problems } : { ok: true, spec: parsed.output };
}

function customRuleProblems(rules: CustomRuleSpec[]): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const seen = new Map<string, number>();
  rules.forEach((rule, index) => {
    const at = (...rest: Array<string | number>) => ["custom", index, ...rest];
    if (!RULE_NAME.test(rule.name)) {
      problems.push({
        path: at("name"),
        message:
          "must be 1–40 letters, digits, '_' or '-' (it names the rule in placeholders and the audit)",
      });
    } else if ((BUILTIN_KINDS as readonly string[]).includes(rule.name) || rule.name === "custom") {
      problems.push({
        path: at("name"),
        message: `"${rule.name}" is a built-in kind; give the rule its own name`,
      });
    } else if (seen.has(rule.name)) {
      problems.push({
        path: at("name"),
        message: `repeats the name "${rule.name}" of custom[${seen.get(rule.name)}]; names must be unique`,
      });
    } else seen.set(rule.name, index);
    if ((rule.keywords?.length ?? 0) + (rule.patterns?.length ?? 0) === 0) {
      problems.push({ path: at(), message: 'needs "keywords" or "patterns" (or both)' });
    }
    problems.push(...patternListProblems(rule.patterns, at("patterns")));
  });
  return problems;
}

function patternListProblems(
  patterns: string[] | undefined,
  path: Array<string | number>,
): SpecProblem[] {
  const problems: SpecProblem[] = [];
  patterns?.forEach((pattern, index) => {
    const problem = patternProblem(pattern);
    if (problem)
      problems.push({ path: [...path, index], message: `${quoted(pattern)} ${problem}` });
  });
  return problems;
}

/** Schema types in the words of the problems. */
const EXPECTED: Record<string, string> = {
  array: "a list",
  string: "a string",
  boolean: "a boolean",
};

function toProblem(
  issue: v.BaseIssue<unknown>,
  root: unknown,
  known: readonly string[],
): SpecProblem {
  const path = issuePath(issue);
  const object = unknownKeyObject(issue);
  if (object) {
    const keys = path.length === 0 ? known : RULE_KEYS;
    const unknown = Object.keys(object).filter((key) => !keys.includes(key));
    const key = unknown[0] ?? "";
    const more = unknown.length > 1 ? ` (and ${unknown.slice(1).map(quoted).join(", ")})` : "";
    return { path, message: `has an unknown key "${key}"${keySuggestion(key, keys)}${more}` };
  }
  const value = valueAt(root, path);
  if (issue.type === "picklist") {
    const allowed = ACTIONS.map((a) => quoted(a)).join(", ");
    return { path, message: `must be one of ${allowed} (got ${describe(value)})` };
  }
  if (issue.kind === "schema") {
    if (value === undefined) return { path, message: "is required" };
    return {
      path,
      message: `must be ${EXPECTED[issue.type] ?? "an object"} (got ${describe(value)})`,
    };
  }
  if (issue.type === "min_length") {
    return { path, message: "must not be empty" };
  }
  return { path, message: issue.message };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return quoted(value);
  return String(value);
}

function quoted(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}
