// What a new agents.json means for the agents the registry tracks, as data: which leave, which
// are new, which change in place and which need a new transport. Pure; the registry applies it.

import type { AgentEntry, AgentsConfig } from "./config.ts";

export type AgentOrigin = "config" | "discovered";

/** What the diff needs to know of an agent the registry tracks now. */
export interface TrackedMember {
  readonly id: string;
  readonly origin: AgentOrigin;
  readonly entry: AgentEntry;
}

/** A wanted entry and its position in the roster (file order among enabled entries). */
interface PlacedEntry {
  entry: AgentEntry;
  order: number;
}

export interface RosterDiff {
  /** Configured agents no longer wanted, with why (logged as `agent "x" <why>`). */
  removed: Array<{ id: string; why: "removed from agents.json" | "disabled in agents.json" }>;
  /** Discovered agents an entry now configures: they leave quietly and come back as `added`. */
  nowConfigured: string[];
  /** Entries with nothing tracked under their id (or only a discovered agent): probe, then admit. */
  added: PlacedEntry[];
  /** Same transport, other name, description or limits: updated in place, the transport stays. */
  changed: PlacedEntry[];
  /** The same entry as before (its position may have moved). */
  unchanged: PlacedEntry[];
  /** Anything that reaches the agent changed: a new transport replaces the old one. */
  replaced: PlacedEntry[];
  /** Discovery: `start` (turned on: a round now), `stop` (turned off: discovered agents leave), `keep`. */
  discovery: "start" | "stop" | "keep";
}

/** Entry fields whose change keeps the transport (vs. fields that need a new one). */
const IN_PLACE_FIELDS: ReadonlySet<string> = new Set([
  "name",
  "description",
  "streaming",
  "maxConcurrency",
  "maxQueued",
  "timeoutMs",
]);

export function diffRoster(
  tracked: Iterable<TrackedMember>,
  previous: AgentsConfig,
  config: AgentsConfig,
): RosterDiff {
  const byId = new Map<string, TrackedMember>();
  for (const member of tracked) byId.set(member.id, member);
  const wanted = config.agents.filter((e) => e.enabled);
  const wantedIds = new Set(wanted.map((e) => e.localAgentId));
  const disabledIds = new Set(config.agents.filter((e) => !e.enabled).map((e) => e.localAgentId));

  const diff: RosterDiff = {
    removed: [],
    nowConfigured: [],
    added: [],
    changed: [],
    unchanged: [],
    replaced: [],
    discovery: !config.autoDiscover ? "stop" : previous.autoDiscover ? "keep" : "start",
  };
  for (const member of byId.values()) {
    if (member.origin !== "config" || wantedIds.has(member.id)) continue;
    const why = disabledIds.has(member.id) ? "disabled in agents.json" : "removed from agents.json";
    diff.removed.push({ id: member.id, why });
  }
  wanted.forEach((entry, order) => {
    const current = byId.get(entry.localAgentId);
    if (!current || current.origin === "discovered") {
      if (current) diff.nowConfigured.push(current.id);
      diff.added.push({ entry, order });
    } else if (stableJson(current.entry) === stableJson(entry)) {
      diff.unchanged.push({ entry, order });
    } else if (transportKey(current.entry) === transportKey(entry)) {
      diff.changed.push({ entry, order });
    } else {
      diff.replaced.push({ entry, order });
    }
  });
  return diff;
}

/** Everything of an entry that needs a new transport when it changes. */
export function transportKey(entry: AgentEntry): string {
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
