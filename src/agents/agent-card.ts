// The card side of a roster entry, pure: keeping a card's endpoints on the configured origin
// (the agent's address comes only from the local config, never from what a card advertises),
// and the card of a process/socket agent that serves a partial card or none.

import { analyseCard, type CardInfo } from "../a2a/card.ts";
import { isRecord } from "../a2a/model.ts";
import type { A2ADialect } from "../a2a/transport.ts";
import type { AgentEntry } from "./config.ts";

/**
 * `endpoint` moved onto the scheme, host and port of `configuredUrl`, keeping its path and query.
 * Cards often name an address the hub cannot or must not use (`0.0.0.0`, a container name,
 * another machine); the configured URL is the only address the hub trusts.
 */
export function rebaseEndpoint(
  endpoint: string,
  configuredUrl: string,
): { url: string; rebased: boolean } {
  let configured: URL;
  try {
    configured = new URL(configuredUrl);
  } catch {
    return { url: endpoint, rebased: false };
  }
  let target: URL;
  try {
    target = new URL(endpoint);
  } catch {
    return { url: configured.toString(), rebased: true };
  }
  if (target.origin === configured.origin) return { url: target.toString(), rebased: false };
  const out = new URL(configured.toString());
  out.pathname = target.pathname;
  out.search = target.search;
  out.hash = "";
  return { url: out.toString(), rebased: true };
}

/** A v0.3 card from the entry alone, for an agent that serves none (not streaming). */
export function builtCard(entry: AgentEntry): Record<string, unknown> {
  return {
    name: entry.name,
    description: entry.description ?? "",
    url: entry.kind === "stdio" ? `stdio:${entry.name}` : entry.url,
    version: "0.0.0",
    protocolVersion: "0.3.0",
    capabilities: { streaming: false },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [],
  };
}

/**
 * CardInfo for a stdio/ws agent: its card is used for name, description, capabilities and
 * skills only (the endpoint is the process or socket, the dialect is the entry's `a2a`, default
 * 0.3), so fields an HTTP card must have may be missing.
 */
export function processCardInfo(raw: Record<string, unknown>, entry: AgentEntry): CardInfo {
  const dialect: A2ADialect = entry.a2a ?? "0.3";
  const filled = { ...builtCard(entry), ...raw };
  if (!Array.isArray(filled["skills"])) filled["skills"] = [];
  const analysis = analyseCard(filled);
  const info = analysis.ok ? analysis.card : analyseOrThrow(builtCard(entry));
  const where = entry.kind === "stdio" ? `stdio:${entry.name}` : entry.url;
  return {
    ...info,
    primary: { dialect, url: where },
    fallback: null,
    raw,
  };
}

function analyseOrThrow(card: Record<string, unknown>): CardInfo {
  const analysis = analyseCard(card);
  if (!analysis.ok) throw new Error(`built card rejected: ${analysis.error}`);
  return analysis.card;
}

/**
 * A URL as the relay may see it: scheme, host, port and path only. User info, query and
 * fragment (where tokens live: `?key=…`, `user:pass@`) never leave the machine.
 */
function publicUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "stdio:") return url.split(/[?#]/)[0] ?? url;
    parsed.username = "";
    parsed.password = "";
    parsed.search = "";
    parsed.hash = "";
    return parsed.toString();
  } catch {
    return url.split(/[?#]/)[0] ?? "";
  }
}

const stringList = (value: unknown): string[] | null =>
  Array.isArray(value) && value.every((item) => typeof item === "string")
    ? [...(value as string[])]
    : null;

/** One skill as the relay reads it (id, name, description, tags; examples and modes if given). */
function relaySkill(raw: unknown, index: number): Record<string, unknown> | null {
  if (!isRecord(raw)) return null;
  const name = typeof raw.name === "string" ? raw.name : typeof raw.id === "string" ? raw.id : "";
  if (name === "") return null;
  const skill: Record<string, unknown> = {
    id: typeof raw.id === "string" && raw.id !== "" ? raw.id : `skill-${index}`,
    name,
    description: typeof raw.description === "string" ? raw.description : "",
    tags: (Array.isArray(raw.tags) ? raw.tags : []).filter((tag) => typeof tag === "string"),
  };
  for (const key of ["examples", "inputModes", "outputModes"]) {
    const list = stringList(raw[key]);
    if (list) skill[key] = list;
  }
  return skill;
}

/**
 * The `agent_card` the hub syncs: only the fields the relay needs, as the A2A v0.3 card its
 * validation expects (name, description, url, version, capabilities, input/output modes, skills),
 * built from what the hub knows of the agent. Nothing else of the served card goes (no security
 * schemes, interfaces, extensions, provider or signatures), and the URL carries no user info or
 * query: local headers, tokens and environment values never reach the relay through a card.
 * A v1.0 card (no top-level `url`) is synced this way too, so the relay keeps it.
 */
export function relaySyncCard(agent: {
  name: string;
  description: string;
  streaming: boolean;
  card: CardInfo;
}): Record<string, unknown> {
  const { raw } = agent.card;
  const card: Record<string, unknown> = {
    name: agent.name,
    description: agent.description,
    url: publicUrl(agent.card.primary.url),
    version: typeof raw.version === "string" && raw.version !== "" ? raw.version : "0.0.0",
  };
  if (typeof raw.protocolVersion === "string") card.protocolVersion = raw.protocolVersion;
  card.capabilities = {
    streaming: agent.streaming,
    pushNotifications: agent.card.pushNotifications,
  };
  card.defaultInputModes = stringList(raw.defaultInputModes) ?? ["text/plain"];
  card.defaultOutputModes = stringList(raw.defaultOutputModes) ?? ["text/plain"];
  card.skills = (Array.isArray(raw.skills) ? raw.skills : [])
    .map(relaySkill)
    .filter((skill): skill is Record<string, unknown> => skill !== null);
  return card;
}
