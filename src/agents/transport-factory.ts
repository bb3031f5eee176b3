// How the registry makes a transport for an entry, keyed by the entry's transport kind. The
// defaults cover HTTP, stdio and WebSocket; the Registry's `transports` option replaces any of
// them (tests, or a new kind of agent).

import type { A2ADialect, AgentTransport, TransportKind } from "../a2a/transport.ts";
import type { Logger } from "../log/logger.ts";
import type { AgentEntryOfKind } from "./config.ts";
import { HttpTransport, type HttpTransportSettings } from "./transports/http.ts";
import { type StdioSettings, StdioTransport } from "./transports/stdio.ts";
import type { TransportHealth } from "./transports/supervision.ts";
import { type WsSettings, WsTransport } from "./transports/ws.ts";

export interface TransportContext {
  localAgentId: string;
  /** A child logger bound to the agent (`agent`, `localAgentId`). */
  logger: Logger;
  /** For transports that supervise a process or socket: call when `healthy` flips. */
  onHealthChange: (health: TransportHealth) => void;
}

export type TransportFactory = {
  [K in TransportKind]?: (entry: AgentEntryOfKind<K>, context: TransportContext) => AgentTransport;
};

interface TransportSettings {
  http?: Partial<HttpTransportSettings>;
  stdio?: Partial<StdioSettings>;
  ws?: Partial<WsSettings>;
}

/** What an HTTP-like transport offers beyond AgentTransport: endpoints taken from the card. */
interface EndpointRouting {
  useEndpoints(endpoints: Partial<Record<A2ADialect, string>>): void;
}

export function hasEndpointRouting(
  transport: AgentTransport,
): transport is AgentTransport & EndpointRouting {
  return typeof (transport as Partial<EndpointRouting>).useEndpoints === "function";
}

/**
 * Why a process/socket transport says it is down (its `health()`, see supervision.ts), or null
 * when it says nothing or is fine (the card probe then decides).
 */
export function transportReportsUnhealthy(transport: AgentTransport): string | null {
  const raw = (transport as { health?: unknown }).health;
  const health = typeof raw === "function" ? (raw as () => unknown).call(transport) : raw;
  if (health === null || typeof health !== "object") return null;
  const { healthy, lastExit } = health as { healthy?: unknown; lastExit?: unknown };
  if (healthy !== false) return null;
  return typeof lastExit === "string" && lastExit !== ""
    ? `the agent is down (${lastExit})`
    : "the agent is down";
}

export function defaultTransportFactory(settings: TransportSettings = {}): TransportFactory {
  return {
    http: (entry, context) =>
      new HttpTransport({
        baseUrl: entry.url,
        ...(entry.cardUrl ? { cardUrl: entry.cardUrl } : {}),
        headers: entry.headers,
        logger: context.logger,
        ...(settings.http ? { settings: settings.http } : {}),
      }),
    stdio: (entry, context) =>
      new StdioTransport({
        name: entry.name,
        command: entry.command,
        args: entry.args,
        ...(entry.cwd !== undefined ? { cwd: entry.cwd } : {}),
        env: entry.env,
        ...(entry.card ? { card: entry.card } : {}),
        ...(entry.description !== undefined ? { description: entry.description } : {}),
        logger: context.logger,
        ...(settings.stdio ? { settings: settings.stdio } : {}),
        onHealthChange: context.onHealthChange,
      }),
    ws: (entry, context) =>
      new WsTransport({
        name: entry.name,
        url: entry.url,
        headers: entry.headers,
        ...(entry.card ? { card: entry.card } : {}),
        ...(entry.cardUrl ? { cardUrl: entry.cardUrl } : {}),
        ...(entry.description !== undefined ? { description: entry.description } : {}),
        logger: context.logger,
        ...(settings.ws ? { settings: settings.ws } : {}),
        onHealthChange: context.onHealthChange,
      }),
  };
}
