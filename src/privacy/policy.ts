// A policy ready to apply: one action per built-in kind, the custom rules with their keywords
// and patterns compiled, the allow-list, and the hub's own API key (always at least redacted).
// Built from the hub-wide default and an agent's own spec: for each kind the most specific
// setting wins — the agent's kind, the agent's group, the hub's kind, the hub's group, then the
// built-in default.

import {
  type Action,
  BUILTIN_KINDS,
  type BuiltinKind,
  changesText,
  DEFAULT_ACTIONS,
  DEFAULT_CUSTOM_ACTION,
  GROUPS,
  type Group,
  PERSONAL_KINDS,
  strongerAction,
} from "./kinds.ts";
import { PatternSet } from "./patterns.ts";
import type { PolicySpec } from "./policy-spec.ts";

interface CustomRule {
  name: string;
  action: Action;
  keywords: readonly string[];
  patterns: readonly string[];
}

export interface Policy {
  readonly actions: Readonly<Record<BuiltinKind, Action>>;
  readonly custom: readonly CustomRule[];
  readonly allow: ReadonlySet<string>;
  readonly allowPatterns: readonly string[];
  /** The hub's own key: found as is, wherever it appears, and at least redacted. */
  readonly hubApiKey: string | null;
  /** Derived for scanning (see scan.ts and hold-back.ts). */
  readonly compiled: CompiledRules;
}

interface CompiledRules {
  /** Every custom keyword, longest first, as one case-insensitive alternation; null when none. */
  keywords: RegExp | null;
  /** The custom rule each keyword group of `keywords` belongs to. */
  keywordRule: readonly number[];
  patterns: PatternSet;
  /** The custom rule each pattern of `patterns` belongs to. */
  patternRule: readonly number[];
  /** What a stream must hold back at a chunk's end (only for actions that change the text). */
  hold: HoldRules;
}

interface HoldRules {
  /** A detector or pattern changes the text: hold back the last unfinished word. */
  words: boolean;
  /** Grouped numbers (cards, phones, IBANs, SSNs with spaces) change the text. */
  numbers: boolean;
  /** Password assignments change the text: hold back an unclosed quoted value. */
  assignments: boolean;
  /** Private keys change the text: hold back a partial BEGIN line. */
  pem: boolean;
  /** Literals whose beginning at a chunk's end is held back (lower-case for keywords). */
  literals: readonly string[];
  /** Case-sensitive literals (the hub's key). */
  exactLiterals: readonly string[];
}

interface PolicyOptions {
  hubApiKey?: string | null;
}

/** The policy for one agent: `specs` from the least to the most specific (hub default, agent). */
export function compilePolicy(specs: readonly PolicySpec[], options: PolicyOptions = {}): Policy {
  const actions = {} as Record<BuiltinKind, Action>;
  for (const kind of BUILTIN_KINDS) {
    actions[kind] = resolveAction(specs, kind, groupOf(kind)) ?? DEFAULT_ACTIONS[kind];
  }
  const custom: CustomRule[] = [];
  for (const spec of specs) {
    for (const rule of spec.custom ?? []) {
      custom.push({
        name: rule.name,
        action: rule.action ?? DEFAULT_CUSTOM_ACTION,
        keywords: rule.keywords ?? [],
        patterns: rule.patterns ?? [],
      });
    }
  }
  const hubApiKey = options.hubApiKey ? options.hubApiKey : null;
  return {
    actions,
    custom,
    allow: new Set(specs.flatMap((s) => s.allow ?? [])),
    allowPatterns: specs.flatMap((s) => s.allowPatterns ?? []),
    hubApiKey,
    compiled: compileRules(actions, custom, hubApiKey),
  };
}

/** The hub key's action: the api_key kind's, but never weaker than redact. */
export function hubKeyAction(policy: Policy): Action {
  return strongerAction(policy.actions.api_key, "redact");
}

function resolveAction(
  specs: readonly PolicySpec[],
  kind: BuiltinKind,
  group: Group,
): Action | undefined {
  for (let i = specs.length - 1; i >= 0; i--) {
    const spec = specs[i] as PolicySpec;
    const chosen = spec[kind] ?? spec[group];
    if (chosen !== undefined) return chosen;
  }
  return undefined;
}

function groupOf(kind: BuiltinKind): Group {
  return (PERSONAL_KINDS as readonly string[]).includes(kind) ? "personal" : "secrets";
}

function compileRules(
  actions: Record<BuiltinKind, Action>,
  custom: CustomRule[],
  hubApiKey: string | null,
): CompiledRules {
  const keywordEntries: Array<{ keyword: string; rule: number }> = [];
  const patternSources: string[] = [];
  const patternRule: number[] = [];
  custom.forEach((rule, index) => {
    if (rule.action === "off") return;
    for (const keyword of rule.keywords) keywordEntries.push({ keyword, rule: index });
    for (const pattern of rule.patterns) {
      patternSources.push(pattern);
      patternRule.push(index);
    }
  });
  keywordEntries.sort((a, b) => b.keyword.length - a.keyword.length);
  const keywords =
    keywordEntries.length > 0
      ? new RegExp(keywordEntries.map((e) => `(${escapeForRegex(e.keyword)})`).join("|"), "giu")
      : null;

  const changing = (action: Action) => changesText(action);
  const hold: HoldRules = {
    // The hub's key alone needs no word held back: its beginning is found exactly (literals).
    words:
      BUILTIN_KINDS.some((kind) => changing(actions[kind])) ||
      custom.some((rule) => changing(rule.action) && rule.patterns.length > 0),
    numbers: (["card", "phone", "iban", "ssn"] as const).some((kind) => changing(actions[kind])),
    assignments: changing(actions.password),
    pem: changing(actions.private_key),
    literals: custom
      .filter((rule) => changing(rule.action))
      .flatMap((rule) => rule.keywords.map((k) => k.toLowerCase())),
    exactLiterals: hubApiKey ? [hubApiKey] : [],
  };
  return {
    keywords,
    keywordRule: keywordEntries.map((e) => e.rule),
    patterns: new PatternSet(patternSources),
    patternRule,
    hold,
  };
}

/** A literal for a `u`-flag regular expression (only syntax characters may be escaped there). */
function escapeForRegex(literal: string): string {
  return literal.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** One line per kind and rule, for `privacy test` and status: `email log`, `custom codename block`. */
export function describePolicy(policy: Policy): string[] {
  const lines = BUILTIN_KINDS.map((kind) => `${kind} ${policy.actions[kind]}`);
  for (const rule of policy.custom) lines.push(`custom ${rule.name} ${rule.action}`);
  const allowed = policy.allow.size + policy.allowPatterns.length;
  if (allowed > 0) lines.push(`allow-list ${allowed} entr${allowed === 1 ? "y" : "ies"}`);
  return lines;
}

/**
 * One line for `status` and `agents`: each group's action, the kinds that differ from it, the
 * custom rules, the allow-list (`secrets redact, personal log (email redact), custom none`).
 */
export function summarizePolicy(policy: Policy): string {
  const groups = (Object.keys(GROUPS) as Group[]).map((group) => {
    const kinds = GROUPS[group] as readonly BuiltinKind[];
    const counts = new Map<Action, number>();
    for (const kind of kinds) {
      const action = policy.actions[kind];
      counts.set(action, (counts.get(action) ?? 0) + 1);
    }
    const main = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "off";
    const others = kinds.filter((kind) => policy.actions[kind] !== main);
    const except = others.map((kind) => `${kind} ${policy.actions[kind]}`).join(", ");
    return `${group} ${main}${except ? ` (${except})` : ""}`;
  });
  const custom =
    policy.custom.length === 0
      ? "custom none"
      : `custom ${policy.custom.map((rule) => `${rule.name} ${rule.action}`).join(", ")}`;
  const allowed = policy.allow.size + policy.allowPatterns.length;
  return [...groups, custom, ...(allowed > 0 ? [`allow-list ${allowed}`] : [])].join(", ");
}
