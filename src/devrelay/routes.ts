// Every route of the development relay: method, path, API family (for rate limits), the
// scope a key needs, and its handler. Matching is pure.
import * as gateway from "./gateway-api.ts";
import * as hub from "./hub-api.ts";
import * as keys from "./keys-api.ts";
import type { Route } from "./request-context.ts";

const HUB = ["api", "v1", "relay", "hub"];
const GATEWAY_AGENTS = ["api", "v1", "gateway", "agents"];
const API_KEYS = ["api", "v1", "api-keys"];

const ROUTES: readonly Route[] = [
  {
    method: "POST",
    path: [...HUB, "register"],
    family: "hub",
    scope: "relay:hub",
    handler: hub.register,
  },
  {
    method: "GET",
    path: [...HUB, "status"],
    family: "hub",
    scope: "relay:hub",
    handler: hub.status,
  },
  {
    method: "POST",
    path: [...HUB, ":hubId", "agents", "sync"],
    family: "hub",
    scope: "relay:hub",
    handler: hub.syncAgents,
  },
  {
    method: "POST",
    path: [...HUB, ":hubId", "heartbeat"],
    family: "hub",
    scope: "relay:hub",
    handler: hub.heartbeat,
  },
  {
    method: "POST",
    path: [...HUB, ":hubId", "publish"],
    family: "hub",
    scope: "relay:hub",
    handler: hub.publish,
  },
  {
    method: "GET",
    path: [...HUB, ":hubId", "events"],
    family: "hub",
    scope: "relay:hub",
    handler: hub.events,
  },
  {
    method: "POST",
    path: [...GATEWAY_AGENTS, "discover"],
    family: "gateway",
    scope: "gateway:read",
    handler: gateway.discoverAgents,
  },
  {
    method: "GET",
    path: [...GATEWAY_AGENTS, ":agentId", "card"],
    family: "gateway",
    scope: "gateway:read",
    handler: gateway.card,
  },
  {
    method: "POST",
    path: [...GATEWAY_AGENTS, ":agentId", "message", "send"],
    family: "gateway",
    scope: "gateway:send",
    handler: gateway.send,
  },
  {
    method: "POST",
    path: [...GATEWAY_AGENTS, ":agentId", "message", "stream"],
    family: "gateway",
    scope: "gateway:send",
    handler: gateway.stream,
  },
  {
    method: "POST",
    path: ["api", "v1", "discovery", "agents"],
    family: "discovery",
    scope: "discovery:read",
    handler: gateway.discoverAgents,
  },
  { method: "POST", path: API_KEYS, family: "keys", scope: "keys:admin", handler: keys.createKey },
  { method: "GET", path: API_KEYS, family: "keys", scope: "keys:admin", handler: keys.listKeys },
  {
    method: "GET",
    path: [...API_KEYS, ":keyId"],
    family: "keys",
    scope: "keys:admin",
    handler: keys.getKey,
  },
  {
    method: "PATCH",
    path: [...API_KEYS, ":keyId"],
    family: "keys",
    scope: "keys:admin",
    handler: keys.patchKey,
  },
  {
    method: "DELETE",
    path: [...API_KEYS, ":keyId"],
    family: "keys",
    scope: "keys:admin",
    handler: keys.revokeKey,
  },
  {
    method: "GET",
    path: ["api", "v1", "auth", "verify"],
    family: "keys",
    scope: null,
    handler: keys.verify,
  },
];

type RouteMatch =
  | { kind: "found"; route: Route; params: Record<string, string> }
  | { kind: "wrong_method"; allowed: string[] }
  | { kind: "none" };

function matchPath(
  pattern: readonly string[],
  segments: readonly string[],
): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] as string;
    const actual = segments[i] as string;
    if (expected.startsWith(":")) params[expected.slice(1)] = actual;
    else if (expected !== actual) return null;
  }
  return params;
}

/** Literal routes win over parameter routes (`hub/status` is not a hub named "status"). */
export function matchRoute(method: string, segments: readonly string[]): RouteMatch {
  const allowed: string[] = [];
  let best: { route: Route; params: Record<string, string>; literals: number } | null = null;
  for (const route of ROUTES) {
    const params = matchPath(route.path, segments);
    if (!params) continue;
    const literals = route.path.filter((segment) => !segment.startsWith(":")).length;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    if (!best || literals > best.literals) best = { route, params, literals };
  }
  if (best) return { kind: "found", route: best.route, params: best.params };
  if (allowed.length > 0) return { kind: "wrong_method", allowed: [...new Set(allowed)] };
  return { kind: "none" };
}
