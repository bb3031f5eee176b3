// One agent the registry tracks: a configured entry or a discovered agent, in the roster or not.
// It owns its transport and A2A client, probes the agent's card, counts failed health checks,
// re-checks quickly after a turn found it unreachable, and listens to its transport's own health.
// Whether it is still the registry's agent for its id, and what the roster does about a change,
// the registry answers through TrackedAgentContext.

import { analyseCard, type CardInfo } from "../a2a/card.ts";
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
import { builtCard, processCardInfo, rebaseEndpoint } from "./agent-card.ts";
import type { AgentEntry } from "./config.ts";
import type { RegistrySettings } from "./registry-settings.ts";
import { type AgentOrigin, stableJson } from "./roster-diff.ts";
import {
  hasEndpointRouting,
  type TransportContext,
  type TransportFactory,
  transportReportsUnhealthy,
} from "./transport-factory.ts";
import type { TransportHealth } from "./transports/supervision.ts";

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

type AgentState = "ready" | "unhealthy" | "unreachable" | "disabled";

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

type ProbeOutcome = { ok: true; card: CardInfo } | { ok: false; error: string };

/** What a tracked agent asks of the registry that tracks it. */
interface TrackedAgentContext {
  readonly settings: RegistrySettings;
  readonly logger: Logger;
  readonly factory: TransportFactory;
  /** Aborted when the registry closes. */
  readonly signal: AbortSignal;
  /** The registry is open and this is its agent for the id (not replaced or dropped). */
  isCurrent(agent: TrackedAgent): boolean;
  /** What the relay should see may have changed. */
  changed(): void;
  /** Turns in flight on this agent and on every agent the same process serves. */
  busyTurns(agent: TrackedAgent): number;
  /** Takes it out of the registry without a log line (a discovered agent that is gone). */
  forget(agent: TrackedAgent): void;
}

const LIVENESS_TASK_ID = "hybro-hub-liveness-check";

export class TrackedAgent {
  readonly id: string;
  readonly origin: AgentOrigin;
  entry: AgentEntry;
  /** Position in the roster: file order, then discovered agents in the order found. */
  order: number;
  transport: AgentTransport | null = null;
  failures = 0;
  lastError: string | null = null;
  readonly #context: TrackedAgentContext;
  /** Non-null while in the roster. */
  #agent: LocalAgent | null = null;
  #cardJson: string | null = null;
  /** The last problem logged at warn level (repeats go to debug). */
  #reported: string | null = null;
  #probing: Promise<ProbeOutcome> | null = null;
  #recheck: NodeJS.Timeout | null = null;
  #rebaseNote: string | null = null;
  /** Was in the roster before (so coming back is "back", not "added"). */
  #listedBefore = false;

  constructor(entry: AgentEntry, origin: AgentOrigin, order: number, context: TrackedAgentContext) {
    this.id = entry.localAgentId;
    this.entry = entry;
    this.origin = origin;
    this.order = order;
    this.#context = context;
  }

  /** The agent while it is in the roster, else null. */
  get agent(): LocalAgent | null {
    return this.#agent;
  }

  get #closed(): boolean {
    return this.#context.signal.aborted;
  }

  status(): AgentStatus {
    const agent = this.#agent;
    return {
      localAgentId: this.id,
      name: agent?.name ?? this.entry.name,
      kind: this.entry.kind,
      origin: this.origin,
      state: agent ? (agent.healthy ? "ready" : "unhealthy") : "unreachable",
      failures: this.failures,
      lastError: this.lastError,
      target: targetOf(this.entry),
    };
  }

  /** What serves the agent: its HTTP/WebSocket server (host and port), or its own stdio process. */
  processKey(): string {
    const { entry } = this;
    if (entry.kind === "stdio") return `stdio:${this.id}`;
    try {
      return `${entry.kind}:${new URL(entry.url).host}`;
    } catch {
      return `${entry.kind}:${entry.url}`;
    }
  }

  // -------------------------------------------------------------------------------------------
  // In and out of the roster

  /** First contact with a new entry: probe, then into the roster or a warning. */
  async bringUp(): Promise<void> {
    const outcome = await this.probe();
    if (!this.#context.isCurrent(this)) return;
    if (outcome.ok) this.admit(outcome.card);
    else this.notAdded(outcome.error);
  }

  /** The first probe failed: one failure, and a warning unless the same one was logged. */
  notAdded(error: string): void {
    this.failures = 1;
    this.#noteFailure(error, "not added");
  }

  admit(card: CardInfo, options: { quietLog?: boolean } = {}): void {
    const transport = this.transport as AgentTransport;
    const back = this.#listedBefore;
    this.#listedBefore = true;
    this.failures = 0;
    this.lastError = null;
    this.#reported = null;
    this.#cardJson = stableJson(card.raw);
    const agent: LocalAgent = {
      localAgentId: this.id,
      name: this.entry.name,
      description: "",
      entry: this.entry,
      kind: this.entry.kind,
      origin: this.origin,
      transport,
      client: this.#clientFor(card),
      card,
      streaming: false,
      maxConcurrency: this.entry.maxConcurrency,
      healthy: true,
      lastError: null,
    };
    this.#agent = agent;
    this.#refreshAgentFields(card);
    if (!options.quietLog) {
      const how = `${describeTarget(this.entry)}, A2A ${agent.client.dialect}${agent.streaming ? ", streaming" : ""}`;
      this.#context.logger.info(
        { agent: agent.name, localAgentId: this.id, origin: this.origin },
        back
          ? `agent "${agent.name}" answers again: back in the roster (${how})`
          : this.origin === "discovered"
            ? `discovered agent "${agent.name}" (${how})`
            : `agent "${agent.name}" added (${how})`,
      );
    }
    this.#context.changed();
  }

  /** Out of the roster for good (the registry drops it); true when it was in the roster. */
  leave(): boolean {
    this.cancelRecheck();
    const wasListed = this.#agent !== null;
    this.#agent = null;
    return wasListed;
  }

  /** A new entry with the same transport; true when what the relay sees changed. */
  updateEntry(entry: AgentEntry, order: number): boolean {
    this.order = order;
    const before = this.#agent ? visibleFields(this.#agent) : null;
    this.entry = entry;
    if (!this.#agent) return false;
    this.#refreshAgentFields(this.#agent.card);
    return JSON.stringify(visibleFields(this.#agent)) !== JSON.stringify(before);
  }

  cancelRecheck(): void {
    if (this.#recheck) clearTimeout(this.#recheck);
    this.#recheck = null;
  }

  // -------------------------------------------------------------------------------------------
  // Health

  /** One health check (or re-probe), with its consequences. */
  async check(): Promise<void> {
    const outcome = await this.probe();
    if (!this.#context.isCurrent(this)) return;
    if (!outcome.ok) {
      const busy = this.#agent ? this.#context.busyTurns(this) : 0;
      if (busy > 0) {
        this.#context.logger.debug(
          { agent: this.entry.name, localAgentId: this.id, turns: busy },
          `card check of busy agent "${this.entry.name}" failed (${outcome.error}); not counted while ${busy} turn(s) run`,
        );
        return;
      }
      this.#fail(outcome.error);
      return;
    }
    const agent = this.#agent;
    if (!agent) {
      this.admit(outcome.card);
      return;
    }
    this.failures = 0;
    this.lastError = null;
    this.cancelRecheck();
    const wasHealthy = agent.healthy;
    agent.healthy = true;
    agent.lastError = null;
    if (!wasHealthy) {
      this.#reported = null;
      this.#context.logger.info(
        { agent: agent.name, localAgentId: this.id },
        `agent "${agent.name}" is healthy again`,
      );
    }
    const cardJson = stableJson(outcome.card.raw);
    if (cardJson !== this.#cardJson) {
      this.#cardJson = cardJson;
      agent.client = this.#clientFor(outcome.card);
      this.#refreshAgentFields(outcome.card);
      this.#context.logger.info(
        { agent: agent.name, localAgentId: this.id },
        `agent "${agent.name}" changed its card`,
      );
      this.#context.changed();
    }
  }

  /**
   * A turn hit a connection-class error: unhealthy now (one failure), then re-checked every
   * `unreachableRecheckMs` until it answers or leaves the roster.
   */
  reportUnreachable(): void {
    this.#fail("the agent could not be reached during a turn");
    if (this.#agent) this.#scheduleRecheck();
  }

  #fail(error: string): void {
    const { logger, settings } = this.#context;
    this.failures++;
    this.lastError = error;
    const agent = this.#agent;
    if (!agent) {
      this.#noteFailure(error, "still not reachable");
      if (this.origin === "discovered") this.#context.forget(this);
      return;
    }
    agent.healthy = false;
    agent.lastError = error;
    const limit = settings.unhealthyRemoveAfter;
    if (this.failures >= limit) {
      this.cancelRecheck();
      this.#agent = null;
      this.#reported = error;
      const retry =
        this.origin === "config"
          ? `; trying again every ${seconds(settings.reprobeIntervalMs)}`
          : "";
      logger.warn(
        { agent: agent.name, localAgentId: this.id, failures: this.failures },
        `agent "${agent.name}" removed from the roster after ${this.failures} failed checks: ${error}${retry}`,
      );
      if (this.origin === "discovered") this.#context.forget(this);
      this.#context.changed();
      return;
    }
    logger.warn(
      { agent: agent.name, localAgentId: this.id, failures: this.failures },
      `agent "${agent.name}" is unhealthy (${this.failures}/${limit} failed checks): ${error}`,
    );
  }

  #noteFailure(error: string, what: string): void {
    this.lastError = error;
    const { logger, settings } = this.#context;
    const fields = { agent: this.entry.name, localAgentId: this.id };
    if (this.#reported === error || this.origin === "discovered") {
      logger.debug(fields, `agent "${this.entry.name}" ${what}: ${error}`);
      return;
    }
    this.#reported = error;
    logger.warn(
      fields,
      `agent "${this.entry.name}" ${what}: ${error}; trying again every ${seconds(settings.reprobeIntervalMs)}`,
    );
  }

  /** A supervising transport's own verdict: down now (checks count it), or up (check at once). */
  #onTransportHealth(health: TransportHealth): void {
    if (!this.#context.isCurrent(this)) return;
    if (health.healthy) {
      void this.check();
      return;
    }
    const agent = this.#agent;
    if (agent?.healthy) {
      agent.healthy = false;
      agent.lastError = health.lastExit
        ? `the agent is down (${health.lastExit})`
        : "the agent is down";
    }
  }

  #scheduleRecheck(): void {
    if (this.#recheck) clearTimeout(this.#recheck);
    this.#recheck = setTimeout(async () => {
      this.#recheck = null;
      await this.check();
      if (this.#agent && !this.#agent.healthy && this.#context.isCurrent(this)) {
        this.#scheduleRecheck();
      }
    }, this.#context.settings.unreachableRecheckMs);
    this.#recheck.unref();
  }

  // -------------------------------------------------------------------------------------------
  // Probing: transport + card

  /** One probe at a time; concurrent callers share it. */
  probe(timeoutMs?: number): Promise<ProbeOutcome> {
    const { settings } = this.#context;
    timeoutMs ??=
      this.entry.kind === "http" ? settings.httpProbeTimeoutMs : settings.localProbeTimeoutMs;
    this.#probing ??= this.#probe(timeoutMs).finally(() => {
      this.#probing = null;
    });
    return this.#probing;
  }

  async #probe(timeoutMs: number): Promise<ProbeOutcome> {
    const { entry } = this;
    if (this.#closed) return { ok: false, error: "registry closed" };
    if (!this.transport) {
      const made = this.#makeTransport();
      if (typeof made === "string") return { ok: false, error: made };
      this.transport = made;
    }
    const transport = this.transport;
    const down = transportReportsUnhealthy(transport);
    if (down) return { ok: false, error: down };
    const signal = AbortSignal.any([this.#context.signal, AbortSignal.timeout(timeoutMs)]);

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
        this.#routeEndpoints(analysis.card);
        const alive = await liveness(transport, analysis.card, signal);
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
    this.#routeEndpoints(analysis.card);
    return { ok: true, card: analysis.card };
  }

  #makeTransport(): AgentTransport | string {
    const { entry } = this;
    const make = this.#context.factory[entry.kind] as
      | ((entry: AgentEntry, context: TransportContext) => AgentTransport)
      | undefined;
    if (!make) return `${entry.kind} agents are not supported by this hub yet`;
    try {
      return make(entry, {
        localAgentId: this.id,
        logger: this.#context.logger.child({ agent: entry.name, localAgentId: this.id }),
        onHealthChange: (health) => this.#onTransportHealth(health),
      });
    } catch (error) {
      return `could not set up the ${entry.kind} transport: ${errorText(error)}`;
    }
  }

  /** Card endpoints onto the configured origin, into the transport. */
  #routeEndpoints(card: CardInfo): void {
    const { entry, transport } = this;
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
    if (note !== "" && note !== this.#rebaseNote) {
      this.#context.logger.info(
        { agent: entry.name, localAgentId: this.id },
        `agent "${entry.name}": its card names another address; calling ${note} (the address comes only from agents.json)`,
      );
    }
    this.#rebaseNote = note === "" ? null : note;
  }

  #clientFor(card: CardInfo): A2AClient {
    return new A2AClient({
      transport: this.transport as AgentTransport,
      primary: card.primary.dialect,
      fallback: card.fallback?.dialect ?? null,
      tenant: card.primary.tenant ?? null,
      logger: this.#context.logger.child({ agent: this.entry.name, localAgentId: this.id }),
    });
  }

  #refreshAgentFields(card: CardInfo): void {
    const agent = this.#agent;
    if (!agent) return;
    const { entry } = this;
    agent.entry = entry;
    agent.card = card;
    agent.name = this.origin === "discovered" ? card.name : entry.name;
    agent.description = entry.description ?? card.description;
    agent.streaming = entry.streaming ?? card.streaming;
    agent.maxConcurrency = entry.maxConcurrency;
    if (entry.timeoutMs !== undefined) agent.timeoutMs = entry.timeoutMs;
    else delete agent.timeoutMs;
    if (entry.maxQueued !== undefined) agent.maxQueued = entry.maxQueued;
    else delete agent.maxQueued;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * An HTTP agent with only an inline card: is anything answering JSON-RPC at its endpoint?
 * Any JSON-RPC or HTTP answer counts (the task id is made up); null = alive, else why not.
 */
async function liveness(
  transport: AgentTransport,
  card: CardInfo,
  signal: AbortSignal,
): Promise<string | null> {
  const dialect = card.primary.dialect;
  try {
    await transport.call(methodFor(dialect, "get"), { id: LIVENESS_TASK_ID }, { signal, dialect });
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

function visibleFields(agent: LocalAgent) {
  return {
    name: agent.name,
    description: agent.description,
    streaming: agent.streaming,
    maxConcurrency: agent.maxConcurrency,
    timeoutMs: agent.timeoutMs ?? null,
  };
}

/** The URL or command line an entry is reached by (status output). */
export function targetOf(entry: AgentEntry): string {
  return entry.kind === "stdio" ? [entry.command, ...entry.args].join(" ") : entry.url;
}

function describeTarget(entry: AgentEntry): string {
  return entry.kind === "stdio" ? `stdio: ${entry.command}` : entry.url;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** An error as one line for a log or a status; a fired deadline reads "timed out". */
export function errorText(error: unknown, signal?: AbortSignal): string {
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
