// Agent card analysis: is this JSON a real card (not `{}`, not an error body from an unrelated
// server), which dialect does it speak (decided by the card's shape, never by a lone version
// string), and which JSON-RPC endpoint to use, with a v0.3 fallback for a v1.0 primary.

import { isRecord } from "./model.ts";
import type { A2ADialect } from "./transport.ts";

interface AgentEndpoint {
  dialect: A2ADialect;
  url: string;
  /** v1.0 interfaces only, when the card names one: echo it in every request (`A2AClient` `tenant`). */
  tenant?: string;
}

export interface CardInfo {
  name: string;
  description: string;
  streaming: boolean;
  pushNotifications: boolean;
  /** Every tag of every skill, in order, duplicates kept (as the relay expects). */
  skillTags: string[];
  primary: AgentEndpoint;
  /** Only for a v1.0 primary: the card's v0.3 JSON-RPC interface, else the same URL. */
  fallback: AgentEndpoint | null;
  /** The card exactly as served. */
  raw: Record<string, unknown>;
}

type CardAnalysis = { ok: true; card: CardInfo } | { ok: false; error: string };

interface AnalyseCardOptions {
  /** Where the card came from; relative interface URLs are resolved against it. */
  baseUrl?: string;
}

const V03_REQUIRED_STRINGS = ["name", "url", "version"] as const;
const V03_REQUIRED_ARRAYS = ["skills", "defaultInputModes", "defaultOutputModes"] as const;

/** Absent, or a string: a description the card leaves out is "" (the relay's card gets one). */
const optionalText = (value: unknown): boolean => value === undefined || typeof value === "string";

/**
 * Why a card is not a complete v0.3 card, or null when it is one. Descriptions may be missing:
 * VoltAgent (2.x) leaves the card's out when its agent has no `purpose`, and the relay's card is
 * built by the hub anyway (`relaySyncCard`: agents.json's `description`, else "").
 */
function v03Problem(card: Record<string, unknown>): string | null {
  for (const key of V03_REQUIRED_STRINGS) {
    if (typeof card[key] !== "string") return `no "${key}" string`;
  }
  if (!optionalText(card["description"])) return `a "description" that is not a string`;
  if (!isRecord(card["capabilities"])) return `no "capabilities" object`;
  for (const key of V03_REQUIRED_ARRAYS) {
    if (!Array.isArray(card[key])) return `no "${key}" list`;
  }
  for (const skill of card["skills"] as unknown[]) {
    if (
      !isRecord(skill) ||
      typeof skill["id"] !== "string" ||
      typeof skill["name"] !== "string" ||
      !optionalText(skill["description"]) ||
      !Array.isArray(skill["tags"])
    ) {
      return "a skill without id, name and tags";
    }
  }
  return null;
}

/** "1.0", "1.0.1", "0.3.0", "0.2.6" → the dialect that drives it; other versions → null. */
function dialectOfVersion(version: unknown): A2ADialect | null {
  if (version === undefined || version === null || version === "") return "0.3";
  if (typeof version !== "string" && typeof version !== "number") return null;
  const match = /^(\d+)\.(\d+)/.exec(String(version).trim());
  if (!match) return null;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  if (major === 1 && minor === 0) return "1.0";
  if (major === 0 && (minor === 3 || minor === 2)) return "0.3";
  return null;
}

function isJsonRpc(binding: unknown): boolean {
  return typeof binding === "string" && binding.toUpperCase() === "JSONRPC";
}

function resolveUrl(url: string, baseUrl: string | undefined): string {
  if (!baseUrl) return url;
  try {
    return new URL(url, baseUrl).toString();
  } catch {
    return url;
  }
}

/** Checks a fetched card and picks its endpoints. Never throws. */
export function analyseCard(raw: unknown, options: AnalyseCardOptions = {}): CardAnalysis {
  const fail = (why: string): CardAnalysis => ({
    ok: false,
    error: `not a usable agent card: ${why}`,
  });
  if (!isRecord(raw)) return fail("the JSON is not an object");
  const name = typeof raw["name"] === "string" ? raw["name"].trim() : "";
  if (name === "") return fail(`no "name"`);

  const interfaces = raw["supportedInterfaces"];
  const v03 = v03Problem(raw);
  if (v03 !== null && !(Array.isArray(interfaces) && interfaces.length > 0)) {
    return fail(`neither a complete v0.3 card (${v03}) nor a v1.0 card with "supportedInterfaces"`);
  }

  let primary: AgentEndpoint | null = null;
  let fallback: AgentEndpoint | null = null;
  if (interfaces !== undefined) {
    if (!Array.isArray(interfaces)) return fail(`"supportedInterfaces" is not a list`);
    const usable: AgentEndpoint[] = [];
    for (const entry of interfaces) {
      if (!isRecord(entry) || !isJsonRpc(entry["protocolBinding"])) continue;
      const url = entry["url"];
      const dialect = dialectOfVersion(entry["protocolVersion"]);
      if (typeof url !== "string" || url === "" || dialect === null) continue;
      const endpoint: AgentEndpoint = { dialect, url: resolveUrl(url, options.baseUrl) };
      if (typeof entry["tenant"] === "string" && entry["tenant"] !== "")
        endpoint.tenant = entry["tenant"];
      usable.push(endpoint);
    }
    primary =
      usable.find((e) => e.dialect === "1.0") ?? usable.find((e) => e.dialect === "0.3") ?? null;
    if (!primary) {
      return fail(
        'no JSON-RPC interface with protocol version 1.0 or 0.3 in "supportedInterfaces"',
      );
    }
    if (primary.dialect === "1.0") {
      fallback = usable.find((e) => e.dialect === "0.3") ?? { dialect: "0.3", url: primary.url };
    }
  } else {
    const url = jsonRpcUrlOfV03(raw);
    if (typeof url !== "string") return fail(url.error);
    primary = { dialect: "0.3", url: resolveUrl(url, options.baseUrl) };
  }

  const capabilities = isRecord(raw["capabilities"]) ? raw["capabilities"] : {};
  const skillTags: string[] = [];
  if (Array.isArray(raw["skills"])) {
    for (const skill of raw["skills"]) {
      if (!isRecord(skill) || !Array.isArray(skill["tags"])) continue;
      for (const tag of skill["tags"]) if (typeof tag === "string") skillTags.push(tag);
    }
  }
  return {
    ok: true,
    card: {
      name,
      description: typeof raw["description"] === "string" ? raw["description"] : "",
      streaming: capabilities["streaming"] === true,
      pushNotifications: capabilities["pushNotifications"] === true,
      skillTags,
      primary,
      fallback,
      raw,
    },
  };
}

/** v0.3: `url` serves `preferredTransport` (JSON-RPC when absent); else look in additionalInterfaces. */
function jsonRpcUrlOfV03(card: Record<string, unknown>): string | { error: string } {
  const preferred = card["preferredTransport"];
  if (preferred === undefined || isJsonRpc(preferred)) {
    return typeof card["url"] === "string" && card["url"] !== ""
      ? card["url"]
      : { error: `no "url"` };
  }
  const extra = Array.isArray(card["additionalInterfaces"]) ? card["additionalInterfaces"] : [];
  for (const entry of extra) {
    if (isRecord(entry) && isJsonRpc(entry["transport"]) && typeof entry["url"] === "string") {
      return entry["url"];
    }
  }
  return { error: `no JSON-RPC interface (preferred transport ${String(preferred)})` };
}

/** The relay's `capabilities`: `"streaming"`, `"push_notifications"`, then every skill tag. */
export function syncCapabilities(card: CardInfo): string[] {
  const out: string[] = [];
  if (card.streaming) out.push("streaming");
  if (card.pushNotifications) out.push("push_notifications");
  out.push(...card.skillTags);
  return out;
}
