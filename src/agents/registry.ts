// The roster: the agents the hub serves right now, from the watched agents.json (and optional
// discovery). Each configured entry gets a transport and, once its card is known, a LocalAgent.
// Health checks mark agents unhealthy, take them out of the roster after repeated failures (so
// the cloud prunes them) and bring them back when they answer again. "change" fires whenever
// what the relay should see (the sync payload) may have changed; the hub re-syncs, debounced.

import { EventEmitter } from "node:events";
import { analyseCard, type CardInfo, syncCapabilities } from "../a2a/card.ts";
import { A2AClient } from "../a2a/client.ts";
import { methodFor } from "../a2a/dialect.ts";
import {
  type A2ADialect,
  type AgentTransport,
  JsonRpcError,
  TransportError,
  type TransportKind,
} from "../a2a/transport.ts";
import type { Logger } from "../log/logger.ts";
import type { PolicySpec } from "../privacy/policy-spec.ts";
import { localAgentIdForUrl } from "../wire/agent-id.ts";
import type { SyncAgent } from "../wire/relay.ts";
import { builtCard, processCardInfo, rebaseEndpoint, relaySyncCard } from "./agent-card.ts";
import { forEachBounded } from "./bounded.ts";
import {
  type AgentEntry,
  type AgentsConfig,
  DEFAULT_MAX_CONCURRENCY,
  EMPTY_AGENTS_CONFIG,
  type HttpAgentEntry,
} from "./config.ts";
import { discoveryCandidates, discoveryUrl } from "./discovery.ts";
import type { ListeningPort } from "./listening-ports.ts";
import {
  defaultTransportFactory,
  hasEndpointRouting,
  type TransportContext,
  type TransportFactory,
  transportReportsUnhealthy,
} from "./transport-factory.ts";
import type { HttpTransportSettings } from "./transports/http.ts";
import type { StdioSettings } from "./transports/stdio.ts";
import type { TransportHealth } from "./transports/supervision.ts";
import type { WsSettings } from "./transports/ws.ts";
import { AgentsFileWatcher } from "./watch.ts";

export type { TransportContext, TransportFactory } from "./transport-factory.ts";

export interface RegistrySettings {
  /** Card re-fetch of every agent in the roster. */
  healthCheckIntervalMs: number;
  /** Card fetches at once during a health round or a (re)load. */
  healthCheckConcurrency: number;
  /** Consecutive failed checks after which an agent leaves the roster (the cloud prunes it). */
  unhealthyRemoveAfter: number;
  /** How often configured agents outside the roster (never reached, or removed) are tried again. */
  reprobeIntervalMs: number;
  /** After a turn found the agent unreachable: quick re-checks at this interval until it answers or leaves. */
  unreachableRecheckMs: number;
  /** Deadline of one card fetch (whole probe). */
  cardTimeoutMs: number;
  /** A removed or replaced agent's transport is closed this long after (its turns may still run). */
  removeGraceMs: number;
  /** Quiet time after an agents.json edit before it is applied. */
  debounceMs: number;
  discoveryIntervalMs: number;
  discoveryConcurrency: number;
  discoveryProbeTimeoutMs: number;
  /** The hub's own listening ports; discovery never probes them. */
  excludePorts: number[];
  /** Connect-scan fallback (no /proc, no lsof): sockets at once and per-port timeout. */
  portScanConcurrency: number;
  portScanTimeoutMs: number;
  lsofTimeoutMs: number;
  /** Deadline of one probe of a stdio/ws agent (spawn or connect, then `agent/getCard`). */
  localCardTimeoutMs: number;
  /** Passed to the transports made by the default factory. */
  http: Partial<HttpTransportSettings>;
  stdio: Partial<StdioSettings>;
  ws: Partial<WsSettings>;
}

export const DEFAULT_REGISTRY_SETTINGS: RegistrySettings = {
  healthCheckIntervalMs: 60_000,
  healthCheckConcurrency: 8,
  unhealthyRemoveAfter: 3,
  reprobeIntervalMs: 30_000,
  unreachableRecheckMs: 2_000,
  cardTimeoutMs: 5_000,
  removeGraceMs: 30_000,
  debounceMs: 200,
  discoveryIntervalMs: 120_000,
  discoveryConcurrency: 30,
  discoveryProbeTimeoutMs: 3_000,
  excludePorts: [],
  portScanConcurrency: 128,
  portScanTimeoutMs: 200,
  lsofTimeoutMs: 5_000,
  localCardTimeoutMs: 20_000,
  http: {},
  stdio: {},
  ws: {},
};

export type AgentOrigin = "config" | "discovered";

/** An agent in the roster. The object stays the same while its entry's transport does. */
export interface LocalAgent {
  localAgentId: string;
  /** The entry's name (wins over the card's); a discovered agent's card name. */
  name: string;
  description: string;
  entry: AgentEntry;
  kind: TransportKind;
  origin: AgentOrigin;
  transport: AgentTransport;
  client: A2AClient;
  card: CardInfo;
  /** The entry's `streaming` when set, else the card's. */
  streaming: boolean;
  maxConcurrency: number;
  /** The entry's `maxQueued` (the hub's default applies when absent). */
  maxQueued?: number;
  timeoutMs?: number;
  healthy: boolean;
  lastError: string | null;
}

export type AgentState = "ready" | "unhealthy" | "unreachable" | "disabled";

/** One configured entry or discovered agent, for status output. */
export interface AgentStatus {
  localAgentId: string;
  name: string;
  kind: TransportKind;
  origin: AgentOrigin;
  /** `ready`/`unhealthy`: in the roster (synced); `unreachable`: configured but not in the roster. */
  state: AgentState;
  failures: number;
  lastError: string | null;
  /** The URL or command line it is reached by. */
  target: string;
}

export interface RegistryEvents {
  change: [];
}

export interface RegistryOptions {
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

type ProbeOutcome = { ok: true; card: CardInfo } | { ok: false; error: string };

interface Slot {
  readonly id: string;
  entry: AgentEntry;
  readonly origin: AgentOrigin;
  /** Position in the roster: file order, then discovered agents in the order found. */
  order: number;
  transport: AgentTransport | null;
  /** Non-null while in the roster. */
  agent: LocalAgent | null;
  cardJson: string | null;
  failures: number;
  lastError: string | null;
  /** The last problem logged at warn level (repeats go to debug). */
  reported: string | null;
  probing: Promise<ProbeOutcome> | null;
  recheck: NodeJS.Timeout | null;
  rebaseNote: string | null;
  /** Was in the roster before (so coming back is "back", not "added"). */
  listedBefore: boolean;
}

/** Entry fields whose change needs a new transport (vs. fields updated in place). */
const IN_PLACE_FIELDS = new Set([
  "name",
  "description",
  "streaming",
  "maxConcurrency",
  "maxQueued",
  "timeoutMs",
]);

const LIVENESS_TASK_ID = "hybro-hub-liveness-check";

export class Registry extends EventEmitter<RegistryEvents> {
  readonly #agentsFile: string;
  readonly #logger: Logger;
  readonly #settings: RegistrySettings;
  readonly #factory: TransportFactory;
  readonly #turnsInFlight: ((localAgentId: string) => number) | null;
  readonly #slots = new Map<string, Slot>();
  readonly #retiring = new Map<AgentTransport, NodeJS.Timeout>();
  readonly #abort = new AbortController();
  #config: AgentsConfig = EMPTY_AGENTS_CONFIG;
  #watcher: AgentsFileWatcher | null = null;
  #applying: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];
  #discoveryTimer: NodeJS.Timeout | null = null;
  #discovering: Promise<void> | null = null;
  #discoveredSeq = 0;
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
    this.#settings = { ...DEFAULT_REGISTRY_SETTINGS, ...options.settings };
    this.#turnsInFlight = options.turnsInFlight ?? null;
    this.#factory = {
      ...defaultTransportFactory({
        http: this.#settings.http,
        stdio: this.#settings.stdio,
        ws: this.#settings.ws,
      }),
      ...options.transports,
    };
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
      if (this.#discovering) await this.#discovering;
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
    return this.#slots.get(localAgentId)?.agent ?? undefined;
  }

  /**
   * The agent's own privacy policy from agents.json's `"privacy"` (by its entry's name), as of
   * the last good read; undefined for a discovered agent or one without an entry there.
   */
  privacySpecOf(localAgentId: string): PolicySpec | undefined {
    const slot = this.#slots.get(localAgentId);
    if (slot?.origin !== "config") return undefined;
    return this.#config.privacy?.[slot.entry.name];
  }

  /** Agents in the roster, healthy or not: configured ones in file order, then discovered ones. */
  list(): LocalAgent[] {
    return [...this.#slots.values()]
      .filter((s) => s.agent !== null)
      .sort((a, b) => a.order - b.order)
      .map((s) => s.agent as LocalAgent);
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
    const out: AgentStatus[] = [];
    const seen = new Set<string>();
    for (const slot of [...this.#slots.values()].sort((a, b) => a.order - b.order)) {
      seen.add(slot.id);
      const state: AgentState = slot.agent
        ? slot.agent.healthy
          ? "ready"
          : "unhealthy"
        : "unreachable";
      out.push({
        localAgentId: slot.id,
        name: slot.agent?.name ?? slot.entry.name,
        kind: slot.entry.kind,
        origin: slot.origin,
        state,
        failures: slot.failures,
        lastError: slot.lastError,
        target: targetOf(slot.entry),
      });
    }
    for (const entry of this.#config.agents) {
      if (entry.enabled || seen.has(entry.localAgentId)) continue;
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
    const slot = this.#slots.get(localAgentId);
    if (!slot?.agent || this.#closed) return;
    const error = "the agent could not be reached during a turn";
    this.#fail(slot, error);
    if (slot.agent) this.#scheduleRecheck(slot);
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
      this.#stopDiscoveryTimer();
      await this.#watcher?.close().catch(() => {});
      await this.#applying.catch(() => {});
      await this.#discovering?.catch(() => {});
      const transports: AgentTransport[] = [];
      for (const slot of this.#slots.values()) {
        if (slot.recheck) clearTimeout(slot.recheck);
        if (slot.transport) transports.push(slot.transport);
      }
      this.#slots.clear();
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
    const wanted = config.agents.filter((e) => e.enabled);
    const wantedIds = new Set(wanted.map((e) => e.localAgentId));
    let changed = false;

    for (const slot of [...this.#slots.values()]) {
      if (slot.origin === "config" && !wantedIds.has(slot.id)) {
        const disabled = config.agents.some((e) => e.localAgentId === slot.id && !e.enabled);
        changed =
          this.#drop(slot, disabled ? "disabled in agents.json" : "removed from agents.json") ||
          changed;
      }
    }

    const fresh: Slot[] = [];
    const replacements: Array<{ old: Slot; next: Slot }> = [];
    wanted.forEach((entry, index) => {
      const existing = this.#slots.get(entry.localAgentId);
      if (existing && existing.origin === "discovered") {
        // Configured now: the entry's name and settings take over.
        changed = this.#drop(existing, "now configured in agents.json", true) || changed;
      }
      const current = this.#slots.get(entry.localAgentId);
      if (!current) {
        const slot = this.#newSlot(entry, "config", index);
        this.#slots.set(slot.id, slot);
        fresh.push(slot);
      } else if (transportKey(current.entry) === transportKey(entry)) {
        current.order = index;
        changed = this.#updateInPlace(current, entry) || changed;
      } else {
        replacements.push({ old: current, next: this.#newSlot(entry, "config", index) });
      }
    });
    if (changed) this.#changed();

    await forEachBounded(
      [
        ...fresh.map((slot) => ({ slot, old: null })),
        ...replacements.map((r) => ({ slot: r.next, old: r.old })),
      ],
      this.#settings.healthCheckConcurrency,
      async ({ slot, old }) => {
        if (old) await this.#replace(old, slot);
        else await this.#bringUp(slot);
      },
    );

    this.#applyDiscoverySettings(previous, config);
  }

  #updateInPlace(slot: Slot, entry: AgentEntry): boolean {
    const before = slot.agent ? visibleFields(slot.agent) : null;
    slot.entry = entry;
    if (!slot.agent) return false;
    this.#refreshAgentFields(slot, slot.agent.card);
    return JSON.stringify(visibleFields(slot.agent)) !== JSON.stringify(before);
  }

  /** First contact with a new entry: probe, then into the roster or a warning. */
  async #bringUp(slot: Slot): Promise<void> {
    const outcome = await this.#probeOnce(slot);
    if (this.#closed || this.#slots.get(slot.id) !== slot) return;
    if (outcome.ok) {
      this.#admit(slot, outcome.card);
    } else {
      slot.failures = 1;
      this.#noteFailure(slot, outcome.error, "not added");
    }
  }

  /** A changed entry: the old agent serves until the new one answers (or is known not to). */
  async #replace(old: Slot, next: Slot): Promise<void> {
    const outcome = await this.#probeOnce(next);
    if (this.#closed || this.#slots.get(old.id) !== old) {
      this.#retire(next.transport);
      return;
    }
    this.#slots.set(next.id, next);
    if (old.recheck) clearTimeout(old.recheck);
    this.#retire(old.transport);
    this.#logger.info(
      { agent: next.entry.name, localAgentId: next.id },
      `agent "${next.entry.name}" changed in agents.json: restarted`,
    );
    if (outcome.ok) {
      this.#admit(next, outcome.card, { quietLog: true });
    } else {
      next.failures = 1;
      this.#noteFailure(next, outcome.error, "not added");
      if (old.agent) this.#changed();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Roster membership

  #newSlot(entry: AgentEntry, origin: AgentOrigin, order: number): Slot {
    return {
      id: entry.localAgentId,
      entry,
      origin,
      order,
      transport: null,
      agent: null,
      cardJson: null,
      failures: 0,
      lastError: null,
      reported: null,
      probing: null,
      recheck: null,
      rebaseNote: null,
      listedBefore: false,
    };
  }

  #admit(slot: Slot, card: CardInfo, options: { quietLog?: boolean } = {}): void {
    const transport = slot.transport as AgentTransport;
    const back = slot.listedBefore;
    slot.listedBefore = true;
    slot.failures = 0;
    slot.lastError = null;
    slot.reported = null;
    slot.cardJson = stableJson(card.raw);
    const agent: LocalAgent = {
      localAgentId: slot.id,
      name: slot.entry.name,
      description: "",
      entry: slot.entry,
      kind: slot.entry.kind,
      origin: slot.origin,
      transport,
      client: this.#clientFor(slot, card),
      card,
      streaming: false,
      maxConcurrency: slot.entry.maxConcurrency,
      healthy: true,
      lastError: null,
    };
    slot.agent = agent;
    this.#refreshAgentFields(slot, card);
    if (!options.quietLog) {
      const how = `${describeTarget(slot.entry)}, A2A ${agent.client.dialect}${agent.streaming ? ", streaming" : ""}`;
      this.#logger.info(
        { agent: agent.name, localAgentId: slot.id, origin: slot.origin },
        back
          ? `agent "${agent.name}" answers again: back in the roster (${how})`
          : slot.origin === "discovered"
            ? `discovered agent "${agent.name}" (${how})`
            : `agent "${agent.name}" added (${how})`,
      );
    }
    this.#changed();
  }

  /** Takes a slot out entirely (entry removed, replaced by config, discovery off). */
  #drop(slot: Slot, why: string, silent = false): boolean {
    this.#slots.delete(slot.id);
    if (slot.recheck) clearTimeout(slot.recheck);
    slot.recheck = null;
    this.#retire(slot.transport);
    const wasListed = slot.agent !== null;
    slot.agent = null;
    if (!silent) {
      this.#logger.info(
        { agent: slot.entry.name, localAgentId: slot.id },
        `agent "${slot.entry.name}" ${why}${wasListed ? ": removed from the roster" : ""}`,
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

  // -------------------------------------------------------------------------------------------
  // Health

  async #healthRound(): Promise<void> {
    if (this.#healthRunning || this.#closed) return;
    this.#healthRunning = true;
    try {
      const inRoster = [...this.#slots.values()].filter((s) => s.agent !== null);
      await forEachBounded(inRoster, this.#settings.healthCheckConcurrency, (slot) =>
        this.#check(slot),
      );
    } finally {
      this.#healthRunning = false;
    }
  }

  async #reprobeRound(): Promise<void> {
    if (this.#reprobeRunning || this.#closed) return;
    this.#reprobeRunning = true;
    try {
      const outside = [...this.#slots.values()].filter((s) => s.agent === null);
      await forEachBounded(outside, this.#settings.healthCheckConcurrency, (slot) =>
        this.#check(slot),
      );
    } finally {
      this.#reprobeRunning = false;
    }
  }

  /** One health check (or re-probe) of a slot, with its consequences. */
  async #check(slot: Slot): Promise<void> {
    const outcome = await this.#probeOnce(slot);
    if (this.#closed || this.#slots.get(slot.id) !== slot) return;
    if (!outcome.ok) {
      const busy = slot.agent ? this.#busyTurns(slot) : 0;
      if (busy > 0) {
        this.#logger.debug(
          { agent: slot.entry.name, localAgentId: slot.id, turns: busy },
          `card check of busy agent "${slot.entry.name}" failed (${outcome.error}); not counted while ${busy} turn(s) run`,
        );
        return;
      }
      this.#fail(slot, outcome.error);
      return;
    }
    const agent = slot.agent;
    if (!agent) {
      this.#admit(slot, outcome.card);
      return;
    }
    slot.failures = 0;
    slot.lastError = null;
    if (slot.recheck) clearTimeout(slot.recheck);
    slot.recheck = null;
    const wasHealthy = agent.healthy;
    agent.healthy = true;
    agent.lastError = null;
    if (!wasHealthy) {
      slot.reported = null;
      this.#logger.info(
        { agent: agent.name, localAgentId: slot.id },
        `agent "${agent.name}" is healthy again`,
      );
    }
    const cardJson = stableJson(outcome.card.raw);
    if (cardJson !== slot.cardJson) {
      slot.cardJson = cardJson;
      agent.client = this.#clientFor(slot, outcome.card);
      this.#refreshAgentFields(slot, outcome.card);
      this.#logger.info(
        { agent: agent.name, localAgentId: slot.id },
        `agent "${agent.name}" changed its card`,
      );
      this.#changed();
    }
  }

  #fail(slot: Slot, error: string): void {
    slot.failures++;
    slot.lastError = error;
    const agent = slot.agent;
    if (!agent) {
      this.#noteFailure(slot, error, "still not reachable");
      if (slot.origin === "discovered") this.#drop(slot, "is gone", true);
      return;
    }
    agent.healthy = false;
    agent.lastError = error;
    const limit = this.#settings.unhealthyRemoveAfter;
    if (slot.failures >= limit) {
      if (slot.recheck) clearTimeout(slot.recheck);
      slot.recheck = null;
      slot.agent = null;
      slot.reported = error;
      const retry =
        slot.origin === "config"
          ? `; trying again every ${seconds(this.#settings.reprobeIntervalMs)}`
          : "";
      this.#logger.warn(
        { agent: agent.name, localAgentId: slot.id, failures: slot.failures },
        `agent "${agent.name}" removed from the roster after ${slot.failures} failed checks: ${error}${retry}`,
      );
      if (slot.origin === "discovered") this.#drop(slot, "is gone", true);
      this.#changed();
      return;
    }
    this.#logger.warn(
      { agent: agent.name, localAgentId: slot.id, failures: slot.failures },
      `agent "${agent.name}" is unhealthy (${slot.failures}/${limit} failed checks): ${error}`,
    );
  }

  /** Turns in flight on this agent and on every agent the same process serves. */
  #busyTurns(slot: Slot): number {
    const inFlight = this.#turnsInFlight;
    if (!inFlight) return 0;
    const key = processKey(slot);
    let turns = 0;
    for (const other of this.#slots.values()) {
      if (other.agent && processKey(other) === key) turns += inFlight(other.id);
    }
    return turns;
  }

  #noteFailure(slot: Slot, error: string, what: string): void {
    slot.lastError = error;
    const fields = { agent: slot.entry.name, localAgentId: slot.id };
    if (slot.reported === error || slot.origin === "discovered") {
      this.#logger.debug(fields, `agent "${slot.entry.name}" ${what}: ${error}`);
      return;
    }
    slot.reported = error;
    this.#logger.warn(
      fields,
      `agent "${slot.entry.name}" ${what}: ${error}; trying again every ${seconds(this.#settings.reprobeIntervalMs)}`,
    );
  }

  /** A supervising transport's own verdict: down now (checks count it), or up (check at once). */
  #onTransportHealth(slot: Slot, health: TransportHealth): void {
    if (this.#closed || this.#slots.get(slot.id) !== slot) return;
    if (health.healthy) {
      void this.#check(slot);
      return;
    }
    const agent = slot.agent;
    if (agent?.healthy) {
      agent.healthy = false;
      agent.lastError = health.lastExit
        ? `the agent is down (${health.lastExit})`
        : "the agent is down";
    }
  }

  #scheduleRecheck(slot: Slot): void {
    if (slot.recheck) clearTimeout(slot.recheck);
    slot.recheck = setTimeout(async () => {
      slot.recheck = null;
      await this.#check(slot);
      if (slot.agent && !slot.agent.healthy && this.#slots.get(slot.id) === slot) {
        this.#scheduleRecheck(slot);
      }
    }, this.#settings.unreachableRecheckMs);
    slot.recheck.unref();
  }

  // -------------------------------------------------------------------------------------------
  // Probing: transport + card

  /** One probe at a time per slot; concurrent callers share it. */
  #probeOnce(slot: Slot, timeoutMs?: number): Promise<ProbeOutcome> {
    timeoutMs ??=
      slot.entry.kind === "http" ? this.#settings.cardTimeoutMs : this.#settings.localCardTimeoutMs;
    slot.probing ??= this.#probe(slot, timeoutMs).finally(() => {
      slot.probing = null;
    });
    return slot.probing;
  }

  async #probe(slot: Slot, timeoutMs: number): Promise<ProbeOutcome> {
    const { entry } = slot;
    if (this.#closed) return { ok: false, error: "registry closed" };
    if (!slot.transport) {
      const made = this.#makeTransport(slot);
      if (typeof made === "string") return { ok: false, error: made };
      slot.transport = made;
    }
    const transport = slot.transport;
    const down = transportReportsUnhealthy(transport);
    if (down) return { ok: false, error: down };
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(timeoutMs)]);

    let served: Record<string, unknown> | null;
    try {
      served = await transport.fetchCard(signal);
    } catch (error) {
      if (this.#closed) return { ok: false, error: "registry closed" };
      return { ok: false, error: `fetching the agent card failed: ${errorText(error, signal)}` };
    }

    if (entry.kind !== "http") {
      const card = processCardInfo(served ?? entry.card ?? builtCard(entry), entry);
      return { ok: true, card };
    }

    let raw = served;
    let analysis = raw ? analyseCard(raw, { baseUrl: entry.cardUrl ?? entry.url }) : null;
    if (!analysis?.ok && entry.card) {
      raw = entry.card;
      analysis = analyseCard(raw, { baseUrl: entry.url });
      if (analysis.ok) {
        this.#routeEndpoints(slot, analysis.card);
        const alive = await this.#liveness(transport, analysis.card, signal);
        if (alive !== null) return { ok: false, error: alive };
        return { ok: true, card: analysis.card };
      }
      return { ok: false, error: `the inline "card" in agents.json is ${analysis.error}` };
    }
    if (!analysis) {
      const where = entry.cardUrl ?? `${entry.url.replace(/\/+$/, "")}/.well-known/agent-card.json`;
      return {
        ok: false,
        error: `no agent card at ${where}${entry.cardUrl ? "" : " (nor agent.json)"}; is the agent running there?`,
      };
    }
    if (!analysis.ok)
      return { ok: false, error: `${entry.cardUrl ?? entry.url} serves ${analysis.error}` };
    this.#routeEndpoints(slot, analysis.card);
    return { ok: true, card: analysis.card };
  }

  #makeTransport(slot: Slot): AgentTransport | string {
    const { entry } = slot;
    const make = this.#factory[entry.kind] as
      | ((entry: AgentEntry, context: TransportContext) => AgentTransport)
      | undefined;
    if (!make) return `${entry.kind} agents are not supported by this hub yet`;
    try {
      return make(entry, {
        localAgentId: slot.id,
        logger: this.#logger.child({ agent: entry.name, localAgentId: slot.id }),
        onHealthChange: (health) => this.#onTransportHealth(slot, health),
      });
    } catch (error) {
      return `could not set up the ${entry.kind} transport: ${errorText(error)}`;
    }
  }

  /** Card endpoints onto the configured origin, into the transport. */
  #routeEndpoints(slot: Slot, card: CardInfo): void {
    const { entry, transport } = slot;
    if (entry.kind !== "http" || !transport || !hasEndpointRouting(transport)) return;
    const endpoints: Partial<Record<A2ADialect, string>> = {};
    const notes: string[] = [];
    for (const endpoint of [card.primary, card.fallback]) {
      if (!endpoint || endpoints[endpoint.dialect]) continue;
      const { url, rebased } = rebaseEndpoint(endpoint.url, entry.url);
      endpoints[endpoint.dialect] = url;
      if (rebased) notes.push(`${endpoint.url} → ${url}`);
    }
    transport.useEndpoints(endpoints);
    const note = notes.join(", ");
    if (note !== "" && note !== slot.rebaseNote) {
      this.#logger.info(
        { agent: entry.name, localAgentId: slot.id },
        `agent "${entry.name}": its card names another address; calling ${note} (the address comes only from agents.json)`,
      );
    }
    slot.rebaseNote = note === "" ? null : note;
  }

  /**
   * An HTTP agent with only an inline card: is anything answering JSON-RPC at its endpoint?
   * Any JSON-RPC or HTTP answer counts (the task id is made up); null = alive, else why not.
   */
  async #liveness(
    transport: AgentTransport,
    card: CardInfo,
    signal: AbortSignal,
  ): Promise<string | null> {
    const dialect = card.primary.dialect;
    try {
      await transport.call(
        methodFor(dialect, "get"),
        { id: LIVENESS_TASK_ID },
        { signal, dialect },
      );
      return null;
    } catch (error) {
      if (error instanceof JsonRpcError) return null;
      if (
        error instanceof TransportError &&
        (error.errorType === "HTTPStatusError" || error.errorType === "InvalidAgentResponse")
      ) {
        return null;
      }
      return `the agent does not answer: ${errorText(error, signal)}`;
    }
  }

  #clientFor(slot: Slot, card: CardInfo): A2AClient {
    return new A2AClient({
      transport: slot.transport as AgentTransport,
      primary: card.primary.dialect,
      fallback: card.fallback?.dialect ?? null,
      tenant: card.primary.tenant ?? null,
      logger: this.#logger.child({ agent: slot.entry.name, localAgentId: slot.id }),
    });
  }

  #refreshAgentFields(slot: Slot, card: CardInfo): void {
    const agent = slot.agent;
    if (!agent) return;
    const { entry } = slot;
    agent.entry = entry;
    agent.card = card;
    agent.name = slot.origin === "discovered" ? card.name : entry.name;
    agent.description = entry.description ?? card.description;
    agent.streaming = entry.streaming ?? card.streaming;
    agent.maxConcurrency = entry.maxConcurrency;
    if (entry.timeoutMs !== undefined) agent.timeoutMs = entry.timeoutMs;
    else delete agent.timeoutMs;
    if (entry.maxQueued !== undefined) agent.maxQueued = entry.maxQueued;
    else delete agent.maxQueued;
  }

  // -------------------------------------------------------------------------------------------
  // Discovery

  #applyDiscoverySettings(previous: AgentsConfig, config: AgentsConfig): void {
    if (!config.autoDiscover) {
      this.#stopDiscoveryTimer();
      let changed = false;
      for (const slot of [...this.#slots.values()]) {
        if (slot.origin === "discovered") {
          changed = this.#drop(slot, "was discovered, and autoDiscover is now off") || changed;
        }
      }
      if (changed) this.#changed();
      return;
    }
    if (!this.#discoveryTimer) {
      this.#discoveryTimer = setInterval(
        () => void this.#discoverRound(),
        this.#settings.discoveryIntervalMs,
      );
      this.#discoveryTimer.unref();
    }
    if (!previous.autoDiscover) void this.#discoverRound();
  }

  #stopDiscoveryTimer(): void {
    if (this.#discoveryTimer) clearInterval(this.#discoveryTimer);
    this.#discoveryTimer = null;
  }

  #discoverRound(): Promise<void> {
    this.#discovering ??= this.#discover().finally(() => {
      this.#discovering = null;
    });
    return this.#discovering;
  }

  async #discover(): Promise<void> {
    const config = this.#config;
    if (this.#closed || !config.autoDiscover) return;
    let candidates: ListeningPort[];
    let method: string;
    try {
      ({ candidates, method } = await discoveryCandidates(
        config,
        this.#settings,
        this.#abort.signal,
      ));
    } catch (error) {
      this.#logger.warn({ err: errorText(error) }, "listing local ports for discovery failed");
      return;
    }
    const fresh = candidates.filter((c) => !this.#slots.has(localAgentIdForUrl(discoveryUrl(c))));
    this.#logger.debug(
      { method, listening: candidates.length, probing: fresh.length },
      "discovery: probing listening loopback ports for agent cards",
    );
    await forEachBounded(fresh, this.#settings.discoveryConcurrency, async (listening) => {
      const url = discoveryUrl(listening);
      const entry: HttpAgentEntry = {
        kind: "http",
        name: `Agent@${url}`,
        localAgentId: localAgentIdForUrl(url),
        url,
        headers: {},
        maxConcurrency: DEFAULT_MAX_CONCURRENCY,
        enabled: true,
      };
      if (this.#slots.has(entry.localAgentId) || this.#closed) return;
      const slot = this.#newSlot(entry, "discovered", 1_000_000 + this.#discoveredSeq++);
      const outcome = await this.#probeOnce(slot, this.#settings.discoveryProbeTimeoutMs);
      if (!outcome.ok || this.#closed || this.#slots.has(slot.id) || !this.#config.autoDiscover) {
        const transport = slot.transport;
        if (transport) void transport.close().catch(() => {});
        return;
      }
      entry.name = outcome.card.name;
      this.#slots.set(slot.id, slot);
      this.#admit(slot, outcome.card);
    });
  }
}

// ---------------------------------------------------------------------------------------------

function visibleFields(agent: LocalAgent) {
  return {
    name: agent.name,
    description: agent.description,
    streaming: agent.streaming,
    maxConcurrency: agent.maxConcurrency,
    timeoutMs: agent.timeoutMs ?? null,
  };
}

/** Everything of an entry that needs a new transport when it changes. */
function transportKey(entry: AgentEntry): string {
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (!IN_PLACE_FIELDS.has(key)) rest[key] = value;
  }
  return stableJson(rest);
}

/** JSON with object keys sorted, for comparing configs and cards. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}

function targetOf(entry: AgentEntry): string {
  return entry.kind === "stdio" ? [entry.command, ...entry.args].join(" ") : entry.url;
}

function describeTarget(entry: AgentEntry): string {
  return entry.kind === "stdio" ? `stdio: ${entry.command}` : entry.url;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function errorText(error: unknown, signal?: AbortSignal): string {
  if (
    signal?.aborted &&
    signal.reason instanceof DOMException &&
    signal.reason.name === "TimeoutError"
  ) {
    return "timed out";
  }
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  return error instanceof Error ? error.message : String(error);
}

/** What serves an agent: its HTTP/WebSocket server (host and port), or its own stdio process. */
function processKey(slot: Slot): string {
  const { entry } = slot;
  if (entry.kind === "stdio") return `stdio:${slot.id}`;
  try {
    return `${entry.kind}:${new URL(entry.url).host}`;
  } catch {
    return `${entry.kind}:${entry.url}`;
  }
}
