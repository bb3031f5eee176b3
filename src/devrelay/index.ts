/**
 * The development relay: a real HTTP server that stands in for hybro.ai so the hub, the SDK,
 * every test and benchmark run with no cloud. Start it in-process with `startDevRelay()` or
 * from the CLI with `hybro-hub relay`.
 *
 * Faithful to hybro.ai (relay-wire.md sections 1–3 and 6): the hub API paths, bodies and status
 * codes (register → {hub_id, user_id}, an upsert that moves a hub between users; agents/sync →
 * {synced}, keeping only valid cards; heartbeat/publish → 204; status → {hubs}); publish
 * ingestion by hybro.ai's rules (ingest.ts: the 7 types, retries recognised only by
 * (task_id, response_seq), silent drops by lineage, cancellation and foreign user message id;
 * 403/404 for a foreign hub or room); the SSE command stream (`data:` JSON with `type`,
 * `connection_ready` first, `heartbeat` about every 30 s, `user_message` with `run_id`,
 * `agent_id` and a `relay-pending-…` task id, `user_reply`, `cancel_task`); commands for an
 * offline hub held until it returns; agents pruned by `prune_missing` shown inactive; the
 * `X-API-Key` header; the seed docs' Gateway/Discovery routes, rate-limit defaults, headers,
 * 429 body and `{"detail": {"error", "message"}}` error shape.
 *
 * Development-only additions (section 5, or our own choices): SSE `id:` lines on commands
 * (`<relay run>-<seq>`; `connection_ready`/`heartbeat` carry none) and replay after
 * `Last-Event-ID`; gateway calls routed through the relay path to hub agents (send waits for
 * `processing_status`; stream relays events and sends `cancel_task` when the caller leaves);
 * API-key management endpoints and `auth/verify`; `Authorization: Bearer`; stricter validation
 * of event data and sync entries than hybro.ai's door (422 names the field); the in-process
 * API below (`sendCommand`, `eventsFor`, `publishStats`, `hubs`, events and `waitFor…`).
 * Turn history, offline queues and replay buffers live in memory only; keys, users, hubs,
 * agents, publish lineage and idempotency keys persist in sqlite (`dataDir`) unless in memory.
 */
import type { AddressInfo } from "node:net";
import { type Logger, silentLogger } from "../log/logger.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import { toApiKeyInfo } from "./key-ring.ts";
import { type DevRelayEvents, RelayCore } from "./relay-core.ts";
import { cloudAgentId } from "./roster.ts";
import { createRelayServer } from "./server.ts";
import { type DevRelaySettings, type DevRelaySettingsInput, resolveSettings } from "./settings.ts";
import { RelayStore } from "./store.ts";

export { API_KEY_PREFIX, generateApiKey, isApiKeyFormat } from "./api-key.ts";
export { maskAgentCard } from "./card-mask.ts";
export { matchScore, rankAgents } from "./discovery.ts";
export { RelayHttpError } from "./errors.ts";
export { KeyRingError } from "./key-ring.ts";
export {
  formatWindows,
  parseWindows,
  type RateLimits,
  type RateWindow,
  rateLimitMessage,
} from "./rate-limit.ts";
export type { DevRelayEvents, HubView, PublishContext, PublishStats } from "./relay-core.ts";
export { cloudAgentId } from "./roster.ts";
export {
  DEFAULT_DEV_RELAY_SETTINGS,
  DEFAULT_RATE_LIMITS,
  type DevRelaySettings,
  type DevRelaySettingsInput,
  NO_RATE_LIMITS,
  type RateLimitChanges,
  resolveSettings,
} from "./settings.ts";
export { taskResult } from "./task-result.ts";

export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;

export interface CreateKeyOptions {
  /** Owner; default `settings.adminUser`. */
  userId?: string;
  name: string;
  scopes: string[];
  /** ISO-8601; null or absent = never. */
  expiresAt?: string | null;
}

export type DevRelayOptions = DevRelaySettingsInput & { logger?: Logger };

export class DevRelay extends RelayCore {
  private readonly server: ReturnType<typeof createRelayServer>;
  private closed: Promise<void> | null = null;
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  url = "";
  port = 0;

  constructor(settings: DevRelaySettings, store: RelayStore, logger: Logger) {
    super(settings, store, logger);
    this.server = createRelayServer(this);
  }

  /** @internal used by startDevRelay */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once("error", onError);
      this.server.listen(this.settings.port, this.settings.host, () => {
        this.server.off("error", onError);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.port = address.port;
    const host =
      address.address === "0.0.0.0"
        ? "127.0.0.1"
        : address.address === "::"
          ? "::1"
          : address.address;
    this.url = `http://${host.includes(":") ? `[${host}]` : host}:${this.port}`;
    this.baseUrl = this.url;
    this.startLivenessChecks();
  }

  /** Stops serving: ends every SSE stream and socket, then closes the database. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      this.closeChannels();
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await stopped;
      this.store.close();
    })();
    return this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Makes a key and returns its value (the only time it is visible) and id. */
  createKey(options: CreateKeyOptions): { id: string; key: string } {
    const { record, key } = this.keys.create({
      userId: options.userId ?? this.settings.adminUser,
      name: options.name,
      scopes: options.scopes,
      expiresAt: options.expiresAt ?? null,
    });
    return { id: record.id, key };
  }

  /** Revokes a key by id; false when there is no such key. */
  revokeKey(id: string): boolean {
    return this.keys.revoke(id) !== undefined;
  }

  /** Every key's public record (never the key itself). */
  listKeys(userId?: string) {
    return this.keys.list(userId).map(toApiKeyInfo);
  }

  /** The cloud id the relay gives a hub's agent (what the gateway routes take). */
  agentId(hubId: string, localAgentId: string): string {
    return cloudAgentId(hubId, localAgentId);
  }

  /** Resolves with the event's arguments once `predicate` accepts one; rejects after `timeoutMs`. */
  waitFor<K extends keyof DevRelayEvents>(
    event: K,
    predicate: (...args: DevRelayEvents[K]) => boolean = () => true,
    timeoutMs = DEFAULT_WAIT_TIMEOUT_MS,
  ): Promise<DevRelayEvents[K]> {
    return new Promise((resolve, reject) => {
      const listener = (...args: DevRelayEvents[K]) => {
        if (!predicate(...args)) return;
        clearTimeout(timer);
        this.off(event, listener as never);
        resolve(args);
      };
      const timer = setTimeout(() => {
        this.off(event, listener as never);
        reject(new Error(`dev relay: no "${String(event)}" event within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.on(event, listener as never);
    });
  }

  /** Resolves once the hub (any hub when omitted) has a live event stream. */
  async waitForHubOnline(hubId?: string, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<string> {
    if (hubId !== undefined && this.isOnline(hubId)) return hubId;
    if (hubId === undefined) {
      const online = this.hubs().find((hub) => hub.online);
      if (online) return online.hubId;
    }
    const [info] = await this.waitFor(
      "hubConnected",
      (connected) => hubId === undefined || connected.hubId === hubId,
      timeoutMs,
    );
    return info.hubId;
  }

  /** Resolves with a turn's events once its `processing_status` has been applied. */
  async waitForTurn(
    agentMessageId: string,
    timeoutMs = DEFAULT_WAIT_TIMEOUT_MS,
  ): Promise<PublishedEvent[]> {
    if (this.turns.get(agentMessageId)?.terminal) return this.eventsFor(agentMessageId);
    const [done] = await this.waitFor(
      "turnFinished",
      (finished) => finished.agentMessageId === agentMessageId,
      timeoutMs,
    );
    return done.events;
  }
}

/**
 * Starts a development relay. With no `dataDir` (or with `memory: true`) all state is in
 * memory. `port: 0` picks a free port; read `relay.url`.
 */
export async function startDevRelay(options: DevRelayOptions = {}): Promise<DevRelay> {
  const { logger = silentLogger(), ...rest } = options;
  const settings = resolveSettings(rest);
  const store = new RelayStore(settings.memory ? null : settings.dataDir);
  const relay = new DevRelay(settings, store, logger);
  try {
    if (settings.adminKey !== null) {
      relay.keys.ensureOperator(settings.adminKey, {
        userId: settings.adminUser,
        name: "admin",
        scopes: ["*"],
      });
    }
    await relay.listen();
  } catch (error) {
    store.close();
    throw error;
  }
  logger.info({ url: relay.url, store: store.path }, "development relay listening");
  return relay;
}
