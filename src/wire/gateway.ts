// Gateway, Discovery and API-key surfaces (relay-wire.md section 5), as served by the
// development relay and called by the SDK.

/** The real relay's base URL (hub, gateway and discovery APIs), used when none is configured. */
export const DEFAULT_GATEWAY_URL = "https://api.hybro.ai";

export interface DiscoverRequest {
  query: string;
  limit?: number;
}
export interface DiscoveredAgent {
  agent_id: string;
  agent_card: Record<string, unknown>;
  match_score: number;
}
export interface DiscoverResponse {
  query: string;
  agents: DiscoveredAgent[];
  count: number;
}

export interface GatewaySendRequest {
  /** An A2A Message (v0.3 shape with `kind` parts is what the Python SDK sends). */
  message: Record<string, unknown>;
}

/** JSON-RPC-like result of `message/send`: an A2A Task in v0.3 shape. */
export interface GatewaySendResponse {
  result: {
    kind: "task";
    id: string;
    contextId: string;
    status: { state: string; message?: Record<string, unknown>; timestamp?: string };
    artifacts?: Array<{ artifactId: string; name?: string; parts: unknown[] }>;
    metadata?: Record<string, unknown>;
  };
}

export interface AgentCardResponse {
  agent_id: string;
  agent_card: Record<string, unknown>;
}

export type ApiKeyScope =
  | "relay:hub"
  | "gateway:read"
  | "gateway:send"
  | "discovery:read"
  | "keys:admin"
  | `${string}:*`
  | "*";

export interface ApiKeyInfo {
  id: string;
  name: string;
  user_id: string;
  scopes: string[];
  /** First characters of the key, for recognising it (never enough to use it). */
  prefix: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}
export interface CreateApiKeyRequest {
  name: string;
  scopes: string[];
  expires_at?: string | null;
  /** Only a `keys:admin` key of the relay's admin may create keys for another user. */
  user_id?: string;
}
/** The key itself appears only here, once. */
export interface CreateApiKeyResponse extends ApiKeyInfo {
  key: string;
}
export interface VerifyResponse {
  valid: true;
  key_id: string;
  user_id: string;
  name: string;
  scopes: string[];
  expires_at: string | null;
}

export interface ListApiKeysResponse {
  keys: ApiKeyInfo[];
  count: number;
}
/** PATCH `/api/v1/api-keys/{id}`: any of these; `expires_at: null` removes the expiry. */
export interface UpdateApiKeyRequest {
  name?: string;
  scopes?: string[];
  expires_at?: string | null;
}

/**
 * `message/stream` (development relay): every `data:` is one relay event of the turn (the
 * `PublishedEvent` JSON), then this one with the finished turn as in `message/send`.
 */
export interface GatewayStreamResultEvent {
  type: "task_result";
  result: GatewaySendResponse["result"];
}
/** Ends a `message/stream` that got no terminal event in time (`error: "agent_timeout"`). */
export interface GatewayStreamErrorEvent {
  type: "error";
  error: string;
  message: string;
  [extra: string]: unknown;
}
