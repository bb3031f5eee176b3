// Everything a policy flags in one text: the built-in detectors whose kind is not off, the hub's
// key, the custom keywords and patterns, minus what the allow-list lets through. Pure.

import { DETECTORS, type RawMatch } from "./detectors.ts";
import { type Action, actionRank, type Kind } from "./kinds.ts";
import { matchesWhole } from "./patterns.ts";
import { hubKeyAction, type Policy } from "./policy.ts";

/** One flagged stretch of text. The value itself is never kept in a finding. */
export interface Finding {
  start: number;
  end: number;
  kind: Kind;
  /** The detector rule or the custom rule's name. */
  rule: string;
  /** Never "off". */
  action: Exclude<Action, "off">;
  /** The placeholder's label: the kind, or a custom rule's name. */
  label: string;
}

const HUB_KEY_RULE = "hub_api_key";

/**
 * All findings in `text`, by start (then the longer, then the stronger action first). Findings of
 * different kinds may overlap; one inside another of the same kind is left out.
 */
export function findAll(policy: Policy, text: string): Finding[] {
  const out: Finding[] = [];
  if (text.length === 0) return out;
  const raw: RawMatch[] = [];
  for (const detector of DETECTORS) {
    if (policy.actions[detector.kind] !== "off") detector.find(text, raw);
  }
  const key = policy.hubApiKey;
  for (const match of raw) {
    // The hub's own key is reported once, as itself (below), not also as a hybro_ key.
    if (key && match.end - match.start === key.length && text.startsWith(key, match.start))
      continue;
    if (allowed(policy, text, match.start, match.end)) continue;
    const action = policy.actions[match.kind] as Exclude<Action, "off">;
    out.push({ ...match, action, label: match.kind });
  }
  if (key) {
    const action = hubKeyAction(policy) as Exclude<Action, "off">;
    for (let at = text.indexOf(key); at >= 0; at = text.indexOf(key, at + key.length)) {
      out.push({
        start: at,
        end: at + key.length,
        kind: "api_key",
        rule: HUB_KEY_RULE,
        action,
        label: "api_key",
      });
    }
  }
  findCustom(policy, text, out);
  out.sort(
    (a, b) => a.start - b.start || b.end - a.end || actionRank(b.action) - actionRank(a.action),
  );
  return withoutNested(out);
}

/** One finding per stretch and kind: `+1 (555) 234-5678` is not also the phone `(555) 234-5678`. */
function withoutNested(sorted: Finding[]): Finding[] {
  const reach = new Map<string, number>();
  return sorted.filter((f) => {
    const key = f.kind === "custom" ? `custom\0${f.rule}` : f.kind;
    if (f.end <= (reach.get(key) ?? -1)) return false;
    reach.set(key, f.end);
    return true;
  });
}

function findCustom(policy: Policy, text: string, out: Finding[]): void {
  const { keywords, keywordRule, patterns, patternRule } = policy.compiled;
  const push = (ruleIndex: number, start: number, end: number) => {
    const rule = policy.custom[ruleIndex];
    if (!rule || rule.action === "off" || allowed(policy, text, start, end)) return;
    out.push({
      start,
      end,
      kind: "custom",
      rule: rule.name,
      action: rule.action,
      label: rule.name,
    });
  };
  if (keywords) {
    keywords.lastIndex = 0;
    for (let m = keywords.exec(text); m !== null; m = keywords.exec(text)) {
      const group = m.findIndex((g, i) => i > 0 && g !== undefined);
      push(keywordRule[group - 1] as number, m.index, m.index + m[0].length);
    }
  }
  patterns.forEachMatch(text, (index, start, end) =>
    push(patternRule[index] as number, start, end),
  );
}

function allowed(policy: Policy, text: string, start: number, end: number): boolean {
  if (policy.allow.size === 0 && policy.allowPatterns.length === 0) return false;
  const value = text.slice(start, end);
  if (policy.allow.has(value)) return true;
  return policy.allowPatterns.some((pattern) => matchesWhole(pattern, value));
}

/** A stretch of text replaced as one: overlapping findings merged, the strongest deciding. */
interface Region {
  start: number;
  end: number;
  action: "redact" | "block";
  /** The finding that decided (the strongest, then the earliest). */
  decisive: Finding;
}

/** The stretches that change the text (redact and block), merged where they overlap. */
export function textRegions(findings: readonly Finding[]): Region[] {
  const regions: Region[] = [];
  for (const finding of findings) {
    if (finding.action === "log") continue;
    const last = regions.at(-1);
    if (last && finding.start < last.end) {
      last.end = Math.max(last.end, finding.end);
      if (actionRank(finding.action) > actionRank(last.action)) {
        last.action = finding.action;
        last.decisive = finding;
      }
    } else {
      regions.push({
        start: finding.start,
        end: finding.end,
        action: finding.action,
        decisive: finding,
      });
    }
  }
  return regions;
}
