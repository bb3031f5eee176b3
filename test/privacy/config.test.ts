// Where policies are written: agents.json's "privacy" (per agent name) and config.json's
// "privacy" (the hub default). Bad entries get one precise line; a hot reload with a broken
// policy keeps the last good config; saving the key keeps the privacy settings.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAgentsFile } from "../../src/agents/config.ts";
import { type AgentsConfigUpdate, AgentsFileWatcher } from "../../src/agents/watch.ts";
import { pollUntil } from "../../src/async/poll.ts";
import { readConfigFile, saveApiKey } from "../../src/config/config-file.ts";
import { agentPolicy, DEFAULT_HUB_PRIVACY, hubPrivacyOf } from "../../src/privacy/hub-privacy.ts";
import { fakeKey } from "./support.ts";

const agents = [
  { name: "Coder", url: "http://127.0.0.1:9101" },
  { name: "My Notes", command: "node", args: ["notes.mjs"] },
];
const parse = (privacy: unknown) =>
  parseAgentsFile(JSON.stringify({ agents, privacy }), "agents.json", { env: {}, home: "/h" });

describe("agents.json privacy", () => {
  it("keeps a policy per agent name", () => {
    const result = parse({ Coder: { secrets: "block" }, "My Notes": { personal: "redact" } });
    if (!result.ok) throw new Error(result.error);
    expect(result.config.privacy).toEqual({
      Coder: { secrets: "block" },
      "My Notes": { personal: "redact" },
    });
    const policy = agentPolicy(DEFAULT_HUB_PRIVACY, result.config, "Coder", null);
    expect(policy.actions.api_key).toBe("block");
    expect(agentPolicy(DEFAULT_HUB_PRIVACY, result.config, "Other", null).actions.api_key).toBe(
      "redact",
    );
  });

  it("names the entry: an unknown agent, a bad action, a bad pattern", () => {
    expect(parse({ Codr: { secrets: "block" } })).toEqual({
      ok: false,
      error:
        'agents.json: privacy.Codr names no agent in "agents" (did you mean "Coder"?); auto-discovered agents follow the hub-wide policy ("privacy" in config.json)',
    });
    expect(parse({ Coder: { email: "hide" } })).toEqual({
      ok: false,
      error:
        'agents.json: privacy.Coder.email must be one of "off", "log", "redact", "block" (got "hide")',
    });
    expect(parse({ "My Notes": { custom: [{ name: "c", patterns: ["(x"] }] } })).toEqual({
      ok: false,
      error:
        'agents.json: privacy["My Notes"].custom[0].patterns[0] "(x" is not a valid pattern: missing closing ): `(x`',
    });
    expect(parse({ Coder: "redact" })).toMatchObject({
      ok: false,
      error: 'agents.json: privacy.Coder must be an object (got "redact")',
    });
  });
});

describe("a hot reload with a broken policy", () => {
  let dir: string;
  let watcher: AgentsFileWatcher;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "hub-privacy-watch-"));
  });
  afterEach(async () => {
    await watcher?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the last good agents and policies, then takes the fixed file", async () => {
    const file = join(dir, "agents.json");
    const write = (privacy: unknown) => writeFileSync(file, JSON.stringify({ agents, privacy }));
    write({ Coder: { secrets: "block" } });
    watcher = new AgentsFileWatcher({
      path: file,
      settings: { debounceMs: 30, pollIntervalMs: 50 },
    });
    const updates: AgentsConfigUpdate[] = [];
    const invalid: string[] = [];
    watcher.on("config", (u) => updates.push(u));
    watcher.on("invalid", (e) => invalid.push(e));
    await watcher.start();
    expect(watcher.current.privacy).toEqual({ Coder: { secrets: "block" } });

    write({ Coder: { secrets: "block", custom: [{ name: "c", patterns: ["[unclosed"] }] } });
    await waitFor(() => invalid.length === 1);
    expect(invalid[0]).toContain(
      'privacy.Coder.custom[0].patterns[0] "[unclosed" is not a valid pattern',
    );
    expect(watcher.current.privacy).toEqual({ Coder: { secrets: "block" } });
    expect(watcher.current.agents.map((a) => a.name)).toEqual(["Coder", "My Notes"]);
    expect(updates).toHaveLength(0);

    write({ Coder: { secrets: "log" } });
    await waitFor(() => updates.length === 1);
    expect(watcher.current.privacy).toEqual({ Coder: { secrets: "log" } });
  });
});

describe("config.json privacy", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "hub-privacy-config-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is read with the file and kept when the key is saved", () => {
    const file = join(dir, "config.json");
    const privacy = { personal: "redact", sensitive_keywords: ["medical"] };
    writeFileSync(file, JSON.stringify({ privacy }), { mode: 0o600 });
    saveApiKey(file, fakeKey("hybro_", 32));
    expect(JSON.parse(readFileSync(file, "utf8")).privacy).toEqual(privacy);
    const read = readConfigFile(file);
    if (!read.ok) throw new Error(read.error);
    const hub = hubPrivacyOf(read.config, file);
    expect(hub).toMatchObject({ ok: true, privacy: { incoming: { keywords: ["medical"] } } });
  });

  it("a privacy value that is not an object is an error of the file", () => {
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ privacy: "strict" }), { mode: 0o600 });
    const read = readConfigFile(file);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.error).toMatch(/config\.json: privacy: /);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  if (!(await pollUntil(condition, 10_000, 20))) throw new Error("condition not met within 10 s");
}

describe("the README's privacy examples", () => {
  it("are valid settings", async () => {
    const { readmeBlocks } = await import("../ops/readme.ts");
    const [hubJson, agentsJson] = readmeBlocks("## The privacy guard");
    const hub = hubPrivacyOf(JSON.parse(hubJson ?? ""), "config.json");
    expect(hub.ok).toBe(true);
    const parsed = parseAgentsFile(agentsJson ?? "", "agents.json", { env: {}, home: "/h" });
    expect(parsed.ok ? parsed.config.privacy : parsed.error).toMatchObject({
      Coder: { secrets: "block" },
    });
  });
});
