// The privacy guard: decides what of a turn's output may leave the machine, redacts or blocks the
// rest, and records what left. Applied on the hub's publish path (outbound.ts):
//
//   HubDaemon makes one OutboundPrivacy: config.json's "privacy" (hubPrivacyOf; a broken one
//   stops the start, a broken reload keeps the settings in force), agents.json's per-agent specs
//   (Registry.privacySpecOf; the agents file watcher keeps the last good file), the hub's key
//   (always redacted), and the audit log (privacy-audit.jsonl in the data folder, 0600).
//
//   Every turn the Hub runs, every failure it makes itself and every turn recovery answers gets
//   its own TurnGuard through `open()`: each event goes through `inspect()`, what comes out is
//   queued, and the publisher tells the audit each event as serialized (stamped, split). A block
//   is told once: runTurn aborts the turn (the agent's task is canceled) and publishes
//   agent_error PolicyBlocked + processing_status failed, the only events that still pass.
//
//   Incoming user text (the Python hub's sensitive_keywords / sensitive_patterns, then the
//   detectors) is classified and a HIGH one logged; it still goes to the agent.
//
// Detections never carry a matched value: kind, rule, action and count only.

export { AuditLog, type AuditRecord, type AuditTurn, privacyAuditFilePath } from "./audit-log.ts";
export { readAudit } from "./audit-read.ts";
export { agentPolicy, type HubPrivacy, hubPrivacyOf } from "./hub-privacy.ts";
export { IncomingClassifier, incomingLogLine } from "./incoming.ts";
export { ACTIONS, type Action, BUILTIN_KINDS, type Kind } from "./kinds.ts";
export {
  type GuardedTurn,
  OutboundPrivacy,
  type PrivacyCounts,
  type TurnOutlet,
} from "./outbound.ts";
export { compilePolicy, describePolicy, type Policy } from "./policy.ts";
export type { PolicySpec } from "./policy-spec.ts";
export {
  type Detection,
  type GuardedEvent,
  type GuardStep,
  POLICY_BLOCKED,
  type PolicyBlock,
  TurnGuard,
  type WithheldEvent,
} from "./turn-guard.ts";
