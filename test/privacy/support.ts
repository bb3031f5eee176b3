// Helpers for the privacy tests: a policy from a spec, what it finds in a text, a turn through
// the guard into the audit record.
import { TurnMapper } from "../../src/hub/mapping.ts";
import type { AuditLog } from "../../src/privacy/audit-log.ts";
import { compilePolicy, type Policy } from "../../src/privacy/policy.ts";
import type { PolicySpec } from "../../src/privacy/policy-spec.ts";
import { findAll } from "../../src/privacy/scan.ts";
import { POLICY_BLOCKED, TurnGuard } from "../../src/privacy/turn-guard.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";

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

/** Runs a turn's events through a guard and records each as the hub would. */
export function auditTurn(
  audit: AuditLog,
  turn: { agent: string; room: string; turn: string },
  texts: string[],
  policy = compilePolicy([
    { personal: "redact", custom: [{ name: "codename", keywords: ["titan"], action: "block" }] },
  ]),
): PublishedEvent[] {
  const mapper = new TurnMapper({
    agentMessageId: turn.turn,
    userMessageId: `u-${turn.turn}`,
    hubTaskId: `task-${turn.turn}`,
    localAgentId: "local-1",
  });
  const guard = new TurnGuard(policy);
  const published: PublishedEvent[] = [];
  const run = (events: PublishedEvent[]) => {
    for (const event of events) {
      const step = guard.inspect(event);
      for (const { event: out, detections } of step.publish) {
        audit.published(turn, out, detections);
        published.push(out);
      }
      for (const w of step.withheld) audit.withheld(turn, w.type, w.detections);
    }
  };
  for (const text of texts) {
    const raw = { kind: "message", role: "agent", messageId: "m", parts: [{ kind: "text", text }] };
    run(
      mapper.onStreamEvent({
        kind: "message",
        role: "agent",
        messageId: "m",
        parts: [{ kind: "text", text }],
        taskId: null,
        contextId: null,
        raw,
        wire: raw,
      }),
    );
    if (guard.blocked) {
      run(mapper.failure(POLICY_BLOCKED, guard.blocked.message));
      return published;
    }
  }
  run(mapper.terminal());
  return published;
}
