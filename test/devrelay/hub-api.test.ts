import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DevRelay } from "../../src/devrelay/index.ts";
import {
  type Answer,
  agentForTest,
  call,
  completedTurn,
  eventually,
  hubIdForTest,
  relayForTest,
  ScriptedHub,
} from "./support.ts";

let relay: DevRelay;
let hubKey: string;
const hubs: ScriptedHub[] = [];

function newHub(key = hubKey): ScriptedHub {
  const hub = new ScriptedHub(relay, key);
  hubs.push(hub);
  return hub;
}

beforeEach(async () => {
  relay = await relayForTest({
    sseHeartbeatMs: 100,
    offlineQueueTtlMs: 60_000,
    replayBufferSize: 50,
  });
  hubKey = relay.createKey({ userId: "alice", name: "hub", scopes: ["relay:hub"] }).key;
});

afterEach(async () => {
  for (const hub of hubs.splice(0)) hub.disconnect();
  await relay.close();
});

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.body.detail.error).toBe(code);
  expect(typeof answer.body.detail.message).toBe("string");
}

describe("register", () => {
  it("binds a hub id to the key's user, idempotently", async () => {
    const hub = newHub();
    const first = await hub.register();
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ hub_id: hub.hubId, user_id: "alice" });
    expect((await hub.register()).status).toBe(200);
    expect(relay.hubs()).toEqual([
      { hubId: hub.hubId, userId: "alice", online: false, agents: [] },
    ]);
  });

  it("refuses malformed hub ids; another user's key moves the hub (hybro.ai upserts)", async () => {
    for (const bad of ["ABCDEF0123456789ABCDEF0123456789", "abc", 42, `${"a".repeat(32)}/..`]) {
      const answer = await call(relay, "POST", "/api/v1/relay/hub/register", {
        key: hubKey,
        body: { hub_id: bad },
      });
      expectError(answer, 422, "validation_error");
      expect(answer.body.detail.field).toBe("hub_id");
    }
    const hub = newHub();
    await hub.register();
    const bobKey = relay.createKey({ userId: "bob", name: "hub", scopes: ["relay:hub"] }).key;
    const moved = relay.waitFor("hubRegistered", (info) => info.hubId === hub.hubId);
    const taken = await call(relay, "POST", "/api/v1/relay/hub/register", {
      key: bobKey,
      body: { hub_id: hub.hubId },
    });
    expect(taken.status).toBe(200);
    expect(taken.body).toEqual({ hub_id: hub.hubId, user_id: "bob" });
    expect((await moved)[0]).toMatchObject({ userId: "bob", movedFrom: "alice", created: false });
    expect(relay.hubs().find((h) => h.hubId === hub.hubId)?.userId).toBe("bob");
    // alice's hub is now refused on publish and sync, as hybro.ai refuses it (403, not a key problem)
    const publish = await hub.publish("room_1", []);
    expect(publish.status).toBe(422); // the body is checked first: an empty list
    const refused = await hub.sync([agentForTest("aaaaaaaaaaaa", "A")]);
    expectError(refused, 403, "hub_not_owned");
    expect(refused.body.detail.message).toBe("Hub not owned by this API key");
  });
});

describe("agents/sync and status", () => {
  it("syncs the whole roster, prunes missing agents, reports counts", async () => {
    const hub = newHub();
    await hub.register();
    const synced = await hub.sync([
      agentForTest("aaaaaaaaaaaa", "A"),
      agentForTest("bbbbbbbbbbbb", "B"),
    ]);
    expect(synced.status).toBe(200);
    expect(synced.body.synced).toEqual([
      { agent_id: relay.agentId(hub.hubId, "aaaaaaaaaaaa"), local_agent_id: "aaaaaaaaaaaa" },
      { agent_id: relay.agentId(hub.hubId, "bbbbbbbbbbbb"), local_agent_id: "bbbbbbbbbbbb" },
    ]);
    await hub.sync([agentForTest("bbbbbbbbbbbb", "B2")]);
    const status = await call(relay, "GET", "/api/v1/relay/hub/status", { key: hubKey });
    expect(status.status).toBe(200);
    expect(status.body).toEqual({
      hubs: [
        {
          hub_id: hub.hubId,
          is_online: false,
          agent_count: 2,
          active_agent_count: 1,
          inactive_agent_count: 1,
        },
      ],
    });
    expect(relay.hubs()[0]?.agents.map((agent) => agent.name)).toEqual(["B2"]);
    // prune_missing false keeps the others
    await hub.sync([agentForTest("aaaaaaaaaaaa", "A")], false);
    expect(
      relay
        .hubs()[0]
        ?.agents.map((agent) => agent.name)
        .sort(),
    ).toEqual(["A", "B2"]);
  });

  it("validates the roster and names the field", async () => {
    const hub = newHub();
    await hub.register();
    const extra = await hub.sync([
      { ...agentForTest("aaaaaaaaaaaa", "A"), url: "http://x" } as never,
    ]);
    expectError(extra, 422, "validation_error");
    const wrongType = await hub.sync([
      { ...agentForTest("aaaaaaaaaaaa", "A"), capabilities: "streaming" } as never,
    ]);
    expect(wrongType.body.detail.field).toBe("agents.0.capabilities");
    const duplicate = await hub.sync([
      agentForTest("aaaaaaaaaaaa", "A"),
      agentForTest("aaaaaaaaaaaa", "B"),
    ]);
    expect(duplicate.body.detail.field).toBe("agents.1.local_agent_id");
  });

  it("leaves out, without an error, agents whose card hybro.ai would not keep", async () => {
    const hub = newHub();
    await hub.register();
    const good = agentForTest("aaaaaaaaaaaa", "A");
    const noUrl = agentForTest("bbbbbbbbbbbb", "B");
    noUrl.agent_card = { ...noUrl.agent_card, url: "" };
    const noModes = agentForTest("cccccccccccc", "C");
    const { defaultInputModes: _, ...withoutModes } = noModes.agent_card;
    noModes.agent_card = withoutModes;
    const badSkill = agentForTest("dddddddddddd", "D");
    badSkill.agent_card = { ...badSkill.agent_card, skills: [{ id: "s", name: "n" }] };
    const synced = await hub.sync([good, noUrl, noModes, badSkill]);
    expect(synced.status).toBe(200);
    expect(synced.body.synced).toEqual([
      { agent_id: relay.agentId(hub.hubId, "aaaaaaaaaaaa"), local_agent_id: "aaaaaaaaaaaa" },
    ]);
    expect(relay.hubs()[0]?.agents.map((agent) => agent.local_agent_id)).toEqual(["aaaaaaaaaaaa"]);
    // None valid: the answer is [] and nothing is pruned (A stays active).
    const none = await hub.sync([noUrl, noModes]);
    expect(none.status).toBe(200);
    expect(none.body.synced).toEqual([]);
    expect(relay.hubs()[0]?.agents.map((agent) => agent.local_agent_id)).toEqual(["aaaaaaaaaaaa"]);
    // An empty roster is valid and prunes everything.
    expect((await hub.sync([])).body.synced).toEqual([]);
    expect(relay.hubs()[0]?.agents).toEqual([]);
  });

  it("answers 404 on heartbeat/events and 403 on publish/sync of unknown, malformed or foreign hubs", async () => {
    const hub = newHub();
    await hub.register();
    const bobKey = relay.createKey({ userId: "bob", name: "hub", scopes: ["relay:hub"] }).key;
    for (const path of [
      `/api/v1/relay/hub/${hubIdForTest()}/heartbeat`,
      "/api/v1/relay/hub/not-a-hub/heartbeat",
      `/api/v1/relay/hub/${"a".repeat(500)}/heartbeat`,
    ]) {
      expectError(await call(relay, "POST", path, { key: hubKey }), 404, "not_found");
    }
    expectError(
      await call(relay, "POST", `${hub.base}/heartbeat`, { key: bobKey }),
      404,
      "not_found",
    );
    // The stream is refused as hybro.ai does it: 200 + the error event (test/devrelay/stream.test.ts).
    const refused = await call(relay, "GET", `${hub.base}/events`, { key: bobKey });
    expect([refused.status, refused.text]).toEqual([
      200,
      'data: {"type":"error","error":"Hub not owned by this API key"}\n\n',
    ]);
    const event = {
      type: "task_submitted",
      agent_message_id: "a",
      data: { task_id: "t", agent_name: "A" },
    };
    const publishBody = { room_id: "r", events: [event] };
    expectError(
      await call(relay, "POST", `/api/v1/relay/hub/${hubIdForTest()}/publish`, {
        key: hubKey,
        body: publishBody,
      }),
      403,
      "unknown_hub",
    );
    expectError(
      await call(relay, "POST", `${hub.base}/publish`, { key: bobKey, body: publishBody }),
      403,
      "hub_not_owned",
    );
    expectError(
      await call(relay, "POST", `${hub.base}/agents/sync`, { key: bobKey, body: { agents: [] } }),
      403,
      "hub_not_owned",
    );
    const bobStatus = await call(relay, "GET", "/api/v1/relay/hub/status", { key: bobKey });
    expect(bobStatus.body).toEqual({ hubs: [] });
  });
});

describe("heartbeat and publish", () => {
  it("heartbeat answers 204", async () => {
    const hub = newHub();
    await hub.register();
    const beat = relay.waitFor("heartbeat", (info) => info.hubId === hub.hubId);
    const answer = await call(relay, "POST", `${hub.base}/heartbeat`, { key: hubKey });
    expect(answer.status).toBe(204);
    expect(answer.text).toBe("");
    await beat;
  });

  it("validates the publish envelope", async () => {
    const hub = newHub();
    await hub.register();
    const bad: Array<[unknown, string]> = [
      [{ events: [] }, "room_id"],
      [{ room_id: "r", events: [] }, "events"],
      [
        { room_id: "r", events: [{ type: "nonsense", agent_message_id: "a", data: {} }] },
        "events.0.type",
      ],
      [
        {
          room_id: "r",
          events: [{ type: "processing_status", agent_message_id: "a", data: { status: "done" } }],
        },
        "events.0.data.status",
      ],
      [
        { room_id: "r", events: [{ type: "agent_response", data: { content: "x" } }] },
        "events.0.agent_message_id",
      ],
      [
        {
          room_id: "r",
          events: [{ type: "agent_response", agent_message_id: "a", data: { content: 5 } }],
        },
        "events.0.data.content",
      ],
      [[1, 2], "body"],
    ];
    for (const [body, field] of bad) {
      const answer = await call(relay, "POST", `${hub.base}/publish`, { key: hubKey, body });
      expectError(answer, 422, "validation_error");
      expect(answer.body.detail.field).toBe(field);
    }
    expect(relay.publishStats().events).toBe(0);
  });
});

describe("the event stream", () => {
  it("starts with connection_ready, sends heartbeats, and ids on commands", async () => {
    const hub = newHub();
    await hub.register();
    const stream = await hub.connect();
    expect(relay.isOnline(hub.hubId)).toBe(true);
    expect(
      (await call(relay, "GET", "/api/v1/relay/hub/status", { key: hubKey })).body.hubs[0]
        .is_online,
    ).toBe(true);
    await stream.until(
      () => stream.data().filter((d) => d.type === "heartbeat").length >= 2,
      "two heartbeats",
    );
    expect(stream.data()[0]).toEqual({ type: "connection_ready" });
    expect(stream.messages[0]?.id).toBeUndefined();
    const sent = relay.sendCommand(hub.hubId, {
      type: "cancel_task",
      local_agent_id: "aaaaaaaaaaaa",
      task_id: "t1",
      agent_message_id: "amsg_1",
    });
    const cancel = await stream.next("cancel_task");
    expect(cancel).toEqual({
      type: "cancel_task",
      local_agent_id: "aaaaaaaaaaaa",
      task_id: "t1",
      agent_message_id: "amsg_1",
    });
    expect(stream.messages.find((m) => m.data.includes("cancel_task"))?.id).toBe(sent);
    hub.disconnect();
    await eventually(() => !relay.isOnline(hub.hubId), "the hub to go offline");
  });

  it("replays what a hub missed after Last-Event-ID, and only that", async () => {
    const hub = newHub();
    await hub.register();
    const first = await hub.connect();
    const ids = [1, 2, 3].map((n) =>
      relay.sendCommand(hub.hubId, { type: "cancel_task", local_agent_id: "a", task_id: `t${n}` }),
    );
    await first.until(
      () => first.data().filter((d) => d.type === "cancel_task").length === 3,
      "three commands",
    );
    hub.disconnect();
    await eventually(() => !relay.isOnline(hub.hubId), "offline");
    const second = await hub.connect(ids[0]);
    await second.until(
      () => second.data().filter((d) => d.type === "cancel_task").length === 2,
      "replay",
    );
    expect(second.data()[0]).toEqual({ type: "connection_ready" });
    expect(
      second
        .data()
        .filter((d) => d.type === "cancel_task")
        .map((d) => d.task_id),
    ).toEqual(["t2", "t3"]);
    expect(second.messages.filter((m) => m.id).map((m) => m.id)).toEqual(ids.slice(1));
    hub.disconnect();
    await eventually(() => !relay.isOnline(hub.hubId), "offline");
    // an id from another relay run (or garbage) replays nothing
    const third = await hub.connect("deadbeef-1");
    relay.sendCommand(hub.hubId, { type: "cancel_task", local_agent_id: "a", task_id: "t4" });
    await third.next("cancel_task");
    expect(
      third
        .data()
        .filter((d) => d.type === "cancel_task")
        .map((d) => d.task_id),
    ).toEqual(["t4"]);
  });

  it("keeps commands for an offline hub and delivers them on connect, in order", async () => {
    const hub = newHub();
    await hub.register();
    for (const n of [1, 2])
      relay.sendCommand(hub.hubId, { type: "cancel_task", local_agent_id: "a", task_id: `q${n}` });
    const connected = relay.waitFor("hubConnected", (info) => info.hubId === hub.hubId);
    const stream = await hub.connect();
    expect((await connected)[0]).toMatchObject({ queued: 2, replayed: 0 });
    await stream.until(
      () => stream.data().filter((d) => d.type === "cancel_task").length === 2,
      "queued commands",
    );
    expect(stream.data().map((d) => d.type)[0]).toBe("connection_ready");
    expect(
      stream
        .data()
        .filter((d) => d.type === "cancel_task")
        .map((d) => d.task_id),
    ).toEqual(["q1", "q2"]);
  });

  it("lets one live stream per hub: a new connection replaces the old", async () => {
    const hub = newHub();
    await hub.register();
    const first = await hub.connect();
    const second = await hub.connect();
    await eventually(() => first.closed, "the first stream to end");
    relay.sendCommand(hub.hubId, { type: "cancel_task", local_agent_id: "a", task_id: "x" });
    await second.next("cancel_task");
    expect(relay.isOnline(hub.hubId)).toBe(true);
  });
});

describe("offline queue bounds", () => {
  it("drops commands older than the TTL and beyond the maximum", async () => {
    await relay.close();
    relay = await relayForTest({ offlineQueueTtlMs: 150, offlineQueueMax: 2 });
    hubKey = relay.createKey({ userId: "alice", name: "hub", scopes: ["relay:hub"] }).key;
    const hub = newHub();
    await hub.register();
    const dropped: string[] = [];
    relay.on("commandDropped", (info) =>
      dropped.push(`${(info.command as { task_id: string }).task_id}:${info.reason}`),
    );
    relay.sendCommand(hub.hubId, { type: "cancel_task", local_agent_id: "a", task_id: "old" });
    await new Promise((resolve) => setTimeout(resolve, 250));
    for (const n of [1, 2, 3])
      relay.sendCommand(hub.hubId, { type: "cancel_task", local_agent_id: "a", task_id: `n${n}` });
    expect(dropped).toEqual(["old:expired", "n1:overflow"]);
    const stream = await hub.connect();
    await stream.until(
      () => stream.data().filter((d) => d.type === "cancel_task").length === 2,
      "kept commands",
    );
    expect(
      stream
        .data()
        .filter((d) => d.type === "cancel_task")
        .map((d) => d.task_id),
    ).toEqual(["n2", "n3"]);
  });
});

describe("a whole turn by hand", () => {
  it("relays a user_message and records the hub's answer", async () => {
    const hub = newHub();
    await hub.register();
    await hub.sync([agentForTest("aaaaaaaaaaaa", "A")]);
    const stream = await hub.connect();
    relay.sendCommand(hub.hubId, {
      type: "user_message",
      room_id: "room_x",
      local_agent_id: "aaaaaaaaaaaa",
      agent_message_id: "amsg_x",
      user_message_id: "umsg_x",
      message: {
        kind: "message",
        role: "user",
        messageId: "m",
        parts: [{ kind: "text", text: "hi" }],
      },
    });
    const command = await stream.next("user_message");
    await hub.answer(command, completedTurn("hello", "umsg_x"));
    const events = await relay.waitForTurn("amsg_x");
    expect(events.at(-1)).toMatchObject({
      type: "processing_status",
      data: { status: "completed", user_message_id: "umsg_x" },
    });
  });
});
