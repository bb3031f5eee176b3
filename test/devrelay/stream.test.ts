// The development relay's command stream where it follows hybro.ai's code: a refused stream
// ends with the `error` event, a new stream for a hub ends the previous one, a hub whose
// heartbeat POSTs stop is disconnected, and the offline queue keeps 1,000 commands for 1 h.
import { afterEach, describe, expect, it } from "vitest";
import { HubChannel, type QueuedCommand } from "../../src/devrelay/hub-channel.ts";
import { HubLiveness } from "../../src/devrelay/hub-liveness.ts";
import { DEFAULT_DEV_RELAY_SETTINGS, type DevRelay } from "../../src/devrelay/index.ts";
import { call, hubIdForTest, relayForTest, ScriptedHub } from "./support.ts";

let relay: DevRelay | undefined;
const hubs: ScriptedHub[] = [];

afterEach(async () => {
  for (const hub of hubs.splice(0)) hub.disconnect();
  await relay?.close();
  relay = undefined;
});

function hubFor(key: string, hubId?: string): ScriptedHub {
  const hub = new ScriptedHub(relay!, key, hubId);
  hubs.push(hub);
  return hub;
}

describe("refused streams", () => {
  it("end with hybro.ai's error event: an unknown hub, another user's hub, a malformed id", async () => {
    relay = await relayForTest();
    const alice = relay.createKey({ userId: "alice", name: "a", scopes: ["relay:hub"] }).key;
    const bob = relay.createKey({ userId: "bob", name: "b", scopes: ["relay:hub"] }).key;
    const owned = hubFor(alice);
    expect((await owned.register()).status).toBe(200);
    const refusals: string[] = [];
    relay.on("streamRefused", (info) => refusals.push(`${info.userId}:${info.hubId}`));

    const cases = [
      hubFor(alice, hubIdForTest()), // never registered
      hubFor(bob, owned.hubId), // alice's hub with bob's key
      hubFor(alice, "not-a-hub-id"),
    ];
    for (const hub of cases) {
      const stream = await hub.connect();
      expect(stream.status).toBe(200);
      await stream.done;
      expect(stream.data()).toEqual([{ type: "error", error: "Hub not owned by this API key" }]);
    }
    expect(refusals).toEqual([
      `alice:${cases[0]!.hubId}`,
      `bob:${owned.hubId}`,
      "alice:not-a-hub-id",
    ]);
    // The refusal did not touch the owner's hub.
    const mine = await owned.connect();
    await mine.next("connection_ready");
    expect(relay.isOnline(owned.hubId)).toBe(true);
  });
});

describe("one stream per hub", () => {
  it("a new stream for a hub ends the previous one; commands go to the new one", async () => {
    relay = await relayForTest();
    const key = relay.createKey({ userId: "alice", name: "a", scopes: ["relay:hub"] }).key;
    const first = hubFor(key);
    await first.register();
    const second = hubFor(key, first.hubId); // a copied data directory: same hub id
    const connected: boolean[] = [];
    relay.on("hubConnected", (info) => connected.push(info.replaced));

    const old = await first.connect();
    await old.next("connection_ready");
    const fresh = await second.connect();
    await fresh.next("connection_ready");
    await old.done; // ended cleanly by the relay, right after the new one opened
    expect(old.closed).toBe(true);
    expect(old.data().map((d) => d.type)).toEqual(["connection_ready"]);
    expect(connected).toEqual([false, true]);

    relay.sendCommand(first.hubId, { type: "cancel_task", local_agent_id: "a", task_id: "t1" });
    expect((await fresh.next("cancel_task")).task_id).toBe("t1");
    expect(fresh.closed).toBe(false);
  });
});

describe("heartbeat liveness", () => {
  it("ends the stream of a connected hub that sends no heartbeat POST for 3 intervals", async () => {
    relay = await relayForTest({ hubHeartbeatIntervalMs: 40, hubHeartbeatMissLimit: 3 });
    const key = relay.createKey({ userId: "alice", name: "a", scopes: ["relay:hub"] }).key;
    const hub = hubFor(key);
    await hub.register();
    const stale = relay.waitFor("hubStale", (info) => info.hubId === hub.hubId);
    const stream = await hub.connect();
    await stream.next("connection_ready");
    const [info] = await stale;
    expect(info.silentMs).toBeGreaterThan(120);
    await stream.done;
    expect(relay.isOnline(hub.hubId)).toBe(false);
    // It may connect again at once (the relay counts a new stream as heard from).
    const again = await hub.connect();
    await again.next("connection_ready");
    expect((await call(relay, "POST", `${hub.base}/heartbeat`, { key })).status).toBe(204);
  });

  it("counts silence from the stream's start and from each heartbeat (fake clock)", () => {
    let now = 0;
    const liveness = new HubLiveness(
      { hubHeartbeatIntervalMs: 30_000, hubHeartbeatMissLimit: 3 },
      () => now,
    );
    liveness.heartbeat("a"); // before any stream: nothing to watch
    expect(liveness.stale()).toEqual([]);
    liveness.connected("a");
    liveness.connected("b");
    now = 60_000;
    liveness.heartbeat("a");
    now = 90_000;
    expect(liveness.stale()).toEqual([]); // exactly 3 intervals is still alive
    now = 90_001;
    expect(liveness.stale()).toEqual([{ hubId: "b", silentMs: 90_001 }]);
    now = 150_001;
    expect(liveness.stale().map((s) => s.hubId)).toEqual(["a", "b"]);
    liveness.disconnected("b");
    liveness.heartbeat("a");
    expect(liveness.stale()).toEqual([]);
  });
});

describe("offline queue", () => {
  it("defaults to hybro.ai's bounds: 1,000 commands, 1 h each (fake clock)", () => {
    expect(DEFAULT_DEV_RELAY_SETTINGS.offlineQueueMax).toBe(1000);
    expect(DEFAULT_DEV_RELAY_SETTINGS.offlineQueueTtlMs).toBe(3_600_000);
    let now = 0;
    const dropped: Array<[string, string]> = [];
    const channel = new HubChannel(
      "hub",
      "epoch",
      { ...DEFAULT_DEV_RELAY_SETTINGS },
      {
        connected: () => undefined,
        disconnected: () => undefined,
        delivered: () => undefined,
        dropped: (entry: QueuedCommand, reason) =>
          dropped.push([(entry.command as { task_id: string }).task_id, reason]),
      },
      () => now,
    );
    const cancel = (taskId: string) =>
      channel.enqueue({ type: "cancel_task", local_agent_id: "a", task_id: taskId });
    cancel("first");
    now = 3_599_999;
    for (let i = 0; i < 999; i++) cancel(`n${i}`);
    expect(channel.pendingCount).toBe(1000);
    expect(dropped).toEqual([]);
    cancel("one-more"); // the 1,001st: the oldest goes
    expect(dropped).toEqual([["first", "overflow"]]);
    now = 3_599_999 + 3_600_000; // the rest reach their hour
    cancel("late");
    expect(dropped.length).toBe(1001);
    expect(dropped.at(-1)).toEqual(["one-more", "expired"]);
    expect(channel.pendingCount).toBe(1);
  });
});
