// The direction of imports between the folders of src/ (issue 11):
//   cli → daemon → hub → {relay, agents} → outbox → a2a → {async, wire}
// with devrelay and sdk importing only wire and the shared leaves, and outbox (storage) only
// wire and async: it declares the interfaces it serves (PublishQueue, TurnLedger,
// EventIdStore, the response_seq store) and the relay and the hub import them from it. Computed from the real
// import graph (import-graph.ts). Today's code breaks the rule in known places, listed below
// with the reason each is still there; the list is emptied by the restructuring steps. Any
// other edge against the rule fails this test, and so does a listed edge that is gone (then
// delete it from the list).
import { globSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { importsOf, REPO_ROOT } from "./import-graph.ts";

/** The rule, as data. A module is a folder of src/ (a file directly in src/ is "index"). */
const IMPORT_RULE = {
  /**
   * Top to bottom. A module may import modules of any lower tier, never a higher tier and
   * never another module of its own tier.
   */
  tiers: [
    ["index", "cli"],
    // The running hub process: its parts started in order and closed in reverse.
    ["daemon"],
    // What the daemon starts to serve the hub from outside (control socket, metrics, inspector,
    // service files); the development relay and the SDK are separate programs the CLI can start.
    ["control", "metrics", "inspector", "service", "devrelay", "sdk"],
    ["hub"],
    ["relay", "agents"],
    // Storage: where unsent events, accepted turns, the last event id and the response_seq
    // mark are kept (memory or outbox.sqlite). It runs no turn and calls no relay.
    ["outbox"],
    // The privacy guard and the observer seam (what the hub's parts tell the inspector).
    ["privacy", "observe"],
    ["a2a"],
    ["async", "wire", "config"],
  ],
  /** Shared leaves: any module may import them; they import only each other. */
  // validation: the valibot pieces every parser of JSON shares (objects, messages, paths).
  leaves: ["log", "system", "validation"],
  /** Modules held to a shorter list than their tier allows (leaves always allowed). */
  only: {
    devrelay: ["wire"],
    sdk: ["wire"],
    outbox: ["wire", "async"],
  } as Record<string, string[]>,
  /** Lower modules a module may not reach past the layer between them. */
  forbidden: {
    // The CLI parses arguments and prints; the daemon layer assembles the hub's parts.
    cli: ["hub", "relay", "agents", "outbox", "a2a"],
  } as Record<string, string[]>,
};

/** Edges against the rule in today's code: `from -> to` (repo paths) and why it is still there. */
const KNOWN_VIOLATIONS: Record<string, string> = {};

function tierOf(module: string): number {
  return IMPORT_RULE.tiers.findIndex((tier) => tier.includes(module));
}

/** Why `from` may not import `to` (modules), or null when it may. */
function ruleBreak(from: string, to: string): string | null {
  if (from === to) return null;
  const leaves = IMPORT_RULE.leaves;
  if (leaves.includes(from)) {
    return leaves.includes(to)
      ? null
      : `the shared leaf ${from} may import only ${leaves.join(", ")}`;
  }
  if (leaves.includes(to)) return null;
  const only = IMPORT_RULE.only[from];
  if (only && !only.includes(to))
    return `${from} may import only ${[...only, ...leaves].join(", ")}`;
  if (IMPORT_RULE.forbidden[from]?.includes(to)) return `${from} may not import ${to} directly`;
  const a = tierOf(from);
  const b = tierOf(to);
  if (a < 0) return `${from} is not placed in the rule (add it to a tier)`;
  if (b < 0) return `${to} is not placed in the rule (add it to a tier)`;
  if (a === b) return `${from} and ${to} are in the same tier`;
  if (a > b) return `${to} is above ${from}`;
  return null;
}

function moduleOf(repoPath: string): string {
  const parts = repoPath.split("/");
  return parts.length > 2 ? (parts[1] as string) : "index";
}

/** Every edge between src/ files that breaks the rule: `from -> to` with the reason. */
function violations(): Map<string, string> {
  const found = new Map<string, string>();
  const files = globSync("src/**/*.ts", { cwd: REPO_ROOT }).sort();
  for (const file of files) {
    for (const target of importsOf(file)) {
      if (!target.startsWith("src/")) continue;
      const why = ruleBreak(moduleOf(file), moduleOf(target));
      if (why) found.set(`${file} -> ${target}`, why);
    }
  }
  return found;
}

describe("import direction", () => {
  const found = violations();

  it("has no edge against the rule beyond the known ones", () => {
    const lines = [...found].map(([edge, why]) => `${edge}  (${why})`);
    console.log(
      `import-direction: ${found.size} edge(s) against the rule:\n  ${lines.join("\n  ")}`,
    );
    const fresh = [...found.keys()].filter((edge) => !(edge in KNOWN_VIOLATIONS));
    expect(
      fresh.map((edge) => `${edge}: ${found.get(edge)}`),
      "new imports against the direction cli → daemon → hub → {relay, agents, outbox} → a2a → {async, wire}",
    ).toEqual([]);
  });

  it("lists no known violation that is already gone (delete it from KNOWN_VIOLATIONS)", () => {
    expect(Object.keys(KNOWN_VIOLATIONS).filter((edge) => !found.has(edge))).toEqual([]);
  });

  it("reads dynamic import() and type-only imports as edges", () => {
    expect(importsOf("src/cli/dev.ts")).toContain("src/daemon/daemon.ts"); // await import("…")
    expect(REPO_ROOT).toMatch(/\S/);
  });

  it("judges edges by the rule", () => {
    expect(ruleBreak("cli", "daemon")).toBeNull();
    expect(ruleBreak("hub", "relay")).toBeNull();
    expect(ruleBreak("agents", "a2a")).toBeNull();
    expect(ruleBreak("a2a", "wire")).toBeNull();
    expect(ruleBreak("devrelay", "log")).toBeNull();
    expect(ruleBreak("a2a", "agents")).toMatch(/above/);
    expect(ruleBreak("relay", "agents")).toMatch(/same tier/);
    expect(ruleBreak("relay", "outbox")).toBeNull();
    expect(ruleBreak("hub", "outbox")).toBeNull();
    expect(ruleBreak("outbox", "relay")).toMatch(/only wire, async, log, system/);
    expect(ruleBreak("outbox", "hub")).toMatch(/only wire, async, log, system/);
    expect(ruleBreak("outbox", "a2a")).toMatch(/only wire, async, log, system/);
    expect(ruleBreak("outbox", "wire")).toBeNull();
    expect(ruleBreak("devrelay", "hub")).toMatch(/only wire, log, system/);
    expect(ruleBreak("cli", "hub")).toMatch(/directly/);
    expect(ruleBreak("log", "wire")).toMatch(/shared leaf/);
    expect(ruleBreak("newthing", "wire")).toMatch(/not placed/);
  });
});
