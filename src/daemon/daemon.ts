// The running hub: the roster from agents.json, the relay link and the turn router, wired
// together in the order that matters ("ready before register": agents are known before the
// relay can send work for them) and taken apart in the reverse order on stop.
import { EventEmitter } from "node:events";
import { Registry } from "../agents/registry.ts";
import type { RegistrySettings } from "../agents/registry-settings.ts";
import { Hub, type HubSettings, type TurnEndReport } from "../hub/hub.ts";
import { type RecoverySettings, RestartRecovery } from "../hub/recovery.ts";
import type { HubSnapshot } from "../hub/snapshot.ts";
import type { Logger } from "../log/logger.ts";
import { type HubObserver, NULL_OBSERVER } from "../observe/observer.ts";
import { Outbox } from "../outbox/outbox.ts";
import type { OutboxSettings } from "../outbox/settings.ts";
import { AuditLog, privacyAuditFilePath } from "../privacy/audit-log.ts";
import { DEFAULT_HUB_PRIVACY, type HubPrivacy } from "../privacy/hub-privacy.ts";
import { OutboundPrivacy } from "../privacy/outbound.ts";
import { summarizePolicy } from "../privacy/policy.ts";
import { RelayLink } from "../relay/relay-link.ts";
import type { RelayLinkSettings } from "../relay/settings.ts";

/** After the grace period, how long a stop may take for answers, flushing and closing. */
const DEFAULT_STOP_AFTER_GRACE_MS = 5_000;
/** Of that, what is kept for closing the relay link, the agents and the database. */
const STOP_CLOSE_RESERVE_MS = 500;

export interface HubDaemonOptions {
  hubId: string;
  gatewayUrl: string;
  /** Read on every call, so a replaced key is used without a restart. */
  apiKey: () => string;
  /** Where the key came from, for messages ("--api-key", "HYBRO_API_KEY", …); never the key. */
  keySource: string;
  agentsFile: string;
  logger: Logger;
  hub?: Partial<HubSettings>;
  relay?: Partial<RelayLinkSettings>;
  registry?: Partial<RegistrySettings>;
  /** Folder of the durable outbox (`outbox.sqlite`, the data directory); absent: memory only. */
  dataDir?: string;
  outbox?: Partial<OutboxSettings>;
  recovery?: Partial<RecoverySettings>;
  /** config.json's `"privacy"` (checked); default: the built-in policy, audit on. */
  privacy?: HubPrivacy;
  /**
   * The audit record (`privacy-audit.jsonl`); default: in `dataDir`, none without one. Only
   * written while the privacy settings say `audit` (the default).
   */
  auditFile?: string | null;
  /** The local inspector's hooks (observe/observer.ts); default none. */
  observer?: HubObserver;
}

export interface HubDaemonEvents {
  ready: [{ agents: number }];
  fatal: [Error];
  /** One finished turn, for metrics (reported by the Hub's `onTurnEnd` hook). */
  turnEnd: [TurnEndReport];
}

export class HubDaemon extends EventEmitter<HubDaemonEvents> {
  readonly registry: Registry;
  readonly link: RelayLink;
  readonly hub: Hub;
  /** Unsent events and accepted turns (durable with `dataDir`). */
  readonly outbox: Outbox;
  /** Answers the turns an earlier run left unfinished (see recovery.ts). */
  readonly recovery: RestartRecovery;
  /** The privacy guard every published event goes through. */
  readonly privacy: OutboundPrivacy;
  readonly startedAt = Date.now();
  readonly #options: HubDaemonOptions;
  readonly #abort = new AbortController();
  #stopping: Promise<void> | null = null;

  constructor(options: HubDaemonOptions) {
    super();
    this.#options = options;
    const { logger } = options;
    this.registry = new Registry({
      agentsFile: options.agentsFile,
      logger: logger.child({ part: "registry" }),
      settings: options.registry,
      // A busy agent is slow, not dead: its checks wait while its turns run.
      turnsInFlight: (localAgentId) => {
        const counts = this.hub.countsFor(localAgentId);
        return counts.running + counts.queued;
      },
    });
    this.outbox = new Outbox({
      dir: options.dataDir ?? null,
      logger: logger.child({ part: "outbox" }),
      settings: options.outbox,
    });
    this.link = new RelayLink({
      gatewayUrl: options.gatewayUrl,
      apiKey: options.apiKey,
      keySource: options.keySource,
      hubId: options.hubId,
      logger: logger.child({ part: "relay" }),
      settings: options.relay,
      roster: () => this.registry.syncPayload(),
      queue: this.outbox.queue,
      responseSeq: this.outbox.responseSeq,
      eventIds: this.outbox.eventIds,
      observer: options.observer,
    });
    const privacy = options.privacy ?? DEFAULT_HUB_PRIVACY;
    this.privacy = new OutboundPrivacy({
      publish: (roomId, events, onQueued) => this.link.publish(roomId, events, onQueued),
      hub: privacy,
      agentSpec: (localAgentId) => this.registry.privacySpecOf(localAgentId),
      apiKey: () => options.apiKey(),
      audit: this.#auditLog(privacy),
      logger: logger.child({ part: "privacy" }),
      onStep: (agentMessageId, step) => options.observer?.guarded(agentMessageId, step),
    });
    this.hub = new Hub({
      roster: this.registry,
      sink: this.link,
      outlet: (turn) => this.privacy.open(turn),
      onIncoming: (text, agent) => this.privacy.classifyIncoming(text, agent.name),
      logger: logger.child({ part: "hub" }),
      settings: options.hub,
      onTurnEnd: (end) => this.emit("turnEnd", end),
      acceptedTurns: this.outbox.acceptedTurns,
      observer: options.observer,
    });
    this.recovery = new RestartRecovery({
      roster: this.registry,
      sink: this.link,
      outlet: (turn) => this.privacy.open(turn),
      logger: logger.child({ part: "outbox" }),
      settings: options.recovery,
    });
    this.registry.on("change", () => this.link.requestSync());
    this.link.on("ready", () => {
      const agents = this.registry.syncPayload().length;
      this.emit("ready", { agents });
    });
    this.link.on("fatal", (error: Error) => this.emit("fatal", error));
  }

  /** Starts everything; resolves once the roster is loaded and the relay link is running. */
  async start(): Promise<void> {
    const signal = this.#abort.signal;
    // First the outbox (under the data folder's hub lock): unsent events and accepted turns.
    this.outbox.open();
    this.outbox.start();
    await this.registry.start(signal);
    // Turns an earlier run never answered: answered now, queued behind their earlier events.
    void this.recovery.run(this.outbox.takeUnfinished());
    const observer = this.#options.observer ?? NULL_OBSERVER;
    void this.link.start((command, parsed) => {
      observer.command(command);
      this.hub.handleCommand(parsed);
    }, signal);
  }

  /** New hub-wide privacy settings (a good reload of config.json); running turns keep theirs. */
  setPrivacy(privacy: HubPrivacy): void {
    const current = this.privacy.auditFile;
    const wanted = privacy.audit ? this.#auditFile() : null;
    const audit = wanted === current ? undefined : wanted === null ? null : this.#auditLog(privacy);
    this.privacy.reconfigure(privacy, audit);
  }

  #auditFile(): string | null {
    const { auditFile, dataDir } = this.#options;
    if (auditFile !== undefined) return auditFile;
    return dataDir ? privacyAuditFilePath({ data: dataDir }) : null;
  }

  #auditLog(privacy: HubPrivacy): AuditLog | null {
    const file = privacy.audit ? this.#auditFile() : null;
    return file ? new AuditLog(file) : null;
  }

  /** The state `hybro-hub status` reports, read fresh on each call. */
  snapshot(): HubSnapshot {
    const options = this.#options;
    const relay = this.link.state();
    return {
      hubId: options.hubId,
      gatewayUrl: options.gatewayUrl,
      agentsFile: options.agentsFile,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeMs: Date.now() - this.startedAt,
      relay: {
        connection: String(relay.connection),
        lastEventId: relay.lastEventId == null ? null : String(relay.lastEventId),
        reconnects: relay.reconnects,
        lastError: relay.lastError == null ? null : String(relay.lastError),
        problem: relay.problem && {
          kind: relay.problem.kind,
          message: relay.problem.message,
          since: new Date(relay.problem.since).toISOString(),
          sessions: relay.problem.sessions,
        },
      },
      outboxDepth: this.link.depth(),
      outbox: (({ durable, file, dropped, failure }) => ({ durable, file, dropped, failure }))(
        this.outbox.stats(),
      ),
      activeTurns: this.hub.activeTurns,
      agents: this.registry.list().map((agent) => ({
        localAgentId: agent.localAgentId,
        name: agent.name,
        kind: String(agent.kind),
        healthy: agent.healthy,
        lastError: agent.lastError == null ? null : String(agent.lastError),
        notKeptByRelay: this.link.notKeptReason(agent.localAgentId),
        turns: { ...this.hub.countsFor(agent.localAgentId) },
        privacy: summarizePolicy(this.privacy.policyOf(agent.localAgentId)),
      })),
      privacyAudit: this.privacy.auditFile,
    };
  }

  /**
   * Graceful stop: no new turns, running ones get the grace period, the rest are cancelled and
   * answered, then everything closes. After the grace, `flushTimeoutMs` bounds all that is
   * left: the cancelled turns' answers and the flush of the publish queue share it, less a
   * little kept for closing, so a stop takes about grace + `flushTimeoutMs` at most, whatever
   * the relay does (events not flushed stay in the outbox for the next start).
   */
  stop(options: { graceMs?: number; flushTimeoutMs?: number } = {}): Promise<void> {
    this.#stopping ??= (async () => {
      const { logger } = this.#options;
      const afterGraceMs = options.flushTimeoutMs ?? DEFAULT_STOP_AFTER_GRACE_MS;
      await this.recovery.stop();
      const { cancelled, graceEnded, unsettled } = await this.hub.drain(
        options.graceMs,
        afterGraceMs,
      );
      if (cancelled > 0) logger.warn({ cancelled }, "cancelled turns still running at shutdown");
      if (unsettled > 0) {
        logger.warn(
          { unsettled },
          "turns whose agents did not confirm the cancel in time are answered on the next start",
        );
      }
      const flushMs = graceEnded + afterGraceMs - STOP_CLOSE_RESERVE_MS - performance.now();
      const flushed = await this.link.flush(Math.max(0, flushMs));
      if (!flushed)
        logger.warn(
          { queued: this.link.depth(), durable: this.outbox.durable },
          this.outbox.durable
            ? "shutdown before every event reached the relay; the rest go out on the next start"
            : "shutdown before every event reached the relay; the outbox is in memory only, so those are lost",
        );
      this.#abort.abort();
      await this.link.close();
      await this.registry.close();
      this.outbox.close();
      this.privacy.close();
    })();
    return this.#stopping;
  }
}
