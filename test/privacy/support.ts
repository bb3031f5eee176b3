// Helpers for the privacy tests: a policy from a spec, and what it finds in a text.
import { compilePolicy, type Policy } from "../../src/privacy/policy.ts";
import type { PolicySpec } from "../../src/privacy/policy-spec.ts";
import { findAll } from "../../src/privacy/scan.ts";

/** Every built-in kind on `log` unless the spec says otherwise, so every detector reports. */
export function policyOf(spec: PolicySpec = {}, hubApiKey: string | null = null): Policy {
  return compilePolicy([{ secrets: "log", personal: "log" }, spec], { hubApiKey });
}

/** `kind:rule=value` for each finding, in order. */
export function found(text: string, policy: Policy = policyOf()): string[] {
  return findAll(policy, text).map((f) => `${f.kind}:${f.rule}=${text.slice(f.start, f.end)}`);
}

/** A fake key with the given prefix (built at run time so no key-shaped literal sits in the repo). */
export function fakeKey(
  prefix: string,
  length: number,
  alphabet = "Ab3dE5gH7jK9mN1pQ2rS4tU6vW8xY0z",
): string {
  let body = "";
  for (let i = 0; body.length < length; i++) body += alphabet[(i * 7) % alphabet.length];
  return prefix + body;
}
