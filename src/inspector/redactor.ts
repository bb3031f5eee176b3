// A turn's redactor for what the inspector keeps (the relay command, the agent's events, a
// replay's answer): what the agent's privacy policy would redact or block becomes its
// placeholder, so the inspector never holds or shows a value the guard keeps from the relay.
// One per turn (placeholders are numbered per turn, as the guard numbers them).
import { Placeholders } from "../privacy/placeholders.ts";
import type { Policy } from "../privacy/policy.ts";
import { redactText } from "../privacy/redact.ts";
import { findAll } from "../privacy/scan.ts";
import type { TextRedactor } from "./payload.ts";

export function policyRedactor(policy: Policy): TextRedactor {
  const placeholders = new Placeholders();
  // Short strings found clean, remembered: a turn's events repeat the same ids, kinds and keys
  // (a 1,000-chunk stream, 1,000 times each). Clean text only: nothing found in it, so it holds
  // no value the policy keeps back (findings are never remembered, only their placeholders).
  const clean = new Set<string>();
  return (text) => {
    if (clean.has(text)) return text;
    const findings = findAll(policy, text);
    if (findings.length > 0) return redactText(text, 0, text.length, findings, placeholders);
    if (text.length <= CLEAN_TEXT_MAX_CHARS) {
      if (clean.size >= CLEAN_TEXTS_KEPT) clean.clear();
      clean.add(text);
    }
    return text;
  };
}

const CLEAN_TEXT_MAX_CHARS = 128;
const CLEAN_TEXTS_KEPT = 256;
