// The roster diff on made-up configs: no file, no agent, no transport.
import { describe, expect, it } from "vitest";
import type {
  AgentEntry,
  AgentsConfig,
  HttpAgentEntry,
  StdioAgentEntry,
} from "../../src/agents/config.ts";
import {
  diffRoster,
  type RosterDiff,
  stableJson,
  type TrackedMember,
  transportKey,
} from "../../src/agents/roster-diff.ts";

function http(id: string, extra: Partial<HttpAgentEntry> = {}): HttpAgentEntry {
  return {
    kind: "http",
    name: `agent ${id}`,
    localAgentId: id,
    url: `http://127.0.0.1:9${id.length}00/${id}`,
    headers: {},
    maxConcurrency: 8,
    enabled: true,
    ...extra,
  };
}

function stdio(id: string, extra: Partial<StdioAgentEntry> = {}): StdioAgentEntry {
  return {
    kind: "stdio",
    name: `agent ${id}`,
    localAgentId: id,
    command: "node",
    args: [`${id}.js`],
    env: {},
    headers: {},
    maxConcurrency: 8,
    enabled: true,
    ...extra,
  };
}

function config(agents: AgentEntry[], autoDiscover = false): AgentsConfig {
  return { agents, autoDiscover, autoDiscoverPorts: null, autoDiscoverExcludePorts: [] };
}

function configured(...entries: AgentEntry[]): TrackedMember[] {
  return entries.map((entry) => ({ id: entry.localAgentId, origin: "config", entry }));
}

const NONE = config([]);

/** The diff with entries reduced to `id@order`, for readable expectations. */
function brief(diff: RosterDiff) {
  const placed = (list: Array<{ entry: AgentEntry; order: number }>) =>
    list.map((p) => `${p.entry.localAgentId}@${p.order}`);
  return {
    removed: diff.removed.map((r) => `${r.id}: ${r.why}`),
    nowConfigured: diff.nowConfigured,
    added: placed(diff.added),
    changed: placed(diff.changed),
    unchanged: placed(diff.unchanged),
    replaced: placed(diff.replaced),
    discovery: diff.discovery,
  };
}

const EMPTY_BRIEF = {
  removed: [],
  nowConfigured: [],
  added: [],
  changed: [],
  unchanged: [],
  replaced: [],
  discovery: "stop",
};

describe("roster diff", () => {
  it("adds every enabled entry of a first config, in file order, skipping disabled ones", () => {
    const diff = diffRoster(
      [],
      NONE,
      config([http("a"), http("b", { enabled: false }), stdio("c")]),
    );
    // Order counts enabled entries only: the roster position of c is 1.
    expect(brief(diff)).toEqual({ ...EMPTY_BRIEF, added: ["a@0", "c@1"] });
  });

  it("tells a removed entry from a disabled one", () => {
    const a = http("a");
    const b = http("b");
    const diff = diffRoster(configured(a, b), config([a, b]), config([{ ...b, enabled: false }]));
    expect(brief(diff).removed).toEqual([
      "a: removed from agents.json",
      "b: disabled in agents.json",
    ]);
  });

  it("keeps the transport for a new name, description or limits, and replaces it otherwise", () => {
    const a = http("a");
    const b = stdio("b");
    const c = http("c");
    const d = http("d");
    const next = config([
      { ...a, name: "renamed", description: "new words", maxConcurrency: 2, timeoutMs: 5_000 },
      { ...b, args: ["other.js"] },
      { ...c, headers: { authorization: "Bearer x" } },
      d,
    ]);
    const diff = diffRoster(configured(a, b, c, d), config([a, b, c, d]), next);
    expect(brief(diff)).toEqual({
      ...EMPTY_BRIEF,
      changed: ["a@0"],
      replaced: ["b@1", "c@2"],
      unchanged: ["d@3"],
    });
    // The entries handed over are the new ones.
    expect(diff.changed[0]?.entry.name).toBe("renamed");
  });

  it("reads an entry moved in the file as unchanged at its new position", () => {
    const a = http("a");
    const b = http("b");
    const diff = diffRoster(configured(a, b), config([a, b]), config([b, a]));
    expect(brief(diff)).toEqual({ ...EMPTY_BRIEF, unchanged: ["b@0", "a@1"] });
  });

  it("compares entries by value, not by key order or object identity", () => {
    const a = http("a", { headers: { x: "1", y: "2" } });
    const copy = JSON.parse(JSON.stringify({ ...a, headers: { y: "2", x: "1" } })) as AgentEntry;
    expect(brief(diffRoster(configured(a), config([a]), config([copy]))).unchanged).toEqual([
      "a@0",
    ]);
    expect(transportKey(a)).toBe(transportKey(copy));
    expect(stableJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });

  it("hands a discovered agent over to the entry that now configures it", () => {
    const found = http("a", { name: "Agent@http://127.0.0.1:9100" });
    const entry = http("a", { name: "configured" });
    const diff = diffRoster(
      [{ id: "a", origin: "discovered", entry: found }],
      config([], true),
      config([entry], true),
    );
    expect(brief(diff)).toEqual({
      ...EMPTY_BRIEF,
      nowConfigured: ["a"],
      added: ["a@0"],
      discovery: "keep",
    });
  });

  it("never removes a discovered agent because agents.json does not list it", () => {
    const found = http("x");
    const diff = diffRoster(
      [{ id: "x", origin: "discovered", entry: found }],
      config([], true),
      config([], true),
    );
    expect(brief(diff)).toEqual({ ...EMPTY_BRIEF, discovery: "keep" });
  });

  it("starts discovery when it is turned on, stops it when off, keeps it otherwise", () => {
    expect(diffRoster([], config([]), config([], true)).discovery).toBe("start");
    expect(diffRoster([], config([], true), config([], true)).discovery).toBe("keep");
    expect(diffRoster([], config([], true), config([])).discovery).toBe("stop");
    expect(diffRoster([], config([]), config([])).discovery).toBe("stop");
  });
});
