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
  return (text) => {
    const findings = findAll(policy, text);
    return findings.length === 0 ? text : redactText(text, 0, text.length, findings, placeholders);
  };
}
