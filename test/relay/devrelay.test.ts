// The relay link against the project's development relay (the stand-in for hybro.ai).
import { afterEach, describe, expect, it } from "vitest";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { RelayLink } from "../../src/relay/relay-link.ts";
import type { PublishedEvent, RelayCommand, SyncAgent } from "../../src/wire/relay.ts";
import { capturingLogger, waitUntil } from "./scripted-server.ts";

const KEY = "hybro_devrelaylinktest0123456789abcdefghij";
const HUB = "9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f";
const AGENT: SyncAgent = {
  local_agent_id: "0a1b2c3d4e5f",
  name: "Echo",
  description: "echoes",
  capabilities: ["streaming"],
  agent_card: {
    name: "Echo",
    description: "echoes",
    url: "http://localhost:9999",
    version: "1.0.0",
    capabilities: { streaming: true },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [],
  },
};

let relay: DevRelay | null = null;
let link: RelayLink | null = null;

afterEach(async () => {
  await link?.close();
  await relay?.close();
  link = null;
  relay = null;
});

describe("RelayLink against the development relay", () => {
  it("registers, syncs, receives commands on the stream and publishes a turn in order", async () => {
    relay = await startDevRelay({ port: 0, memory: true, adminKey: KEY, sseHeartbeatMs: 50 });
    link = new RelayLink({
      gatewayUrl: relay.url,
      apiKey: () => KEY,
      keySource: "HYBRO_API_KEY",
      hubId: HUB,
      logger: silentLogger(),
      roster: () => [AGENT],
      env: {},
      settings: { streamReadTimeoutMs: 1000, heartbeatIntervalMs: 50 },
    });
    const commands: RelayCommand[] = [];
    let ready = 0;
    link.on("ready", () => {
      ready += 1;
    });
    await link.start((command) => commands.push(command), new AbortController().signal);
    expect(ready).toBe(1);
    expect(link.state().agentsSynced).toBe(1);
    await relay.waitForHubOnline(HUB);
    expect(
      relay
        .hubs()
        .find((hub) => hub.hubId === HUB)
        ?.agents.map((a) => a.local_agent_id),
    ).toEqual([AGENT.local_agent_id]);

    relay.sendCommand(HUB, {
      type: "user_message",
      room_id: "room_dev",
      local_agent_id: AGENT.local_agent_id,
      agent_message_id: "am_dev_1",
      user_message_id: "um_dev_1",
      message: {
        kind: "message",
        role: "user",
        messageId: "m1",
        parts: [{ kind: "text", text: "hi" }],
      },
    });
    await waitUntil(() => commands.some((c) => c.type === "user_message"), 5000, "user_message");
    await waitUntil(() => commands.some((c) => c.type === "heartbeat"), 5000, "relay heartbeat");
    expect(link.state().lastEventId).not.toBeNull();

    const turn: PublishedEvent[] = [
      {
        type: "task_submitted",
        agent_message_id: "am_dev_1",
        data: { task_id: "t1", agent_name: "Echo" },
      },
      ...Array.from(
        { length: 20 },
        (_, i): PublishedEvent => ({
          type: "artifact_update",
          agent_message_id: "am_dev_1",
          data: {
            artifacts: [{ artifactId: "a", parts: [{ kind: "text", text: `w${i} ` }] }],
            append: i > 0,
            last_chunk: false,
            task_id: "t1",
          },
        }),
      ),
      {
        type: "agent_response",
        agent_message_id: "am_dev_1",
        data: { content: "done", agent_id: AGENT.local_agent_id, task_id: "t1" },
      },
      {
        type: "processing_status",
        agent_message_id: "am_dev_1",
        data: { status: "completed", user_message_id: "um_dev_1", task_id: "t1" },
      },
    ];
    const finished = relay.waitForTurn("am_dev_1");
    for (const event of turn) link.publish("room_dev", [event]);
    const events = await finished;
    expect(events.map((e) => e.type)).toEqual(turn.map((e) => e.type));
    expect(await link.flush(5000)).toBe(true);
    expect(link.state().publish.dropped).toBe(0);

    const status = await link.client.status();
    expect(status.hubs.find((hub) => hub.hub_id === HUB)?.is_online).toBe(true);
  });

  it("survives a relay restart that forgot the hub: reconnects, registers again, gets commands", async () => {
    relay = await startDevRelay({ port: 0, memory: true, adminKey: KEY, sseHeartbeatMs: 50 });
    const port = relay.port;
    link = new RelayLink({
      gatewayUrl: relay.url,
      apiKey: () => KEY,
      keySource: "HYBRO_API_KEY",
      hubId: HUB,
      logger: silentLogger(),
      roster: () => [AGENT],
      env: {},
      settings: { streamReadTimeoutMs: 1000, reconnectBaseDelayMs: 20, reconnectMaxDelayMs: 100 },
    });
    const commands: RelayCommand[] = [];
    await link.start((command) => commands.push(command), new AbortController().signal);
    await relay.close();
    await waitUntil(() => link!.state().connection === "backoff", 5000, "link notices the outage");

    relay = await startDevRelay({ port, memory: true, adminKey: KEY, sseHeartbeatMs: 50 });
    // The new relay knows nothing: the hub must register and sync again on its own.
    await waitUntil(
      () => relay!.hubs().some((hub) => hub.hubId === HUB && hub.agents.length === 1),
      5000,
      "registered and synced again",
    );
    await relay.waitForHubOnline(HUB);
    relay.sendCommand(HUB, {
      type: "cancel_task",
      local_agent_id: AGENT.local_agent_id,
      task_id: "t9",
    });
    await waitUntil(
      () => commands.some((c) => c.type === "cancel_task"),
      5000,
      "command after restart",
    );
    expect(link.state().reconnects).toBeGreaterThan(0);
    expect(commands.filter((c) => c.type === "connection_ready").length).toBeGreaterThanOrEqual(2);
  });

  it("shows an agent the relay did not keep, with the reason, logged once across re-syncs", async () => {
    relay = await startDevRelay({ port: 0, memory: true, adminKey: KEY, sseHeartbeatMs: 50 });
    const { version: _, ...noVersion } = AGENT.agent_card;
    let broken: SyncAgent = {
      ...AGENT,
      local_agent_id: "bbbbbbbbbbbb",
      name: "Broken",
      agent_card: { ...noVersion, name: "Broken" },
    };
    const logs = capturingLogger();
    link = new RelayLink({
      gatewayUrl: relay.url,
      apiKey: () => KEY,
      keySource: "HYBRO_API_KEY",
      hubId: HUB,
      logger: logs.logger,
      roster: () => [AGENT, broken],
      env: {},
      settings: { streamReadTimeoutMs: 1000, syncDebounceMs: 5 },
    });
    const syncs: number[] = [];
    link.on("synced", (kept) => syncs.push(kept));
    await link.start(() => undefined, new AbortController().signal);
    const l = link;
    await waitUntil(() => syncs.length >= 1, 5000, "a sync");
    expect(l.state().notKept).toEqual([
      {
        localAgentId: "bbbbbbbbbbbb",
        name: "Broken",
        reason: 'the relay left it out of its sync answer: its card has no "version" string',
      },
    ]);
    expect(l.notKeptReason(AGENT.local_agent_id)).toBeNull();
    for (let i = 0; i < 3; i++) {
      const before = syncs.length;
      l.requestSync(true);
      await waitUntil(() => syncs.length > before, 5000, "a forced re-sync");
    }
    const warned = () =>
      logs.lines().filter((line) => String(line.msg).includes('agent "Broken" is not available'));
    expect(warned()).toHaveLength(1);
    // Fixed: kept again, said once.
    broken = { ...broken, agent_card: { ...AGENT.agent_card, name: "Broken" } };
    l.requestSync();
    await waitUntil(() => l.state().notKept.length === 0, 5000, "the sync of the fixed card");
    expect(logs.lines().map((line) => line.msg)).toContain(
      'agent "Broken" is kept by the relay again',
    );
    expect(warned()).toHaveLength(1);
  });

  it("an unknown key is fatal against the development relay", async () => {
    relay = await startDevRelay({ port: 0, memory: true, adminKey: KEY });
    link = new RelayLink({
      gatewayUrl: relay.url,
      apiKey: () => "hybro_notarealkey000000000000000000000000",
      keySource: "--api-key",
      hubId: HUB,
      logger: silentLogger(),
      roster: () => [AGENT],
      env: {},
    });
    const fatal = new Promise<Error>((resolve) => link!.once("fatal", resolve));
    await link.start(() => undefined, new AbortController().signal);
    const error = await fatal;
    expect(error.message).toContain("--api-key");
    expect(error.message).not.toContain("hybro_notarealkey");
  });
});
