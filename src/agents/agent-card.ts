// The card side of a roster entry, pure: keeping a card's endpoints on the configured origin
// (the agent's address comes only from the local config, never from what a card advertises),
// and the card of a process/socket agent that serves a partial card or none.

import { analyseCard, type CardInfo } from "../a2a/card.ts";
import type { AgentEntry } from "./config.ts";
import type { A2ADialect } from "./transport.ts";

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
