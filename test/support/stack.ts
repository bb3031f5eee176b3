// The whole path on loopback for end-to-end tests and the benchmark: the development relay, a
// real HubDaemon with a real agents.json, and helpers to talk to agents through the gateway.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import type { RegistrySettings } from "../../src/agents/registry-settings.ts";
import { HubDaemon } from "../../src/daemon/daemon.ts";
import {
  type DevRelay,
  type DevRelaySettingsInput,
  startDevRelay,
} from "../../src/devrelay/index.ts";
import type { HubSettings } from "../../src/hub/hub.ts";
import { createLogger, type Logger, silentLogger } from "../../src/log/logger.ts";
import type { HubObserver } from "../../src/observe/observer.ts";
import type { HubPrivacy } from "../../src/privacy/hub-privacy.ts";
import type { PolicySpec } from "../../src/privacy/policy-spec.ts";
import type { RelayLinkSettings } from "../../src/relay/settings.ts";

/** Timers shortened so tests never wait on production intervals. */
export const FAST_RELAY_LINK: Partial<RelayLinkSettings> = {
  heartbeatIntervalMs: 1_000,
  streamReadTimeoutMs: 3_000,
  reconnectBaseDelayMs: 50,
  reconnectMaxDelayMs: 500,
  publishCoalesceMs: 10,
  publishRetryBaseDelayMs: 50,
  publishRetryMaxDelayMs: 500,
};
export const FAST_REGISTRY: Partial<RegistrySettings> = {
  debounceMs: 50,
  healthCheckIntervalMs: 500,
  reprobeIntervalMs: 500,
};

export interface StackOptions {
  agents: Array<Record<string, unknown>>;
  relay?: DevRelaySettingsInput;
  hub?: Partial<HubSettings>;
  link?: Partial<RelayLinkSettings>;
  registry?: Partial<RegistrySettings>;
  logger?: Logger;
  /** agents.json's `"privacy"`: a policy per agent name. */
  agentPolicies?: Record<string, PolicySpec>;
  /** config.json's `"privacy"`, checked (default: the built-in policy, audit on). */
  privacy?: HubPrivacy;
  /** Where the audit record goes (default: none). */
  auditFile?: string;
  /** The local inspector's recorder, or another observer of the hub. */
  observer?: HubObserver;
}

export interface Stack {
  relay: DevRelay;
  daemon: HubDaemon;
  key: string;
  hubId: string;
  dir: string;
  agentsFile: string;
  writeAgents(agents: Array<Record<string, unknown>>): void;
  /** The gateway's id for the agent with this card/config name (waits until it is synced). */
  agentId(name: string, timeoutMs?: number): Promise<string>;
  send(agentId: string, message: string | Record<string, unknown>): Promise<GatewayReply>;
  /** Stops the relay and starts a new one on the same port (same sqlite file when `dataDir` was set). */
  restartRelay(): Promise<DevRelay>;
  close(): Promise<void>;
}

export interface GatewayReply {
  status: number;
  body: {
    result?: {
      id: string;
      contextId: string;
      status: { state: string; message?: { parts?: Array<{ text?: string }> } };
      metadata?: Record<string, unknown>;
    };
    detail?: { error: string; message: string };
  };
}

const gatewayDispatcher = new Agent({ connections: 256, headersTimeout: 0, bodyTimeout: 0 });

export function textOf(reply: GatewayReply): string {
  const parts = reply.body.result?.status.message?.parts ?? [];
  return parts.map((part) => part.text ?? "").join("");
}

export function userMessage(text: string, extra: Record<string, unknown> = {}) {
  return {
    kind: "message",
    role: "user",
    messageId: randomBytes(8).toString("hex"),
    parts: [{ kind: "text", text }],
    ...extra,
  };
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "hybro-stack-"));
  const logger =
    options.logger ??
    (process.env.HYBRO_TEST_LOGS ? createLogger({ level: "debug" }) : silentLogger());
  const relaySettings: DevRelaySettingsInput = {
    port: 0,
    memory: true,
    sseHeartbeatMs: 1_000,
    rateLimits: {
      gateway: {
        key: [{ limit: 1_000_000, windowMs: 3_600_000 }],
        global: [{ limit: 1_000_000, windowMs: 3_600_000 }],
      },
    },
    ...options.relay,
  };
  let relay = await startDevRelay({ ...relaySettings, logger });
  const { key } = relay.createKey({ userId: "alice", name: "hub", scopes: ["*"] });
  const agentsFile = join(dir, "agents.json");
  const privacy = options.agentPolicies ? { privacy: options.agentPolicies } : {};
  const writeAgents = (agents: Array<Record<string, unknown>>) =>
    writeFileSync(agentsFile, JSON.stringify({ agents, ...privacy }, null, 2));
  writeAgents(options.agents);
  const hubId = randomBytes(16).toString("hex");
  const daemon = new HubDaemon({
    hubId,
    gatewayUrl: relay.url,
    apiKey: () => key,
    keySource: "the test",
    agentsFile,
    logger,
    hub: options.hub,
    relay: { ...FAST_RELAY_LINK, ...options.link },
    registry: { ...FAST_REGISTRY, ...options.registry },
    ...(options.privacy ? { privacy: options.privacy } : {}),
    ...(options.auditFile ? { auditFile: options.auditFile } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
  });
  const ready = once(daemon, "ready");
  await daemon.start();
  await ready;

  const call = async (path: string, body: unknown): Promise<GatewayReply> => {
    const response = await fetch(`${relay.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key },
      body: JSON.stringify(body),
      dispatcher: gatewayDispatcher,
    });
    return { status: response.status, body: (await response.json()) as GatewayReply["body"] };
  };

  const stack: Stack = {
    relay,
    daemon,
    key,
    hubId,
    dir,
    agentsFile,
    writeAgents,
    async agentId(name, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const response = await fetch(`${relay.url}/api/v1/gateway/agents/discover`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": key },
          body: JSON.stringify({ query: name, limit: 50 }),
          dispatcher: gatewayDispatcher,
        });
        const body = (await response.json()) as {
          agents?: Array<{ agent_id: string; agent_card: { name?: string } }>;
        };
        const found = body.agents?.find((agent) => agent.agent_card.name === name);
        if (found) return found.agent_id;
        if (Date.now() > deadline) throw new Error(`agent ${name} never appeared at the relay`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    send(agentId, message) {
      const body = typeof message === "string" ? userMessage(message) : message;
      return call(`/api/v1/gateway/agents/${agentId}/message/send`, { message: body });
    },
    async restartRelay() {
      const port = relay.port;
      await relay.close();
      relay = await startDevRelay({ ...relaySettings, port, logger });
      stack.relay = relay;
      return relay;
    },
    async close() {
      await daemon.stop({ graceMs: 0, flushTimeoutMs: 1_000 });
      await relay.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
