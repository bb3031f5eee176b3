// Publish ingestion as hybro.ai's code does it (relay-wire.md section 6), over HTTP against the
// development relay: retries recognised only by (task_id, response_seq), the 7 types or 422 for
// the whole POST, and the silent drops (204 all the same): events of an agent message not routed
// to the publishing hub (a hub cannot publish into another user's turn), of a cancelled one, and
// a processing_status naming another user message. What the relay stored is what is asserted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DevRelay } from "../../src/devrelay/index.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { chunkText, textChunk } from "../support/events.ts";
import { type Answer, agentForTest, relayForTest, ScriptedHub } from "./support.ts";

let relay: DevRelay;
let aliceKey: string;
let bobKey: string;
const hubs: ScriptedHub[] = [];
const dirs: string[] = [];

async function hubOf(key: string): Promise<ScriptedHub> {
  const hub = new ScriptedHub(relay, key);
  hubs.push(hub);
  expect((await hub.register()).status).toBe(200);
  expect((await hub.sync([agentForTest("aaaaaaaaaaaa", "A")])).status).toBe(200);
  return hub;
}

function keysFor(r: DevRelay): void {
  aliceKey = r.createKey({ userId: "alice", name: "hub", scopes: ["relay:hub"] }).key;
  bobKey = r.createKey({ userId: "bob", name: "hub", scopes: ["relay:hub"] }).key;
}

beforeEach(async () => {
  relay = await relayForTest();
  keysFor(relay);
});

afterEach(async () => {
  for (const hub of hubs.splice(0)) hub.disconnect();
  await relay.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Routes a user_message for `amid` in `room` to `hub` (only then may the hub publish for it). */
function route(hub: ScriptedHub, room: string, amid: string, umid = `u-${amid}`): void {
  relay.sendCommand(hub.hubId, {
    type: "user_message",
    room_id: room,
    local_agent_id: "aaaaaaaaaaaa",
    agent_message_id: amid,
    user_message_id: umid,
    task_id: `relay-pending-${amid.slice(0, 12)}`,
    message: {
      kind: "message",
      role: "user",
      messageId: "m",
      parts: [{ kind: "text", text: "x" }],
    },
  });
}

const chunk = (amid: string, text: string, seq?: number, taskId = "task-1"): PublishedEvent =>
  textChunk(amid, text, { task_id: taskId, ...(seq === undefined ? {} : { response_seq: seq }) });

const status = (amid: string, userMessageId: string | null, seq: number): PublishedEvent => ({
  type: "processing_status",
  agent_message_id: amid,
  data: {
    status: "completed",
    user_message_id: userMessageId,
    task_id: "task-1",
    response_seq: seq,
  },
});

const texts = (amid: string) =>
  relay
    .eventsFor(amid)
    .map((event) => (event.type === "artifact_update" ? chunkText(event) : event.type));

function expect204(answer: Answer): void {
  expect(answer.status, answer.text).toBe(204);
}

describe("idempotency: only (task_id, response_seq)", () => {
  it("stores a retried POST twice without response_seq, once with it", async () => {
    const hub = await hubOf(aliceKey);
    route(hub, "room-1", "amsg-bare");
    route(hub, "room-1", "amsg-seq");
    const bare = [chunk("amsg-bare", "a"), chunk("amsg-bare", "b")];
    expect204(await hub.publish("room-1", bare));
    expect204(await hub.publish("room-1", bare)); // the same POST again: its answer was lost
    expect(texts("amsg-bare")).toEqual(["a", "b", "a", "b"]);

    const keyed = [chunk("amsg-seq", "a", 0), chunk("amsg-seq", "b", 1)];
    expect204(await hub.publish("room-1", keyed));
    expect204(await hub.publish("room-1", keyed));
    expect(texts("amsg-seq")).toEqual(["a", "b"]);
    expect(relay.publishStats()).toMatchObject({ events: 6, duplicatesDropped: 2 });
  });

  it("keys by task id, not by agent message: the same (task_id, response_seq) in another turn is dropped", async () => {
    const hub = await hubOf(aliceKey);
    route(hub, "room-1", "amsg-first");
    route(hub, "room-1", "amsg-reply");
    expect204(await hub.publish("room-1", [chunk("amsg-first", "question", 0, "agent-task")]));
    // A follow-up turn on the same agent task that numbered from 0 again would lose its events:
    expect204(await hub.publish("room-1", [chunk("amsg-reply", "answer", 0, "agent-task")]));
    expect(texts("amsg-reply")).toEqual([]);
    expect204(await hub.publish("room-1", [chunk("amsg-reply", "answer", 1, "agent-task")]));
    expect(texts("amsg-reply")).toEqual(["answer"]);
  });

  it("without data.task_id the key uses the agent message id", async () => {
    const hub = await hubOf(aliceKey);
    route(hub, "room-1", "amsg-n");
    const event = chunk("amsg-n", "x", 3);
    delete (event.data as { task_id?: string }).task_id;
    const seen = relay.waitFor("duplicate");
    expect204(await hub.publish("room-1", [event]));
    expect204(await hub.publish("room-1", [event]));
    expect(texts("amsg-n")).toEqual(["x"]);
    await seen;
  });

  it("stores events as its schema reads them: fields outside type/agent_message_id/data are not kept", async () => {
    const hub = await hubOf(aliceKey);
    route(hub, "room-1", "amsg-e");
    const event = { ...chunk("amsg-e", "x", 0), event_id: "ours" };
    expect204(await hub.publish("room-1", [event as PublishedEvent]));
    expect(relay.eventsFor("amsg-e")[0]).not.toHaveProperty("event_id");
  });

  it("remembers keys and lineage across a restart when it has a data directory", async () => {
    await relay.close();
    const dir = mkdtempSync(join(tmpdir(), "hybro-ingest-"));
    dirs.push(dir);
    relay = await relayForTest({ dataDir: dir });
    keysFor(relay);
    const hub = await hubOf(aliceKey);
    route(hub, "room-1", "amsg-r");
    expect204(await hub.publish("room-1", [chunk("amsg-r", "once", 0)]));
    const port = relay.port;
    await relay.close();
    relay = await relayForTest({ dataDir: dir, port });
    const again = [chunk("amsg-r", "once", 0), chunk("amsg-r", "more", 1)];
    // The client may still hold a connection to the old relay; the events are keyed, so sending
    // them again is exactly what this test is about.
    const answer = await hub.publish("room-1", again).catch(() => hub.publish("room-1", again));
    expect204(answer);
    expect(texts("amsg-r")).toEqual(["more"]);
  });
});

describe("the 7 event types", () => {
  it("any other type refuses the whole POST with 422 naming it; nothing is stored", async () => {
    const hub = await hubOf(aliceKey);
    route(hub, "room-1", "amsg-t");
    const answer = await hub.publish("room-1", [
      chunk("amsg-t", "fine", 0),
      { type: "task_progress", agent_message_id: "amsg-t", data: {} } as unknown as PublishedEvent,
    ]);
    expect(answer.status).toBe(422);
    expect(answer.body.detail.field).toBe("events.1.type");
    expect(texts("amsg-t")).toEqual([]);
  });
});

describe("silent drops (204 all the same)", () => {
  it("a hub cannot publish into another user's turn (hardening finding 7)", async () => {
    const alice = await hubOf(aliceKey);
    const bob = await hubOf(bobKey);
    route(alice, "room-alice", "amsg-alice");
    route(bob, "room-bob", "amsg-bob");
    // Into alice's room: the room is not bob's (403 for the whole POST).
    const intoRoom = await bob.publish("room-alice", [chunk("amsg-alice", "injected", 0)]);
    expect(intoRoom.status).toBe(403);
    expect(intoRoom.body.detail.error).toBe("room_owner_mismatch");
    // Naming alice's agent message from bob's own room: dropped, without a word.
    const dropped = relay.waitFor("dropped", (_event, _ctx, reason) => reason === "not_routed");
    expect204(await bob.publish("room-bob", [chunk("amsg-alice", "injected", 1)]));
    await dropped;
    expect(texts("amsg-alice")).toEqual([]);
    expect(relay.publishStats().dropped.not_routed).toBe(1);
  });

  it("a second hub of the same user cannot publish for the first one's message", async () => {
    const first = await hubOf(aliceKey);
    const second = await hubOf(aliceKey);
    route(first, "room-1", "amsg-1");
    route(second, "room-1", "amsg-2");
    expect204(await second.publish("room-1", [chunk("amsg-1", "not mine", 0)]));
    expect(texts("amsg-1")).toEqual([]);
    expect204(await first.publish("room-1", [chunk("amsg-1", "mine", 0)]));
    expect(texts("amsg-1")).toEqual(["mine"]);
  });

  it("an unknown room is 404 for the whole POST", async () => {
    const hub = await hubOf(aliceKey);
    const answer = await hub.publish("room-never", [chunk("amsg-x", "x", 0)]);
    expect(answer.status).toBe(404);
    expect(answer.body.detail.error).toBe("room_not_found");
  });

  it("drops every event of a cancelled agent message", async () => {
    const hub = await hubOf(aliceKey);
    route(hub, "room-1", "amsg-c");
    expect204(await hub.publish("room-1", [chunk("amsg-c", "before", 0)]));
    relay.sendCommand(hub.hubId, {
      type: "cancel_task",
      local_agent_id: "aaaaaaaaaaaa",
      task_id: "task-1",
      agent_message_id: "amsg-c",
    });
    expect204(
      await hub.publish("room-1", [chunk("amsg-c", "after", 1), status("amsg-c", null, 2)]),
    );
    expect(texts("amsg-c")).toEqual(["before"]);
    expect(relay.publishStats().dropped.cancelled).toBe(2);
  });

  it("drops a processing_status naming another user message; null or the turn's own is kept", async () => {
    const hub = await hubOf(aliceKey);
    route(hub, "room-1", "amsg-p", "umsg-own");
    route(hub, "room-1", "amsg-q", "umsg-q");
    expect204(await hub.publish("room-1", [status("amsg-p", "umsg-other", 0)]));
    expect(relay.turns.get("amsg-p")?.terminal ?? null).toBeNull();
    expect(relay.publishStats().dropped.foreign_user_message_id).toBe(1);
    expect204(await hub.publish("room-1", [status("amsg-p", "umsg-own", 1)]));
    expect(relay.turns.get("amsg-p")?.terminal).not.toBeNull();
    expect204(await hub.publish("room-1", [status("amsg-q", null, 2)]));
    expect(relay.turns.get("amsg-q")?.terminal).not.toBeNull();
  });
});
