// The outbox wired into the real HubDaemon (in-process, development relay, real agent), across a
// stop and a new start on the same data directory.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HubDaemon } from "../../src/daemon/daemon.ts";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { openOutbox } from "../../src/outbox/outbox.ts";
import { localAgentIdForUrl } from "../../src/wire/agent-id.ts";
import { startHubInProcess, turnCommand } from "../faults/harness.ts";
import { connectTestClient, startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { roomOf } from "../support/events.ts";

describe("hub daemon with a durable outbox", () => {
  let dir: string;
  let relay: DevRelay;
  let agent: TestAgent;
  let key: string;
  let agentsFile: string;
  const daemons: HubDaemon[] = [];
  const hubId = "0123456789abcdef0123456789abcdef";

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "hybro-outbox-daemon-"));
    relay = await startDevRelay({ port: 0, memory: true, sseHeartbeatMs: 500 });
    key = relay.createKey({ userId: "alice", name: "hub", scopes: ["*"] }).key;
    agent = await startTestAgent({
      dialect: "1.0",
      streaming: true,
      behaviour: "echo",
      name: "Echo",
    });
    agentsFile = join(dir, "agents.json");
    writeFileSync(agentsFile, JSON.stringify({ agents: [{ name: "Echo", url: agent.url }] }));
  });
  afterEach(async () => {
    for (const daemon of daemons.splice(0)) await daemon.stop({ graceMs: 0, flushTimeoutMs: 500 });
    await relay.close();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    const daemon = await startHubInProcess({
      gatewayUrl: relay.url,
      agentsFile,
      key,
      hubId,
      dataDir: join(dir, "data"),
    });
    daemons.push(daemon);
    return daemon;
  };

  it("does not run a turn again that the relay delivers after a restart, and resumes after the last handled command", async () => {
    const first = await start();
    const localAgentId = localAgentIdForUrl(agent.url);
    const once = turnCommand(localAgentId, 1, "only once");
    const id = relay.sendCommand(hubId, once);
    await relay.waitForTurn(once.agent_message_id);
    const events = relay.eventsFor(once.agent_message_id).length;
    await first.stop({ graceMs: 1_000, flushTimeoutMs: 1_000 });

    const connected = relay.waitFor("hubConnected", (info) => info.hubId === hubId);
    await start();
    // The new run asked the relay to resume after the last command the old run handled.
    expect((await connected)[0].lastEventId).toBe(id);
    relay.sendCommand(hubId, once); // delivered again (a relay retry)
    const next = turnCommand(localAgentId, 2, "after it");
    relay.sendCommand(hubId, next);
    await relay.waitForTurn(next.agent_message_id); // the stream is in order: the repeat was seen
    expect(agent.received).toHaveLength(2);
    expect(relay.eventsFor(once.agent_message_id)).toHaveLength(events);
  });

  it("answers, at start, the turns an earlier run accepted and never finished", async () => {
    const localAgentId = localAgentIdForUrl(agent.url);
    const { client, transport } = await connectTestClient(agent);
    const task = await client.send(
      { kind: "message", role: "user", messageId: "m-1", parts: [{ kind: "text", text: "hi" }] },
      { signal: AbortSignal.timeout(5_000) },
    );
    await transport.close();
    // What a killed hub leaves behind: two accepted turns, no terminal group queued.
    const earlier = openOutbox({ dir: join(dir, "data"), logger: silentLogger() });
    // The relay routed both to this hub before it was killed (and delivers them again, which
    // the hub must recognise as turns it already accepted).
    relay.roster.register(hubId, "alice", new Date().toISOString());
    for (const [amid, room, umid] of [
      ["finished-at-agent", "room-1", "u-1"],
      ["never-reached-agent", "room-2", "u-2"],
    ] as const) {
      relay.sendCommand(hubId, {
        type: "user_message",
        room_id: room,
        local_agent_id: localAgentId,
        agent_message_id: amid,
        user_message_id: umid,
        message: {
          kind: "message",
          role: "user",
          messageId: amid,
          parts: [{ kind: "text", text: "x" }],
        },
      });
    }
    earlier.acceptedTurns.accept({
      agentMessageId: "finished-at-agent",
      roomId: "room-1",
      localAgentId,
      userMessageId: "u-1",
    });
    earlier.acceptedTurns.noteTaskId("finished-at-agent", task.kind === "task" ? task.id : "");
    earlier.acceptedTurns.accept({
      agentMessageId: "never-reached-agent",
      roomId: "room-2",
      localAgentId,
      userMessageId: "u-2",
    });
    earlier.close();

    await start();
    const resumed = await relay.waitForTurn("finished-at-agent");
    expect(resumed.map((e) => e.type)).toEqual([
      "artifact_update",
      "agent_response",
      "processing_status",
    ]);
    expect(roomOf(resumed)).toMatchObject({ state: "completed", text: "echo: hi" });
    const failed = await relay.waitForTurn("never-reached-agent");
    expect(failed.map((e) => e.type)).toEqual(["agent_error", "processing_status"]);
    expect(failed[0]?.data).toMatchObject({ error_type: "HubRestarted" });
    expect(failed[1]?.data).toMatchObject({ status: "failed", user_message_id: "u-2" });
    // Neither turn ran again from the redelivered commands.
    expect(agent.received).toHaveLength(1);
  });
});
