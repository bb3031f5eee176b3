// The privacy guard: decides what of a turn's output may leave the machine, redacts or blocks the
// rest, and records what left. Applied on the hub's publish path (this file):
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
//
// This file is the guard on the hub's publish path: every event the hub publishes for a turn goes
// through that turn's TurnGuard (with its agent's policy) before it is queued, and each event
// queued gets its audit line (as serialized, after the publisher stamped and split it). Knows
// the publisher only as a function, so the hub, recovery and tests use it the same way.

import type { Logger } from "../log/logger.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import type { AuditLog, AuditTurn } from "./audit-log.ts";
import { DEFAULT_HUB_PRIVACY, type HubPrivacy } from "./hub-privacy.ts";
import { IncomingClassifier, incomingLogLine } from "./incoming.ts";
import type { Action, Kind } from "./kinds.ts";
import { compilePolicy, type Policy } from "./policy.ts";
import type { PolicySpec } from "./policy-spec.ts";
import {
  type Detection,
  type GuardedEvent,
  type GuardStep,
  type PolicyBlock,
  TurnGuard,
} from "./turn-guard.ts";

/** Queues events of a room; `onQueued` sees each event's pieces as they will be published. */
type PublishFn = (
  roomId: string,
  events: PublishedEvent[],
  onQueued?: (queued: ReadonlyArray<readonly PublishedEvent[]>) => void,
) => void;

/** Whose events: the turn, its room and its agent (null: a turn for no known agent). */
export interface GuardedTurn {
  roomId: string;
  agentMessageId: string;
  localAgentId: string | null;
  agentName: string | null;
}

/** One turn's way out: what the policy lets leave is queued; a block is told once. */
export interface TurnOutlet {
  publish(events: PublishedEvent[]): PolicyBlock | null;
}

/** Detections so far, by kind and action (Prometheus counters). */
export interface PrivacyCounts {
  detections: Array<{ kind: Kind; action: Exclude<Action, "off">; count: number }>;
  blockedTurns: number;
}

interface OutboundPrivacyOptions {
  publish: PublishFn;
  hub?: HubPrivacy;
  /** The agent's own spec from agents.json (undefined: the hub default applies). */
  agentSpec: (localAgentId: string) => PolicySpec | undefined;
  /** The hub's API key now (always at least redacted). */
  apiKey: () => string | null;
  /** Where audit lines go; null: no audit record. */
  audit: AuditLog | null;
  logger: Logger;
  /**
   * Each publish call's guard step of a turn, right before its events are queued (the local
   * inspector shows it); kinds, rules, actions and counts only, never a matched value.
   */
  onStep?: (agentMessageId: string, step: GuardStep) => void;
}

interface CachedPolicy {
  hub: HubPrivacy;
  own: PolicySpec | undefined;
  key: string | null;
  policy: Policy;
}

export class OutboundPrivacy {
  readonly #publish: PublishFn;
  readonly #agentSpec: (localAgentId: string) => PolicySpec | undefined;
  readonly #apiKey: () => string | null;
  readonly #logger: Logger;
  readonly #onStep: (agentMessageId: string, step: GuardStep) => void;
  #hub: HubPrivacy;
  #audit: AuditLog | null;
  #incoming: IncomingClassifier;
  readonly #policies = new Map<string, CachedPolicy>();
  readonly #detections = new Map<string, PrivacyCounts["detections"][number]>();
  #blockedTurns = 0;

  constructor(options: OutboundPrivacyOptions) {
    this.#publish = options.publish;
    this.#agentSpec = options.agentSpec;
    this.#apiKey = options.apiKey;
    this.#logger = options.logger;
    this.#onStep = options.onStep ?? (() => {});
    this.#hub = options.hub ?? DEFAULT_HUB_PRIVACY;
    this.#audit = options.audit;
    this.#incoming = new IncomingClassifier(this.#hub.incoming);
  }

  get hub(): HubPrivacy {
    return this.#hub;
  }

  get auditFile(): string | null {
    return this.#audit?.path ?? null;
  }

  /**
   * New hub-wide settings (a good config reload); turns already running keep their policy.
   * `audit` replaces the audit log (the old one is closed); undefined keeps it.
   */
  reconfigure(hub: HubPrivacy, audit?: AuditLog | null): void {
    const incoming = new IncomingClassifier(hub.incoming);
    this.#hub = hub;
    this.#incoming = incoming;
    if (audit !== undefined && audit !== this.#audit) {
      this.#audit?.close();
      this.#audit = audit;
    }
  }

  /** The policy a turn of this agent starts with now (null: the hub default). */
  policyOf(localAgentId: string | null): Policy {
    const hub = this.#hub;
    const own = localAgentId === null ? undefined : this.#agentSpec(localAgentId);
    const key = this.#apiKey();
    const slot = localAgentId ?? "";
    const cached = this.#policies.get(slot);
    if (cached && cached.hub === hub && cached.own === own && cached.key === key) {
      return cached.policy;
    }
    const policy = compilePolicy(own ? [hub.defaultSpec, own] : [hub.defaultSpec], {
      hubApiKey: key,
    });
    this.#policies.set(slot, { hub, own, key, policy });
    return policy;
  }

  /** The way out for one turn's events (one guard per turn, never shared). */
  open(turn: GuardedTurn): TurnOutlet {
    const guard = new TurnGuard(this.policyOf(turn.localAgentId));
    const who: AuditTurn = {
      agent: turn.agentName ?? turn.localAgentId ?? "",
      room: turn.roomId,
      turn: turn.agentMessageId,
    };
    if (turn.localAgentId) who.agentId = turn.localAgentId;
    let told = false;
    return {
      publish: (events) => {
        const out: GuardedEvent[] = [];
        const withheldAll: GuardStep["withheld"] = [];
        let blocked: PolicyBlock | null = null;
        for (const event of events) {
          const step = guard.inspect(event);
          out.push(...step.publish);
          withheldAll.push(...step.withheld);
          for (const withheld of step.withheld) {
            this.#count(withheld.detections);
            this.#audit?.withheld(who, withheld.type, withheld.detections);
          }
          blocked ??= step.blocked;
        }
        this.#onStep(turn.agentMessageId, { publish: out, withheld: withheldAll, blocked });
        for (const guarded of out) this.#count(guarded.detections);
        if (out.length > 0) {
          this.#publish(
            turn.roomId,
            out.map((guarded) => guarded.event),
            this.#audit ? (queued) => this.#audited(who, out, queued) : undefined,
          );
        }
        if (!blocked || told) return null;
        told = true;
        this.#blockedTurns++;
        this.#logger.warn(
          { agent: who.agent, agentMessageId: turn.agentMessageId, roomId: turn.roomId },
          `privacy policy blocked a turn: rule "${blocked.rule}" (kind ${blocked.kind}); nothing more of it is sent`,
        );
        return blocked;
      },
    };
  }

  /** Incoming user text, classified the Python hub's way; a HIGH one is logged (only). */
  classifyIncoming(text: string, agentName: string): void {
    const line = incomingLogLine(this.#incoming.classify(text), agentName);
    if (line) this.#logger.warn(line);
  }

  counts(): PrivacyCounts {
    return {
      detections: [...this.#detections.values()].map((entry) => ({ ...entry })),
      blockedTurns: this.#blockedTurns,
    };
  }

  close(): void {
    this.#audit?.close();
  }

  /** One audit line per piece queued; an event's detections go with its first piece. */
  #audited(
    who: AuditTurn,
    guarded: readonly GuardedEvent[],
    queued: ReadonlyArray<readonly PublishedEvent[]>,
  ): void {
    for (const [index, pieces] of queued.entries()) {
      const detections = guarded[index]?.detections ?? [];
      for (const [at, piece] of pieces.entries()) {
        this.#audit?.published(who, piece, at === 0 ? detections : []);
      }
    }
  }

  #count(detections: readonly Detection[]): void {
    for (const d of detections) {
      const key = `${d.kind}\0${d.action}`;
      const entry = this.#detections.get(key);
      if (entry) entry.count += d.count;
      else this.#detections.set(key, { kind: d.kind, action: d.action, count: d.count });
    }
  }
}
