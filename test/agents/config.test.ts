// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings test ${VAR} expansion
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadAgentsFile, parseAgentsFile } from "../../src/agents/config.ts";
import { expandHome, expandString } from "../../src/agents/env-expand.ts";
import { firstErrorOffset } from "../../src/agents/json-position.ts";
import { localAgentIdForCommand, localAgentIdForUrl } from "../../src/wire/agent-id.ts";

const env = { TOKEN: "s3cret", EMPTY: "", PORT: "9001" };
const parse = (value: unknown) =>
  parseAgentsFile(
    typeof value === "string" ? value : JSON.stringify(value, null, 2),
    "agents.json",
    {
      env,
      home: "/home/me",
    },
  );
const ok = (value: unknown) => {
  const result = parse(value);
  if (!result.ok) throw new Error(`expected a config, got: ${result.error}`);
  return result;
};
const error = (value: unknown) => {
  const result = parse(value);
  if (result.ok) throw new Error("expected an error");
  return result.error;
};

describe("parseAgentsFile: the three forms", () => {
  it("reads http, stdio and ws entries with defaults and derived ids", () => {
    const { config, warnings } = ok({
      agents: [
        { name: "Echo", url: "http://127.0.0.1:9001/" },
        {
          name: "Notes CLI",
          command: "node",
          args: ["notes-agent.mjs", "~/not-expanded"],
          cwd: "~/agents",
          env: { NOTES_DIR: "~/notes" },
        },
        { name: "Socket agent", url: "wss://127.0.0.1:9002/a2a", a2a: "1.0", enabled: false },
      ],
    });
    expect(warnings).toEqual([]);
    const [http, stdio, ws] = config.agents;
    expect(http).toEqual({
      kind: "http",
      name: "Echo",
      url: "http://127.0.0.1:9001/",
      localAgentId: localAgentIdForUrl("http://127.0.0.1:9001/"),
      headers: {},
      maxConcurrency: 8,
      enabled: true,
    });
    expect(http?.localAgentId).toBe("84d8cd1c8050");
    expect(stdio).toMatchObject({
      kind: "stdio",
      command: "node",
      args: ["notes-agent.mjs", "~/not-expanded"],
      cwd: "/home/me/agents",
      env: { NOTES_DIR: "/home/me/notes" },
      localAgentId: localAgentIdForCommand("Notes CLI"),
    });
    expect(ws).toMatchObject({ kind: "ws", a2a: "1.0", enabled: false });
    expect(config.autoDiscover).toBe(false);
    expect(config.autoDiscoverPorts).toBeNull();
  });

  it("keeps the id from the entry and every optional field", () => {
    const { config } = ok({
      $schema: "./agents.schema.json",
      agents: [
        {
          name: "Full",
          id: "my-agent",
          url: "https://agents.example:8443/a",
          description: "d",
          card: { name: "Inline" },
          cardUrl: "https://agents.example:8443/card.json",
          headers: { Authorization: "Bearer x" },
          streaming: false,
          maxConcurrency: 2,
          maxQueued: 16,
          timeoutMs: 1000,
        },
      ],
      autoDiscover: true,
      autoDiscoverPorts: [8000, 8100],
      autoDiscoverExcludePorts: [8080],
    });
    expect(config.agents[0]).toMatchObject({
      localAgentId: "my-agent",
      id: "my-agent",
      card: { name: "Inline" },
      streaming: false,
      maxConcurrency: 2,
      maxQueued: 16,
      timeoutMs: 1000,
    });
    expect(config.autoDiscoverPorts).toEqual([{ from: 8000, to: 8100 }]);
    expect(config.autoDiscoverExcludePorts).toEqual([8080]);
  });

  it("reads a port list with single ports and ranges", () => {
    const { config } = ok({ agents: [], autoDiscoverPorts: [3000, "8000-8010", 9999] });
    expect(config.autoDiscoverPorts).toEqual([
      { from: 3000, to: 3000 },
      { from: 8000, to: 8010 },
      { from: 9999, to: 9999 },
    ]);
    expect(error({ agents: [], autoDiscoverPorts: [9000, 8000] })).toContain(
      "autoDiscoverPorts has an invalid range 9000-8000",
    );
  });

  it("treats a missing agents list and a BOM as fine", () => {
    expect(ok("\ufeff{}").config.agents).toEqual([]);
  });
});

describe("parseAgentsFile: errors name the place and the problem", () => {
  it("bad JSON → file:line:column", () => {
    expect(error('{\n  "agents": [\n    { "name": "x" ]\n}')).toBe(
      "agents.json:3:19: invalid JSON: Expected ',' or '}' after property value",
    );
    // V8 gives no position for this one; we find it ourselves.
    expect(error('{\n  "agents": [\n    { "name": tru }\n  ]\n}')).toBe(
      "agents.json:3:18: invalid JSON: Unexpected token ' '",
    );
    expect(error('{"agents": [')).toMatch(/^agents\.json:1:13: invalid JSON: /);
    expect(error("")).toBe('agents.json: the file is empty (write {"agents": []} for none)');
    expect(error("[]")).toContain("the top level must be an object");
  });

  it("unknown transport", () => {
    expect(error({ agents: [{ name: "Mail", url: "smtp://localhost:25" }] })).toBe(
      'agents.json: agents[0] ("Mail").url uses an unknown transport "smtp" (use http(s):// for an A2A HTTP agent, ws(s):// for a WebSocket agent, or "command" for a stdio agent)',
    );
    expect(error({ agents: [{ name: "X", url: "not a url" }] })).toContain(
      'agents[0] ("X").url is not a valid URL',
    );
    expect(error({ agents: [{ name: "X" }] })).toBe(
      'agents.json: agents[0] ("X") needs "url" (http(s):// or ws(s)://) or "command" (a program spoken to over stdio)',
    );
    expect(error({ agents: [{ name: "X", url: "http://a", command: "b" }] })).toContain(
      'has both "url" and "command"',
    );
  });

  it("missing or empty name", () => {
    expect(error({ agents: [{ name: "A", url: "http://a" }, { url: "http://b" }] })).toBe(
      "agents.json: agents[1].name is required",
    );
    expect(error({ agents: [{ name: "  ", url: "http://b" }] })).toBe(
      "agents.json: agents[0].name must not be empty",
    );
  });

  it("unknown keys, with a suggestion", () => {
    expect(error({ agents: [{ name: "Echo", url: "http://a", heders: {} }] })).toBe(
      'agents.json: agents[0] ("Echo") has an unknown key "heders" (did you mean "headers"?)',
    );
    expect(error({ agents: [], autoDiscovery: true })).toBe(
      'agents.json: the file has an unknown key "autoDiscovery" (did you mean "autoDiscover"?)',
    );
  });

  it("wrong types and ranges name the field", () => {
    expect(
      error({ agents: [{ name: "Notes CLI", command: "node", args: "x.mjs", maxConcurrency: 0 }] }),
    ).toBe(
      'agents.json: agents[0] ("Notes CLI").args must be an array (got the string "x.mjs"); agents[0] ("Notes CLI").maxConcurrency must be at least 1',
    );
    expect(
      error({ agents: [{ name: "X", url: "http://a", headers: { "Bad Header": "v" } }] }),
    ).toContain('agents[0] ("X").headers["Bad Header"]');
    expect(error({ agents: [{ name: "X", command: "c", maxQueued: -1 }] })).toBe(
      'agents.json: agents[0] ("X").maxQueued must be 0 or more',
    );
    expect(error({ agents: [{ name: "X", command: "c", a2a: "2.0" }] })).toBe(
      'agents.json: agents[0] ("X").a2a must be "0.3" or "1.0"',
    );
    expect(error({ agents: [{ name: "X", url: "http://a", args: [] }] })).toBe(
      'agents.json: agents[0] ("X").args is only for stdio agents (given with "command")',
    );
    expect(error({ agents: [{ name: "X", command: "c", headers: {} }] })).toBe(
      'agents.json: agents[0] ("X").headers is only for HTTP and WebSocket agents (given with "url")',
    );
    expect(error({ agents: "nope" })).toBe(
      'agents.json: agents must be an array (got the string "nope")',
    );
  });

  it("a list is not an object, whole numbers stay safe, a card URL needs http(s)://", () => {
    expect(error({ agents: [[]] })).toBe("agents.json: agents[0] must be an object (got a list)");
    expect(error({ agents: [{ name: "X", url: "http://a", headers: [] }] })).toBe(
      'agents.json: agents[0] ("X").headers must be an object (got a list)',
    );
    expect(error({ agents: [{ name: "X", url: "http://a", timeoutMs: 1e300 }] })).toMatch(
      /^agents\.json: agents\[0\] \("X"\)\.timeoutMs .*9007199254740991$/,
    );
    expect(error({ agents: [{ name: "X", url: "http://a", cardUrl: "http:card.example" }] })).toBe(
      'agents.json: agents[0] ("X").cardUrl must be an http(s):// URL',
    );
    // A refused key is the problem, not its value too.
    expect(error({ agents: [{ name: "X", command: "c", env: { "1X": 5 } }] })).toBe(
      'agents.json: agents[0] ("X").env["1X"] has an invalid key',
    );
  });

  it("duplicate names and ids", () => {
    expect(
      error({
        agents: [
          { name: "A", url: "http://a" },
          { name: "A", url: "http://b" },
        ],
      }),
    ).toBe(
      'agents.json: agents[1] ("A").name repeats the name "A" of agents[0]; names must be unique',
    );
    expect(
      error({
        agents: [
          { name: "A", url: "http://127.0.0.1:9001" },
          { name: "B", url: "http://localhost:9001/" },
        ],
      }),
    ).toBe(
      `agents.json: agents[1] ("B") has the same local id ${localAgentIdForUrl("http://localhost:9001")} as agents[0] (same URL or name); give one of them its own "id"`,
    );
    expect(
      error({
        agents: [
          { name: "A", id: "x", url: "http://a" },
          { name: "B", id: "x", command: "b" },
        ],
      }),
    ).toBe('agents.json: agents[1] ("B").id repeats the id "x" of agents[0]');
  });

  it("reports several problems in one line, capped", () => {
    const many = { agents: Array.from({ length: 7 }, () => ({ url: "http://a" })) };
    const message = error(many);
    expect(message.split("; ")).toHaveLength(5);
    expect(message).toMatch(/\(and 2 more problems\)$/);
  });
});

describe("environment expansion", () => {
  it("expands ${NAME}, ${NAME:-default} and the $${ escape after parsing", () => {
    const { config, warnings } = ok({
      agents: [
        {
          name: "Echo ${PORT}",
          url: "http://127.0.0.1:${PORT}",
          headers: {
            Authorization: "Bearer ${TOKEN}",
            "X-Default": "${UNSET:-fallback}",
            "X-Empty": "${EMPTY:-used-when-empty}",
            "X-Literal": "$${TOKEN}",
            "X-Quote": '${UNSET:-a "quoted" value}',
          },
          card: { name: "${TOKEN}" },
        },
      ],
    });
    const [entry] = config.agents;
    expect(entry?.name).toBe("Echo 9001");
    expect(entry?.kind === "http" && entry.url).toBe("http://127.0.0.1:9001");
    expect(entry?.headers).toEqual({
      Authorization: "Bearer s3cret",
      "X-Default": "fallback",
      "X-Empty": "used-when-empty",
      "X-Literal": "${TOKEN}",
      "X-Quote": 'a "quoted" value',
    });
    // An inline card is served verbatim.
    expect(entry?.card).toEqual({ name: "${TOKEN}" });
    expect(warnings).toEqual([]);
  });

  it("warns about an unset variable without default and uses an empty string", () => {
    const { config, warnings } = ok({
      agents: [{ name: "X", url: "http://a", headers: { Authorization: "Bearer ${NOPE}" } }],
    });
    expect(config.agents[0]?.headers["Authorization"]).toBe("Bearer ");
    expect(warnings).toEqual([
      'agents.json: agents[0] ("X").headers.Authorization uses ${NOPE}, which is not set; using an empty string',
    ]);
  });

  it("rejects malformed references", () => {
    expect(error({ agents: [{ name: "X", url: "http://a/${1BAD}" }] })).toContain(
      'agents[0] ("X").url has "${1BAD}", which is not a variable reference',
    );
    expect(error({ agents: [{ name: "X", url: "http://a/${OPEN" }] })).toContain(
      'agents[0] ("X").url has "${" without a closing "}"',
    );
  });

  it("expandString and expandHome on their own", () => {
    const problems: string[] = [];
    const note = (m: string) => problems.push(m);
    expect(expandString("a${TOKEN}b$${X}c${NONE:-}d", env, note)).toBe("as3cretb${X}cd");
    expect(problems).toEqual([]);
    expect(expandHome("~", "/h")).toBe("/h");
    expect(expandHome("~/x", "/h/")).toBe("/h/x");
    expect(expandHome("~user/x", "/h")).toBe("~user/x");
    expect(expandHome("/abs", "/h")).toBe("/abs");
  });
});

describe("firstErrorOffset", () => {
  it("finds the first offending character", () => {
    expect(firstErrorOffset('{"a": 1}')).toBe(8);
    expect(firstErrorOffset('{"a": 01}')).toBe(7);
    expect(firstErrorOffset('{"a": "\\x"}')).toBe(8);
    expect(firstErrorOffset('{"a": [1, 2,]}')).toBe(12);
    expect(firstErrorOffset('{"a": nul}')).toBe(9);
  });
});

describe("loadAgentsFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "hub-agents-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a missing file is an empty roster, not an error", async () => {
    const result = await loadAgentsFile(join(dir, "nope.json"));
    expect(result).toMatchObject({ ok: true, missing: true, config: { agents: [] } });
  });

  it("names the real path in errors", async () => {
    const path = join(dir, "agents.json");
    writeFileSync(path, '{"agents": [}');
    const result = await loadAgentsFile(path);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBe(`${path}:1:13: invalid JSON: Unexpected token '}'`);
  });
});

describe("agents.example.json", () => {
  it("is valid and shows every form", async () => {
    const result = await loadAgentsFile(
      new URL("../../agents.example.json", import.meta.url).pathname,
      {
        env: {},
      },
    );
    if (!result.ok) throw new Error(result.error);
    expect(result.warnings).toEqual([]);
    // Only the stdio echo is on: it is the one agent that needs nothing else running.
    expect(result.config.agents.map((a) => [a.kind, a.enabled])).toEqual([
      ["stdio", true],
      ["http", false],
      ["ws", false],
    ]);
    expect(result.config.agents[1]?.headers["Authorization"]).toBe("Bearer dev-token");
  });
});
