// The roster: the agents the hub serves right now, from the watched agents.json (and optional
// discovery). The registry keeps one TrackedAgent per configured entry or discovered agent and
// coordinates: it applies each new agents.json by its roster diff, runs the health and re-probe
// rounds, and closes a dropped or replaced agent's transport after a grace period. Health checks
// mark agents unhealthy, take them out of the roster after repeated failures (so the cloud
// prunes them) and bring them back when they answer again. "change" fires whenever what the
// relay should see (the sync payload) may have changed; the hub re-syncs, debounced.

import { EventEmitter } from "node:events";
import { syncCapabilities } from "../a2a/card.ts";
import type { AgentTransport } from "../a2a/transport.ts";
import type { Logger } from "../log/logger.ts";
import type { PolicySpec } from "../privacy/policy-spec.ts";
import { withDefaults } from "../system/settings.ts";
import type { SyncAgent } from "../wire/relay.ts";
import { relaySyncCard } from "./agent-card.ts";
import { forEachBounded } from "./bounded.ts";
import { type AgentEntry, type AgentsConfig, EMPTY_AGENTS_CONFIG } from "./config.ts";
import { AgentDiscovery } from "./discovery.ts";
import { DEFAULT_REGISTRY_SETTINGS, type RegistrySettings } from "./registry-settings.ts";
import { type AgentOrigin, diffRoster } from "./roster-diff.ts";
import { type AgentStatus, type LocalAgent, TrackedAgent, targetOf } from "./tracked-agent.ts";
import { defaultTransportFactory, type TransportFactory } from "./transport-factory.ts";
import { AgentsFileWatcher } from "./watch.ts";

interface RegistryEvents {
  change: [];
}

interface RegistryOptions {
  agentsFile: string;
  logger: Logger;
  settings?: Partial<RegistrySettings>;
  /** Transport makers by kind; merged over the defaults (HTTP). */
  transports?: TransportFactory;
  /**
   * Turns running or queued on an agent. While an agent, or another one served by the same
   * process (an HTTP origin, a WebSocket server), has turns in flight, a failed card check is
   * not counted: a busy agent is slow, not dead, and its turns see a real failure themselves.
   */
  turnsInFlight?: (localAgentId: string) => number;
}

export class Registry extends EventEmitter<RegistryEvents> {
  readonly #agentsFile: string;
  readonly #logger: Logger;
  readonly #settings: RegistrySettings;
  readonly #factory: TransportFactory;
  readonly #turnsInFlight: ((localAgentId: string) => number) | null;
  /** Every configured entry (enabled) and discovered agent, in the roster or not, by id. */
  readonly #tracked = new Map<string, TrackedAgent>();
  readonly #retiring = new Map<AgentTransport, NodeJS.Timeout>();
  readonly #abort = new AbortController();
  readonly #discovery: AgentDiscovery;
  #config: AgentsConfig = EMPTY_AGENTS_CONFIG;
  #watcher: AgentsFileWatcher | null = null;
  #applying: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];
  #healthRunning = false;
  #reprobeRunning = false;
  #quiet = false;
  #started = false;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(options: RegistryOptions) {
    super();
    this.#agentsFile = options.agentsFile;
    this.#logger = options.logger;
    this.#settings = withDefaults(DEFAULT_REGISTRY_SETTINGS, options.settings);
    this.#turnsInFlight = options.turnsInFlight ?? null;
    this.#factory = {
      ...defaultTransportFactory({
        http: this.#settings.http,
        stdio: this.#settings.stdio,
        ws: this.#settings.ws,
      }),
      ...options.transports,
    };
    this.#discovery = new AgentDiscovery({
      settings: this.#settings,
      logger: this.#logger,
      signal: this.#abort.signal,
      config: () => this.#config,
      tracks: (id) => this.#tracked.has(id),
      newAgent: (entry, order) => this.#newAgent(entry, "discovered", order),
      add: (agent, card) => {
        this.#tracked.set(agent.id, agent);
        agent.admit(card);
      },
    });
  }

  /**
   * Loads agents.json, probes every enabled agent in parallel (and runs discovery when on),
   * then watches the file and starts health checks. Resolves when the first roster is known;
   * a missing or invalid file is logged, never thrown.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#started) throw new Error("Registry.start() called twice");
    this.#started = true;
    if (signal?.aborted) return this.close();
    signal?.addEventListener("abort", () => void this.close(), { once: true });

    this.#quiet = true;
    try {
      const watcher = new AgentsFileWatcher({
        path: this.#agentsFile,
        logger: this.#logger,
        settings: { debounceMs: this.#settings.debounceMs },
      });
      this.#watcher = watcher;
      watcher.on("config", (update) => void this.#enqueueApply(update.config));
      const first = await watcher.start();
      if (this.#closed) return;
      await this.#enqueueApply(first.ok ? first.config : EMPTY_AGENTS_CONFIG);
      const discovering = this.#discovery.running;
      if (discovering) await discovering;
    } finally {
      this.#quiet = false;
    }
    if (this.#closed) return;
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(run, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#settings.healthCheckIntervalMs, () => void this.#healthRound());
    every(this.#settings.reprobeIntervalMs, () => void this.#reprobeRound());

    const configured = this.#config.agents.filter((e) => e.enabled).length;
    const ready = this.list().length;
    this.#logger.info(
      { file: this.#agentsFile, agents: ready, configured },
      `roster loaded: ${ready} agent${ready === 1 ? "" : "s"} ready` +
        (configured > 0 ? ` (${configured} configured)` : ""),
    );
  }

  get(localAgentId: string): LocalAgent | undefined {
    return this.#tracked.get(localAgentId)?.agent ?? undefined;
  }

  /**
   * The agent's own privacy policy from agents.json's `"privacy"` (by its entry's name), as of
   * the last good read; undefined for a discovered agent or one without an entry there.
   */
  privacySpecOf(localAgentId: string): PolicySpec | undefined {
    const tracked = this.#tracked.get(localAgentId);
    if (tracked?.origin !== "config") return undefined;
    return this.#config.privacy?.[tracked.entry.name];
  }

  /** Agents in the roster, healthy or not: configured ones in file order, then discovered ones. */
  list(): LocalAgent[] {
    return this.#inOrder()
      .map((t) => t.agent)
      .filter((agent) => agent !== null);
  }

  /**
   * The `agents/sync` list: every agent in the roster (health is not reported), five fields each;
   * the card is the relay's projection of it (see relaySyncCard: nothing local leaves).
   */
  syncPayload(): SyncAgent[] {
    return this.list().map((agent) => ({
      local_agent_id: agent.localAgentId,
      name: agent.name,
      description: agent.description,
      capabilities: syncCapabilities({ ...agent.card, streaming: agent.streaming }),
      agent_card: relaySyncCard(agent),
    }));
  }

  /** Configured entries (disabled ones too) and discovered agents, for status output. */
  status(): AgentStatus[] {
    const out = this.#inOrder().map((t) => t.status());
    for (const entry of this.#config.agents) {
      if (entry.enabled || this.#tracked.has(entry.localAgentId)) continue;
      out.push({
        localAgentId: entry.localAgentId,
        name: entry.name,
        kind: entry.kind,
        origin: "config",
        state: "disabled",
        failures: 0,
        lastError: null,
        target: targetOf(entry),
      });
    }
    return out;
  }

  /**
   * A turn hit a connection-class error: the agent is marked unhealthy now (one failure) and
   * re-checked every `unreachableRecheckMs` until it answers or leaves the roster.
   */
  reportUnreachable(localAgentId: string): void {
    const tracked = this.#tracked.get(localAgentId);
    if (!tracked?.agent || this.#closed) return;
    tracked.reportUnreachable();
  }

  /** Re-reads agents.json now (e.g. on SIGHUP). */
  async reload(): Promise<void> {
    await this.#watcher?.reload();
    await this.#applying;
  }

  /** Stops the watcher and timers and closes every transport. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#abort.abort(new Error("registry closed"));
      for (const timer of this.#timers) clearInterval(timer);
      this.#timers = [];
      this.#discovery.stop();
      await this.#watcher?.close().catch(() => {});
      await this.#applying.catch(() => {});
      await this.#discovery.running?.catch(() => {});
      const transports: AgentTransport[] = [];
      for (const tracked of this.#tracked.values()) {
        tracked.cancelRecheck();
        if (tracked.transport) transports.push(tracked.transport);
      }
      this.#tracked.clear();
      for (const [transport, timer] of this.#retiring) {
        clearTimeout(timer);
        transports.push(transport);
      }
      this.#retiring.clear();
      await Promise.allSettled(transports.map((t) => t.close()));
    })();
    return this.#closing;
  }

  // -------------------------------------------------------------------------------------------
  // Applying a config

  #enqueueApply(config: AgentsConfig): Promise<void> {
    this.#applying = this.#applying
      .then(() => this.#apply(config))
      .catch((error: unknown) => {
        this.#logger.error({ err: error }, "applying agents.json failed");
      });
    return this.#applying;
  }

  async #apply(config: AgentsConfig): Promise<void> {
    if (this.#closed) return;
    const previous = this.#config;
    this.#config = config;
    const diff = diffRoster(this.#tracked.values(), previous, config);
    let changed = false;

    for (const { id, why } of diff.removed) {
      changed = this.#drop(this.#tracked.get(id) as TrackedAgent, why) || changed;
    }
    for (const id of diff.nowConfigured) {
      // Configured now: the entry's name and settings take over.
      changed = this.#drop(this.#tracked.get(id) as TrackedAgent, null) || changed;
    }
    for (const { entry, order } of [...diff.changed, ...diff.unchanged]) {
      changed =
        (this.#tracked.get(entry.localAgentId) as TrackedAgent).updateEntry(entry, order) ||
        changed;
    }
    const added = diff.added.map(({ entry, order }) => {
      const tracked = this.#newAgent(entry, "config", order);
      this.#tracked.set(tracked.id, tracked);
      return tracked;
    });
    if (changed) this.#changed();

    await forEachBounded(
      [
        ...added.map((next) => ({ next, old: null })),
        ...diff.replaced.map(({ entry, order }) => ({
          next: this.#newAgent(entry, "config", order),
          old: this.#tracked.get(entry.localAgentId) as TrackedAgent,
        })),
      ],
      this.#settings.healthCheckConcurrency,
      async ({ next, old }) => {
        if (old) await this.#replace(old, next);
        else await next.bringUp();
      },
    );

    if (diff.discovery === "stop") this.#dropDiscovered();
    this.#discovery.apply(diff.discovery);
  }

  /** A changed entry: the old agent serves until the new one answers (or is known not to). */
  async #replace(old: TrackedAgent, next: TrackedAgent): Promise<void> {
    const outcome = await next.probe();
    if (this.#closed || this.#tracked.get(old.id) !== old) {
      this.#retire(next.transport);
      return;
    }
    this.#tracked.set(next.id, next);
    old.cancelRecheck();
    this.#retire(old.transport);
    this.#logger.info(
      { agent: next.entry.name, localAgentId: next.id },
      `agent "${next.entry.name}" changed in agents.json: restarted`,
    );
    if (outcome.ok) {
      next.admit(outcome.card, { quietLog: true });
    } else {
      next.notAdded(outcome.error);
      if (old.agent) this.#changed();
    }
  }

  #dropDiscovered(): void {
    let changed = false;
    for (const tracked of [...this.#tracked.values()]) {
      if (tracked.origin === "discovered") {
        changed = this.#drop(tracked, "was discovered, and autoDiscover is now off") || changed;
      }
    }
    if (changed) this.#changed();
  }

  // -------------------------------------------------------------------------------------------
  // Tracked agents

  #newAgent(entry: AgentEntry, origin: AgentOrigin, order: number): TrackedAgent {
    return new TrackedAgent(entry, origin, order, {
      settings: this.#settings,
      logger: this.#logger,
      factory: this.#factory,
      signal: this.#abort.signal,
      isCurrent: (agent) => !this.#closed && this.#tracked.get(agent.id) === agent,
      changed: () => this.#changed(),
      busyTurns: (agent) => this.#busyTurns(agent),
      forget: (agent) => this.#drop(agent, null),
    });
  }

  /**
   * Takes an agent out entirely (entry removed, replaced by config, discovery off, a discovered
   * agent gone); logs `why` unless null. True when it was in the roster.
   */
  #drop(tracked: TrackedAgent, why: string | null): boolean {
    this.#tracked.delete(tracked.id);
    const wasListed = tracked.leave();
    this.#retire(tracked.transport);
    if (why !== null) {
      this.#logger.info(
        { agent: tracked.entry.name, localAgentId: tracked.id },
        `agent "${tracked.entry.name}" ${why}${wasListed ? ": removed from the roster" : ""}`,
      );
    }
    return wasListed;
  }

  /** Closes a transport after the grace period (turns still holding it may finish). */
  #retire(transport: AgentTransport | null): void {
    if (!transport || this.#retiring.has(transport)) return;
    if (this.#closed) {
      void transport.close().catch(() => {});
      return;
    }
    const timer = setTimeout(() => {
      this.#retiring.delete(transport);
      void transport.close().catch(() => {});
    }, this.#settings.removeGraceMs);
    timer.unref();
    this.#retiring.set(transport, timer);
  }

  #changed(): void {
    if (!this.#quiet && !this.#closed) this.emit("change");
  }

  #inOrder(): TrackedAgent[] {
    return [...this.#tracked.values()].sort((a, b) => a.order - b.order);
  }

  // -------------------------------------------------------------------------------------------
  // Health rounds

  async #healthRound(): Promise<void> {
    if (this.#healthRunning || this.#closed) return;
    this.#healthRunning = true;
    try {
      const inRoster = [...this.#tracked.values()].filter((t) => t.agent !== null);
      await forEachBounded(inRoster, this.#settings.healthCheckConcurrency, (t) => t.check());
    } finally {
      this.#healthRunning = false;
    }
  }

  async #reprobeRound(): Promise<void> {
    if (this.#reprobeRunning || this.#closed) return;
    this.#reprobeRunning = true;
    try {
      const outside = [...this.#tracked.values()].filter((t) => t.agent === null);
      await forEachBounded(outside, this.#settings.healthCheckConcurrency, (t) => t.check());
    } finally {
      this.#reprobeRunning = false;
    }
  }

  /** Turns in flight on this agent and on every agent the same process serves. */
  #busyTurns(tracked: TrackedAgent): number {
    const inFlight = this.#turnsInFlight;
    if (!inFlight) return 0;
    const key = tracked.processKey();
    let turns = 0;
    for (const other of this.#tracked.values()) {
      if (other.agent && other.processKey() === key) turns += inFlight(other.id);
    }
    return turns;
  }
}
