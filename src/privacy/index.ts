// The privacy guard: decides what of a turn's output may leave the machine, redacts or blocks the
// rest, and records what left. NOT YET APPLIED to published events: the hub does not call it yet.
//
// The seam, for the step that puts it between the A2A→relay mapping (hub/mapping.ts) and the
// publisher:
//
//   At start, and again on each good config reload:
//     hub    = hubPrivacyOf(configFile, path)   config.json "privacy"; !ok → refuse to start with
//                                               its error (names the entry), keep the old one on a
//                                               reload
//     agents.json's per-agent policies arrive checked in AgentsConfig.privacy (parseAgentsFile;
//     a broken one fails the parse, and the watcher keeps the last good config)
//     audit  = hub.audit ? new AuditLog(privacyAuditFilePath(paths)) : null
//     incoming = new IncomingClassifier(hub.incoming)
//
//   A `user_message` arrives: line = incomingLogLine(incoming.classify(text), agentName);
//     if (line) logger.warn(line). Nothing else changes.
//
//   A turn starts (one guard per turn, never shared):
//     guard = new TurnGuard(agentPolicy(hub, agentsConfig, entryName | null, apiKey))
//
//   Every event the mapping makes for the turn, in order, before it is queued:
//     step = guard.inspect(event)                             synchronous, pure
//     for (const { event, detections } of step.publish)       0..n events, in this order
//       queue event; audit?.published(turn, event, detections) with the event as serialized in
//       the publish body (after response_seq is stamped), so the digest is of what left
//     for (const w of step.withheld) audit?.withheld(turn, w.type, w.detections)
//     if (step.blocked) (first time): stop the agent's task, then run
//       mapper.failure(step.blocked.errorType, step.blocked.message) through guard.inspect() too
//       and publish what comes out (agent_error PolicyBlocked + processing_status failed pass;
//       anything else of the turn is withheld from then on). The turn counts as failed.
//
//   Flushing: a streamed chunk goes out at once except the short tail that could begin a match;
//   that tail rides with the next chunk of the same artifact. Turn-closing events
//   (agent_response, agent_error, task_interactive, processing_status) release all held text
//   before themselves (as append chunks of the same artifacts), so a normal turn needs nothing
//   more. A turn that ends without a closing event through the guard (shutdown, a failure the
//   hub publishes some other way) calls guard.flush() and publishes its `publish` list.
//
// Detections never carry a matched value: kind, rule, action and count only.

export { AuditLog, type AuditRecord, type AuditTurn, privacyAuditFilePath } from "./audit-log.ts";
export { readAudit } from "./audit-read.ts";
export { agentPolicy, type HubPrivacy, hubPrivacyOf } from "./hub-privacy.ts";
export { IncomingClassifier, incomingLogLine } from "./incoming.ts";
export { ACTIONS, type Action, BUILTIN_KINDS, type Kind } from "./kinds.ts";
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
