import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentTransport } from "../../src/a2a/transport.ts";
import type { AgentEntryOfKind } from "../../src/agents/config.ts";
import { Registry } from "../../src/agents/registry.ts";
import type { RegistrySettings } from "../../src/agents/registry-settings.ts";
import { localAgentIdForCommand, localAgentIdForUrl } from "../../src/wire/agent-id.ts";
import { syncEntryProblem } from "../../src/wire/sync-card.ts";
import { type CardServer, startCardServer, v03Card, waitFor } from "./card-server.ts";

const FAST: Partial<RegistrySettings> = {
  healthCheckIntervalMs: 100,
  reprobeIntervalMs: 100,
  unreachableRecheckMs: 50,
  httpProbeTimeoutMs: 2_000,
  removeGraceMs: 50,
  debounceMs: 30,
  discoveryIntervalMs: 200,
};

interface Line {
  level: number;
  msg: string;
}

describe("Registry", () => {
  let dir: string;
  let file: string;
  let registry: Registry | null;
  let servers: CardServer[];
  let lines: Line[];
  let changes: number;

  const server = async (card: CardServer["setCard"] extends (c: infer C) => void ? C : never) => {
    const s = await startCardServer({ card });
    servers.push(s);
    return s;
  };
  const writeAgents = (value: unknown) => writeFileSync(file, JSON.stringify(value, null, 2));
  const start = async (
    settings: Partial<RegistrySettings> = {},
    transports?: ConstructorParameters<typeof Registry>[0]["transports"],
  ) => {
    const logger = pino({ level: "debug" }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const r = new Registry({
      agentsFile: file,
      logger,
      settings: { ...FAST, ...settings },
      ...(transports ? { transports } : {}),
    });
    registry = r;
    r.on("change", () => changes++);
    await r.start(new AbortController().signal);
    return r;
  };
  const logged = (pattern: RegExp) => lines.filter((l) => pattern.test(l.msg));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "hub-registry-"));
    file = join(dir, "agents.json");
    registry = null;
    servers = [];
    lines = [];
    changes = 0;
  });
  afterEach(async () => {
    await registry?.close();
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts with the reachable agents and syncs exactly five fields each", async () => {
    const up = await server((base) => v03Card(base));
    const down = await server((base) => v03Card(base));
    await down.stop();
    writeAgents({
      agents: [
        { name: "Echo", url: up.url },
        { name: "Gone", url: down.url },
        { name: "Off", url: "http://127.0.0.1:9", enabled: false },
      ],
    });
    const r = await start();
    expect(r.list().map((a) => a.name)).toEqual(["Echo"]);
    const id = localAgentIdForUrl(up.url);
    const agent = r.get(id);
    expect(agent).toMatchObject({
      localAgentId: id,
      name: "Echo", // the entry's name wins over the card's
      description: "echoes what it is told",
      kind: "http",
      origin: "config",
      streaming: true,
      maxConcurrency: 8,
      healthy: true,
      lastError: null,
    });
    expect(agent?.client.dialect).toBe("0.3");

    const payload = r.syncPayload();
    expect(payload).toHaveLength(1);
    expect(Object.keys(payload[0] ?? {}).sort()).toEqual([
      "agent_card",
      "capabilities",
      "description",
      "local_agent_id",
      "name",
    ]);
    expect(payload[0]).toEqual({
      local_agent_id: id,
      name: "Echo",
      description: "echoes what it is told",
      capabilities: ["streaming", "echo", "test", "test"],
      // Only what the relay needs of the card, under the entry's name and description.
      agent_card: {
        ...v03Card(up.url),
        name: "Echo",
        description: "echoes what it is told",
        url: `${up.url}/rpc`,
      },
    });

    expect(logged(/agent "Gone" not added: no agent card at .*agent-card\.json/)).toHaveLength(1);
    expect(r.status().map((s) => [s.name, s.state])).toEqual([
      ["Echo", "ready"],
      ["Gone", "unreachable"],
      ["Off", "disabled"],
    ]);
    // Start-up itself does not fire "change": the first sync sends the whole roster anyway.
    expect(changes).toBe(0);

    // The agent that was down comes up: re-probed and added.
    await down.start();
    await waitFor(() => r.get(localAgentIdForUrl(down.url)), "the late agent");
    expect(changes).toBeGreaterThan(0);
    expect(r.list().map((a) => a.name)).toEqual(["Echo", "Gone"]);
  });

  it("syncs only the card fields the relay needs: no header, token or environment value leaves", async () => {
    const secret = "s3cr3t-token-0123456789";
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an agents.json variable reference
    const SECRET_REF = "${HYBRO_TEST_CARD_SECRET}";
    process.env.HYBRO_TEST_CARD_SECRET = secret;
    try {
      const up = await server((base) =>
        v03Card(base, {
          url: `${base}/rpc?api_key=${secret}`,
          securitySchemes: {
            key: { type: "apiKey", in: "header", name: "X-Key", description: secret },
          },
          additionalInterfaces: [
            { url: `http://admin:${secret}@127.0.0.1:1/`, transport: "JSONRPC" },
          ],
          capabilities: { streaming: true, extensions: [{ uri: "x", params: { token: secret } }] },
          provider: { organization: "me", url: `http://internal/?t=${secret}` },
          signatures: [{ protected: secret, signature: secret }],
          metadata: { env: secret },
        }),
      );
      writeAgents({
        agents: [
          {
            name: "Private",
            url: up.url.replace("://", `://user:${SECRET_REF}@`),
            headers: { Authorization: `Bearer ${SECRET_REF}` },
          },
        ],
      });
      const r = await start();
      await waitFor(() => r.list()[0], "the agent");
      const payload = r.syncPayload();
      expect(JSON.stringify(payload)).not.toContain(secret);
      expect(JSON.stringify(payload)).not.toContain("admin");
      // The plain card's fields only: none of the extras the agent served.
      expect(payload[0]?.agent_card).toEqual(
        v03Card(up.url, {
          name: "Private",
          capabilities: { streaming: true, pushNotifications: false },
        }),
      );
      // …and the relay keeps it (its card validation passes).
      expect(syncEntryProblem(payload[0]!)).toBeNull();
    } finally {
      delete process.env.HYBRO_TEST_CARD_SECRET;
    }
  });

  it("syncs a v1.0 card (no top-level url) as a card the relay keeps", async () => {
    const up = await server((base) => ({
      name: "V1",
      description: "a v1.0 agent",
      version: "2.1.0",
      supportedInterfaces: [
        { url: `${base}/rpc`, protocolBinding: "JSONRPC", protocolVersion: "1.0" },
      ],
      capabilities: { streaming: false },
      defaultInputModes: ["text/plain"],
      defaultOutputModes: ["application/json"],
      skills: [{ id: "s", name: "S", description: "d", tags: ["t"] }, { description: "no name" }],
    }));
    writeAgents({ agents: [{ name: "V1", url: up.url }] });
    const r = await start();
    await waitFor(() => r.list()[0], "the agent");
    const [entry] = r.syncPayload();
    expect(syncEntryProblem(entry!)).toBeNull();
    expect(entry?.agent_card).toMatchObject({
      url: `${up.url}/rpc`,
      version: "2.1.0",
      defaultOutputModes: ["application/json"],
      skills: [{ id: "s", name: "S", description: "d", tags: ["t"] }],
    });
  });

  it("keeps RPC on the configured origin when the card names another host", async () => {
    const s = await server((base) =>
      v03Card(base, { url: `http://agent-container:${new URL(base).port}/a2a/rpc` }),
    );
    writeAgents({ agents: [{ name: "Boxed", url: s.url, streaming: false }] });
    const r = await start();
    const agent = r.get(localAgentIdForUrl(s.url));
    if (!agent) throw new Error("agent not added");
    expect(agent.streaming).toBe(false); // entry override wins over the card
    expect(r.syncPayload()[0]?.capabilities).toEqual(["echo", "test", "test"]);
    const reply = await agent.client.send(
      { role: "user", parts: [{ kind: "text", text: "hi" }] },
      { signal: AbortSignal.timeout(5_000) },
    );
    expect(JSON.stringify(reply)).toContain("echo: hi");
    expect(s.seen.filter((x) => x.method === "POST").map((x) => x.path)).toEqual(["/a2a/rpc"]);
    expect(
      logged(
        /card names another address; calling http:\/\/agent-container:\d+\/a2a\/rpc → http:\/\/127\.0\.0\.1:\d+\/a2a\/rpc/,
      ),
    ).toHaveLength(1);
  });

  it("marks a failing agent unhealthy, removes it after N failures, brings it back", async () => {
    const s = await server((base) => v03Card(base));
    writeAgents({ agents: [{ name: "Flaky", url: s.url }] });
    const r = await start({ unhealthyRemoveAfter: 3 });
    const id = localAgentIdForUrl(s.url);
    const agent = r.get(id);
    expect(agent?.healthy).toBe(true);

    await s.stop();
    await waitFor(() => agent?.healthy === false, "unhealthy");
    expect(r.get(id)).toBe(agent); // still in the roster (and the sync payload) while unhealthy
    expect(agent?.lastError).toMatch(/no agent card/);
    const before = changes;
    await waitFor(() => r.get(id) === undefined, "removal");
    expect(changes).toBeGreaterThan(before);
    expect(r.syncPayload()).toEqual([]);
    expect(logged(/agent "Flaky" removed from the roster after 3 failed checks/)).toHaveLength(1);
    expect(r.status()[0]).toMatchObject({ state: "unreachable" });

    await s.start();
    const back = await waitFor(() => r.get(id), "comeback");
    expect(back.healthy).toBe(true);
    expect(r.syncPayload().map((a) => a.name)).toEqual(["Flaky"]);
    expect(logged(/agent "Flaky" answers again: back in the roster/)).toHaveLength(1);
  });

  it("never removes an agent (or its process-mates) while turns run on it; checks count again after", async () => {
    // One server for two agents (two paths): while it is busy its card never comes.
    let hanging = false;
    const held: Array<() => void> = [];
    const busyServer = createServer((_req, res) => {
      if (hanging) {
        held.push(() => res.destroy());
        return;
      }
      const base = `http://127.0.0.1:${(busyServer.address() as AddressInfo).port}`;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(v03Card(base)));
    });
    await new Promise<void>((resolve) => busyServer.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(busyServer.address() as AddressInfo).port}`;
    try {
      writeAgents({
        agents: [
          { name: "Busy", url },
          { name: "Mate", url: `${url}/mate` },
        ],
      });
      let turns = 0;
      const logger = pino({ level: "debug" }, { write: (l: string) => lines.push(JSON.parse(l)) });
      const busyId = localAgentIdForUrl(url);
      const r = new Registry({
        agentsFile: file,
        logger,
        settings: { ...FAST, httpProbeTimeoutMs: 150, unhealthyRemoveAfter: 2 },
        turnsInFlight: (id) => (id === busyId ? turns : 0),
      });
      registry = r;
      await r.start(new AbortController().signal);
      expect(r.list().map((a) => a.name)).toEqual(["Busy", "Mate"]);
      turns = 1;
      hanging = true;
      // Many failed checks of each, none counted while the turn runs.
      await waitFor(
        () => logged(/card check of busy agent "Mate" failed/).length >= 4,
        "checks of the busy process's agents",
        15_000,
      );
      expect(logged(/card check of busy agent "Busy" failed/).length).toBeGreaterThanOrEqual(2);
      expect(r.list().map((a) => [a.name, a.healthy])).toEqual([
        ["Busy", true],
        ["Mate", true],
      ]);
      expect(logged(/removed from the roster/)).toEqual([]);
      // The turn ends; the agent still does not answer: now it leaves, as any silent agent does.
      turns = 0;
      await waitFor(() => r.list().length === 0, "removal once idle", 15_000);
    } finally {
      hanging = false;
      for (const release of held.splice(0)) release();
      busyServer.closeAllConnections();
      await new Promise<void>((resolve) => busyServer.close(() => resolve()));
    }
  });

  it("reportUnreachable marks it unhealthy at once and re-checks quickly", async () => {
    const s = await server((base) => v03Card(base));
    writeAgents({ agents: [{ name: "Dies", url: s.url }] });
    // Health rounds far apart: only the quick re-checks can remove it.
    const r = await start({ healthCheckIntervalMs: 60_000, reprobeIntervalMs: 60_000 });
    const id = localAgentIdForUrl(s.url);
    await s.stop();
    r.reportUnreachable(id);
    expect(r.get(id)?.healthy).toBe(false);
    await waitFor(() => r.get(id) === undefined, "removal by quick re-checks");

    // A live agent reported unreachable recovers on the first re-check.
    const t = await server((base) => v03Card(base));
    writeAgents({
      agents: [
        { name: "Dies", url: s.url },
        { name: "Lives", url: t.url },
      ],
    });
    const tid = localAgentIdForUrl(t.url);
    await waitFor(() => r.get(tid), "second agent");
    r.reportUnreachable(tid);
    expect(r.get(tid)?.healthy).toBe(false);
    await waitFor(() => r.get(tid)?.healthy, "recovery");
  });

  it("applies agents.json edits: add, rename in place, replace on change, remove, invalid", async () => {
    const a = await server((base) => v03Card(base, { name: "A card" }));
    const b = await server((base) => v03Card(base, { name: "B card" }));
    writeAgents({ agents: [{ name: "A", url: a.url }] });
    const r = await start();
    const aid = localAgentIdForUrl(a.url);
    const bid = localAgentIdForUrl(b.url);

    writeAgents({
      agents: [
        { name: "A", url: a.url },
        { name: "B", url: b.url },
      ],
    });
    await waitFor(() => r.get(bid), "B added");
    const aAgent = r.get(aid);

    // A name change updates in place (same transport); a header change replaces the transport.
    writeAgents({
      agents: [
        { name: "A renamed", url: a.url },
        { name: "B", url: b.url, headers: { "X-Agent-Token": "t0k3n-for-b" } },
      ],
    });
    await waitFor(() => r.get(aid)?.name === "A renamed", "rename");
    expect(r.get(aid)).toBe(aAgent);
    await waitFor(() => r.get(bid)?.entry.headers["X-Agent-Token"], "B replaced");
    expect(b.seen.some((x) => x.headers["x-agent-token"] === "t0k3n-for-b")).toBe(true);

    // An invalid edit keeps the roster.
    const before = changes;
    writeFileSync(file, '{ "agents": [ { "name": "A", "url": "http://x" }, ] }');
    await waitFor(() => logged(/keeping the previous 2 agents/).length === 1, "error line");
    expect(r.list().map((x) => x.name)).toEqual(["A renamed", "B"]);
    expect(changes).toBe(before);

    // Removal (and an entry that turns disabled).
    writeAgents({ agents: [{ name: "B", url: b.url, enabled: false }] });
    await waitFor(() => r.list().length === 0, "both removed");
    expect(logged(/agent "A renamed" removed from agents.json/)).toHaveLength(1);
    expect(logged(/agent "B" disabled in agents.json/)).toHaveLength(1);
    expect(r.status()).toEqual([expect.objectContaining({ name: "B", state: "disabled" })]);
  });

  it("uses an inline card when the agent serves none, and checks it answers", async () => {
    const s = await server(null);
    const card = v03Card(s.url, { name: "Inline" });
    writeAgents({
      agents: [
        { name: "With card", url: s.url, card },
        { name: "Without", url: s.url.replace("127.0.0.1", "localhost") + "/other" },
      ],
    });
    const r = await start();
    const id = localAgentIdForUrl(s.url);
    expect(r.list().map((x) => x.name)).toEqual(["With card"]);
    expect(r.get(id)?.card.raw).toEqual(card);
    expect(logged(/agent "Without" not added: no agent card/)).toHaveLength(1);
    // The liveness call reached the endpoint named by the inline card.
    expect(s.seen.some((x) => x.rpc === "tasks/get" && x.path === "/rpc")).toBe(true);

    await s.stop();
    await waitFor(() => r.get(id) === undefined, "inline-card agent removed when down");
  });

  it("makes transports through the injected factory, by kind", async () => {
    const made: string[] = [];
    const closed: string[] = [];
    const stdio = (entry: AgentEntryOfKind<"stdio">): AgentTransport => {
      made.push(entry.command);
      return {
        kind: "stdio",
        call: async () => null,
        stream: async function* () {},
        fetchCard: async () => null,
        close: async () => {
          closed.push(entry.command);
        },
      };
    };
    writeAgents({
      agents: [
        { name: "Notes", command: "node", args: ["notes.mjs"], a2a: "1.0", description: "notes" },
        { name: "Socket", url: "ws://127.0.0.1:9/a2a" },
      ],
    });
    // `ws: undefined` removes the default WebSocket maker: that kind is then unsupported.
    const r = await start({}, { stdio, ws: undefined });
    expect(made).toEqual(["node"]);
    const agent = r.get(localAgentIdForCommand("Notes"));
    expect(agent).toMatchObject({
      kind: "stdio",
      name: "Notes",
      description: "notes",
      streaming: false,
    });
    expect(agent?.client.dialect).toBe("1.0");
    expect(agent?.card.raw).toMatchObject({ name: "Notes", capabilities: { streaming: false } });
    expect(
      logged(/agent "Socket" not added: ws agents are not supported by this hub yet/),
    ).toHaveLength(1);
    await r.close();
    expect(closed).toEqual(["node"]);
  });

  it("runs a real stdio agent through the default factory", async () => {
    const script = fileURLToPath(new URL("../../examples/echo-stdio-agent.mjs", import.meta.url));
    writeAgents({
      agents: [{ name: "Stdio echo", command: process.execPath, args: [script], cwd: dir }],
    });
    const r = await start();
    const agent = r.get(localAgentIdForCommand("Stdio echo"));
    if (!agent) throw new Error(`not added: ${JSON.stringify(r.status())}`);
    expect(agent).toMatchObject({ kind: "stdio", name: "Stdio echo", healthy: true });
    expect(agent.card.raw["name"]).toBe("Echo (stdio)"); // the card from agent/getCard
    const reply = await agent.client.send(
      { role: "user", parts: [{ kind: "text", text: "over stdio" }] },
      { signal: AbortSignal.timeout(10_000) },
    );
    expect(JSON.stringify(reply)).toContain("echo: over stdio");
  });

  it("discovers agents on listening loopback ports, never over a configured entry", async () => {
    const configured = await server((base) => v03Card(base, { name: "Configured card" }));
    const free = await server((base) => v03Card(base, { name: "Found by discovery" }));
    const notAnAgent = await server(null);
    const switchedOff = await server((base) => v03Card(base, { name: "Disabled card" }));
    const ports = [configured.port, free.port, notAnAgent.port, switchedOff.port];
    writeAgents({
      agents: [
        { name: "Mine", url: configured.url },
        { name: "Off", url: switchedOff.url, enabled: false },
      ],
      autoDiscover: true,
      autoDiscoverPorts: ports.map((p) => `${p}-${p}`),
    });
    const r = await start();
    expect(r.list().map((a) => [a.name, a.origin])).toEqual([
      ["Mine", "config"],
      ["Found by discovery", "discovered"],
    ]);
    expect(r.get(localAgentIdForUrl(free.url))?.kind).toBe("http");
    // The configured agent's port is left to its entry; a port without a card is probed, not added.
    expect(logged(/discovered agent "Configured card"/)).toHaveLength(0);
    // A disabled entry's port is never probed: switching an agent off must not bring it back.
    expect(switchedOff.seen).toEqual([]);
    expect(notAnAgent.seen.some((x) => x.path === "/.well-known/agent-card.json")).toBe(true);

    // A discovered agent that goes away leaves the roster; turning discovery off drops the rest.
    await free.stop();
    await waitFor(() => r.get(localAgentIdForUrl(free.url)) === undefined, "discovered agent gone");
    await free.start();
    await waitFor(() => r.get(localAgentIdForUrl(free.url)), "rediscovered");
    writeAgents({
      agents: [
        { name: "Mine", url: configured.url },
        { name: "Off", url: switchedOff.url, enabled: false },
      ],
    });
    await waitFor(() => r.list().length === 1, "discovery off");
    expect(r.list()[0]?.name).toBe("Mine");
  });
});
