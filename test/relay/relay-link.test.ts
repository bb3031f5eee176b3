import { mkdtempSync, rmSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/logger.ts";
import { OUTBOX_DB_FILE } from "../../src/outbox/database.ts";
import type { EventIdStore } from "../../src/outbox/event-ids.ts";
import { type Outbox, openOutbox } from "../../src/outbox/outbox.ts";
import type { RelayAuthError } from "../../src/relay/errors.ts";
import { RelayLink, type RelayLinkReady } from "../../src/relay/relay-link.ts";
import type { RelayLinkSettings } from "../../src/relay/settings.ts";
import type { PublishedEvent, RelayCommand, SyncAgent } from "../../src/wire/relay.ts";
import { chunkText, textChunk } from "../support/events.ts";
import { ManualClock } from "../support/manual-clock.ts";
import {
  capturingLogger,
  errorBody,
  json,
  type RecordedRequest,
  type ScriptedServer,
  sse,
  startScriptedServer,
  waitUntil,
} from "./scripted-server.ts";

const KEY = "hybro_link_test_key_0123456789abcdefgh";
const HUB = "11112222333344445555666677778888";

/** A relay scripted per call kind; each override answers instead of the default when it returns true. */
interface Script {
  register?: (n: number, res: ServerResponse) => boolean;
  sync?: (n: number, res: ServerResponse) => boolean;
  heartbeat?: (n: number, res: ServerResponse) => boolean;
  publish?: (
    n: number,
    res: ServerResponse,
    body: { room_id: string; events: PublishedEvent[] },
  ) => boolean;
  events?: (n: number, res: ServerResponse) => boolean;
}

let server: ScriptedServer | null = null;
let link: RelayLink | null = null;
const streams = new Set<ServerResponse>();

afterEach(async () => {
  await link?.close();
  for (const res of streams) res.destroy();
  streams.clear();
  await server?.close();
  link = null;
  server = null;
});

function kindOf(request: RecordedRequest): keyof Script | "status" {
  if (request.path.endsWith("/register")) return "register";
  if (request.path.endsWith("/agents/sync")) return "sync";
  if (request.path.endsWith("/heartbeat")) return "heartbeat";
  if (request.path.endsWith("/publish")) return "publish";
  if (request.path.endsWith("/events")) return "events";
  return "status";
}

async function startRelay(script: Script = {}): Promise<ScriptedServer> {
  const counts = new Map<string, number>();
  server = await startScriptedServer((request, res) => {
    const kind = kindOf(request);
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    switch (kind) {
      case "register":
        if (script.register?.(n, res)) return;
        return json(res, 200, { hub_id: HUB, user_id: "usr_1" });
      case "sync": {
        if (script.sync?.(n, res)) return;
        const agents = (request.body as { agents: SyncAgent[] }).agents;
        return json(res, 200, {
          synced: agents.map((agent) => ({
            agent_id: `agt_${agent.local_agent_id}`,
            local_agent_id: agent.local_agent_id,
          })),
        });
      }
      case "heartbeat":
        if (script.heartbeat?.(n, res)) return;
        res.writeHead(204).end();
        return;
      case "publish":
        if (script.publish?.(n, res, request.body as { room_id: string; events: PublishedEvent[] }))
          return;
        res.writeHead(204).end();
        return;
      case "events": {
        if (script.events?.(n, res)) return;
        streams.add(res);
        res.on("close", () => streams.delete(res));
        sse(res)('data: {"type":"connection_ready"}\n\n');
        return;
      }
      default:
        json(res, 404, errorBody("not_found", "no"));
    }
  });
  return server;
}

const agent = (id: string, name = `Agent ${id}`): SyncAgent => ({
  local_agent_id: id,
  name,
  description: "test agent",
  capabilities: [],
  agent_card: { name },
});

function makeLink(
  url: string,
  options: {
    roster?: () => SyncAgent[];
    settings?: Partial<RelayLinkSettings>;
    keySource?: string;
    eventIds?: EventIdStore;
    clock?: ManualClock;
  } = {},
) {
  const logs = capturingLogger();
  link = new RelayLink({
    gatewayUrl: url,
    apiKey: () => KEY,
    keySource: options.keySource ?? "HYBRO_API_KEY",
    hubId: HUB,
    logger: logs.logger,
    roster: options.roster ?? (() => [agent("aaaaaaaaaaaa"), agent("bbbbbbbbbbbb")]),
    env: {},
    random: () => 0.5,
    eventIds: options.eventIds,
    clock: options.clock,
    settings: {
      reconnectBaseDelayMs: 10,
      reconnectMaxDelayMs: 40,
      heartbeatIntervalMs: 60_000,
      resyncIntervalMs: 600_000,
      syncDebounceMs: 10,
      publishCoalesceMs: 5,
      publishRetryBaseDelayMs: 5,
      publishRetryMaxDelayMs: 20,
      ...options.settings,
    },
  });
  return { link, logs };
}

const calls = (s: ScriptedServer, kind: string) => s.requests.filter((r) => kindOf(r) === kind);
const order = (s: ScriptedServer) => s.requests.map(kindOf);

describe("RelayLink", () => {
  it("registers, syncs, opens the stream, then is ready; re-syncs on connection_ready", async () => {
    const relay = await startRelay();
    const { link: l } = makeLink(relay.url);
    const commands: RelayCommand[] = [];
    const readies: RelayLinkReady[] = [];
    let connected = 0;
    l.on("ready", (info) => readies.push(info));
    l.on("connected", () => {
      connected += 1;
    });
    await l.start((command) => commands.push(command), new AbortController().signal);
    expect(readies).toEqual([{ hubId: HUB, userId: "usr_1", agentsSynced: 2 }]);
    expect(order(relay).slice(0, 3)).toEqual(["register", "sync", "events"]);
    await waitUntil(
      () => calls(relay, "sync").length === 2,
      5000,
      "forced re-sync on connection_ready",
    );
    expect(calls(relay, "sync")[1]?.body).toEqual(calls(relay, "sync")[0]?.body);
    expect(commands.map((c) => c.type)).toEqual(["connection_ready"]);
    expect(connected).toBe(1);
    expect(l.state()).toMatchObject({
      connection: "open",
      registered: true,
      ready: true,
      agentsSynced: 2,
    });
  });

  it("requestSync skips an unchanged roster, sends a changed one, and force always sends", async () => {
    const relay = await startRelay();
    let roster = [agent("aaaaaaaaaaaa")];
    const { link: l } = makeLink(relay.url, { roster: () => roster });
    await l.start(() => undefined, new AbortController().signal);
    await waitUntil(() => calls(relay, "sync").length === 2, 5000, "startup syncs");
    l.requestSync();
    l.requestSync();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls(relay, "sync")).toHaveLength(2);
    roster = [agent("aaaaaaaaaaaa"), agent("cccccccccccc")];
    l.requestSync();
    l.requestSync();
    await waitUntil(() => calls(relay, "sync").length === 3, 5000, "changed roster synced");
    expect((calls(relay, "sync")[2]!.body as { agents: SyncAgent[] }).agents).toHaveLength(2);
    l.requestSync(true);
    await waitUntil(() => calls(relay, "sync").length === 4, 5000, "forced sync");
  });

  it("re-syncs (forced) every resyncIntervalMs", async () => {
    const relay = await startRelay();
    const { link: l } = makeLink(relay.url, { settings: { resyncIntervalMs: 40 } });
    await l.start(() => undefined, new AbortController().signal);
    await waitUntil(() => calls(relay, "sync").length >= 5, 5000, "periodic syncs");
  });

  it("boots without a reachable relay and keeps trying (network/5xx/429 are never fatal)", async () => {
    const relay = await startRelay({
      register: (n, res) => {
        if (n === 1) {
          res.destroy();
          return true;
        }
        if (n === 2) {
          json(res, 503, errorBody("internal_error", "starting"));
          return true;
        }
        if (n === 3) {
          json(res, 429, errorBody("rate_limit_exceeded", "slow"), { "retry-after": "0" });
          return true;
        }
        return false;
      },
      sync: (n, res) => {
        if (n === 1) {
          json(res, 502, { detail: "bad gateway" });
          return true;
        }
        return false;
      },
    });
    const { link: l, logs } = makeLink(relay.url);
    let fatal = 0;
    l.on("fatal", () => {
      fatal += 1;
    });
    await l.start(() => undefined, new AbortController().signal);
    expect(l.state().ready).toBe(true);
    expect(fatal).toBe(0);
    expect(calls(relay, "register")).toHaveLength(4);
    expect(logs.text()).toContain("cannot register with the relay");
    expect(logs.text()).toContain("agent sync failed");
  });

  it("a refused key at register is fatal: message names the source, never the key", async () => {
    const relay = await startRelay({
      register: (_n, res) => {
        json(res, 401, errorBody("invalid_api_key", "Invalid API key"));
        return true;
      },
    });
    const { link: l, logs } = makeLink(relay.url, { keySource: "config file" });
    const fatals: RelayAuthError[] = [];
    l.on("fatal", (error) => fatals.push(error));
    await l.start(() => undefined, new AbortController().signal); // resolves, never rejects
    expect(fatals).toHaveLength(1);
    expect(fatals[0]?.message).toContain("config file");
    expect(fatals[0]?.message).not.toContain(KEY);
    expect(logs.text()).toContain("config file");
    expect(logs.text()).not.toContain(KEY);
    expect(l.state()).toMatchObject({ connection: "stopped", ready: false });
    expect(l.state().lastError).toContain("rejected as invalid");
    expect(calls(relay, "register")).toHaveLength(1);
    expect(calls(relay, "events")).toHaveLength(0);
  });

  it("a key revoked while running stops the link via the stream (fatal)", async () => {
    const relay = await startRelay({
      events: (n, res) => {
        if (n === 1) {
          sse(res)('data: {"type":"connection_ready"}\n\n');
          res.end();
          return true;
        }
        json(res, 401, errorBody("revoked_api_key", "revoked"));
        return true;
      },
    });
    const { link: l } = makeLink(relay.url);
    const fatals: RelayAuthError[] = [];
    l.on("fatal", (error) => fatals.push(error));
    await l.start(() => undefined, new AbortController().signal);
    await waitUntil(() => fatals.length === 1, 5000, "fatal");
    expect(fatals[0]?.message).toContain("was revoked");
    expect(l.state().connection).toBe("stopped");
  });

  it("a 404 on the stream re-registers and syncs again before reconnecting", async () => {
    const relay = await startRelay({
      events: (n, res) => {
        if (n === 1) {
          json(res, 404, errorBody("not_found", "unknown hub"));
          return true;
        }
        return false;
      },
    });
    const { link: l } = makeLink(relay.url);
    await l.start(() => undefined, new AbortController().signal);
    expect(calls(relay, "register")).toHaveLength(2);
    await waitUntil(() => calls(relay, "sync").length >= 3, 5000, "re-sync after re-register");
    const seq = order(relay);
    expect(seq.indexOf("register", 1)).toBeGreaterThan(seq.indexOf("events"));
  });

  it("heartbeats on a timer; failures double the period to its cap; success resets it; 404 re-registers", async () => {
    let failing = true;
    const relay = await startRelay({
      heartbeat: (n, res) => {
        if (n === 3) {
          json(res, 404, errorBody("not_found", "unknown hub"));
          return true;
        }
        if (failing) {
          json(res, 503, errorBody("internal_error", "down"));
          return true;
        }
        return false;
      },
    });
    const { link: l, logs } = makeLink(relay.url, {
      settings: { heartbeatIntervalMs: 10, maxHeartbeatIntervalMs: 40 },
    });
    const intervals: number[] = [];
    await l.start(() => undefined, new AbortController().signal);
    await waitUntil(
      () => {
        const state = l.state();
        if (intervals.at(-1) !== state.heartbeatIntervalMs)
          intervals.push(state.heartbeatIntervalMs);
        return state.heartbeatFailures >= 5;
      },
      5000,
      "five heartbeat failures",
    );
    expect(intervals).toEqual([10, 20, 40]);
    expect(logs.text()).toContain("heartbeat failed");
    await waitUntil(
      () => calls(relay, "register").length === 2,
      5000,
      "re-register after heartbeat 404",
    );
    failing = false;
    await waitUntil(() => l.state().heartbeatFailures === 0, 5000, "heartbeat recovers");
    expect(l.state().heartbeatIntervalMs).toBe(10);
    expect(logs.text()).toContain("heartbeats reach the relay again");
  });

  it("publishes through the link: 1,000 chunks in order in few POSTs, with event ids", async () => {
    const received: PublishedEvent[] = [];
    const relay = await startRelay({
      publish: (_n, _res, body) => {
        received.push(...body.events);
        return false;
      },
    });
    const { link: l } = makeLink(relay.url, { settings: { publishCoalesceMs: 25 } });
    await l.start(() => undefined, new AbortController().signal);
    for (let i = 0; i < 1000; i += 1) {
      l.publish("room_1", [textChunk("am_1", `c${i}`, { last_chunk: i === 999, task_id: "t_1" })]);
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    l.publish("room_1", [
      {
        type: "processing_status",
        agent_message_id: "am_1",
        data: { status: "completed", user_message_id: null, task_id: "t_1" },
      },
    ]);
    expect(await l.flush(10_000)).toBe(true);
    expect(l.depth()).toBe(0);
    const posts = calls(relay, "publish");
    expect(posts.length).toBeLessThanOrEqual(50);
    expect(received.map((e) => (e.type === "artifact_update" ? chunkText(e) : e.type))).toEqual([
      ...Array.from({ length: 1000 }, (_, i) => `c${i}`),
      "processing_status",
    ]);
    // 1,001 distinct relay keys: none would be dropped as a retry.
    expect(new Set(received.map((e) => `${e.data.task_id}:${e.data.response_seq}`)).size).toBe(
      1001,
    );
    expect(l.state().publish).toMatchObject({ eventsSent: 1001, dropped: 0, queued: 0 });
  });

  it("a 401 on publish is fatal and keeps the events queued", async () => {
    const relay = await startRelay({
      publish: (_n, res) => {
        json(res, 401, errorBody("expired_api_key", "expired"));
        return true;
      },
    });
    const { link: l } = makeLink(relay.url, { keySource: "--api-key" });
    const fatals: RelayAuthError[] = [];
    l.on("fatal", (error) => fatals.push(error));
    await l.start(() => undefined, new AbortController().signal);
    l.publish("room", [
      {
        type: "processing_status",
        agent_message_id: "am",
        data: { status: "failed", user_message_id: null, task_id: "t" },
      },
    ]);
    await waitUntil(() => fatals.length === 1, 5000, "fatal");
    expect(fatals[0]?.message).toContain("--api-key");
    expect(l.depth()).toBe(1);
    expect(await l.flush(50)).toBe(false);
  });

  it("a hostile relay's ids: a non-ASCII and a 100 KB id never stick, across a restart; stored ids stay with their relay", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hybro-link-ids-"));
    const boxes: Outbox[] = [];
    const outbox = () => {
      const box = openOutbox({ dir, logger: silentLogger() });
      boxes.push(box);
      return box;
    };
    let other: ScriptedServer | null = null;
    try {
      const huge = "9".repeat(100_000);
      const relay = await startRelay({
        events: (n, res) => {
          if (n > 1) return false;
          streams.add(res);
          const write = sse(res);
          write('data: {"type":"connection_ready"}\n\n');
          write('id: good-7\ndata: {"type":"cancel_task","local_agent_id":"a","task_id":"t1"}\n\n');
          write('id: 日本-8\ndata: {"type":"cancel_task","local_agent_id":"a","task_id":"t2"}\n\n');
          write(
            `id: ${huge}\ndata: {"type":"cancel_task","local_agent_id":"a","task_id":"t3"}\n\n`,
          );
          return true;
        },
      });
      const lastIdsSent = (s: ScriptedServer) =>
        calls(s, "events").map((r) => r.headers["last-event-id"] ?? null);

      // First run: every command arrives; only the usable id is kept.
      const first = outbox();
      const commands: RelayCommand[] = [];
      const { link: l1 } = makeLink(relay.url, { eventIds: first.eventIds });
      await l1.start((command) => commands.push(command), new AbortController().signal);
      await waitUntil(() => commands.length === 4, 5000, "four commands");
      await l1.close();
      first.close();

      // Restart against the same relay: resumes after the usable id and works.
      const second = outbox();
      const again: RelayCommand[] = [];
      const { link: l2 } = makeLink(relay.url, { eventIds: second.eventIds });
      await l2.start((command) => again.push(command), new AbortController().signal);
      expect(lastIdsSent(relay)).toEqual([null, "good-7"]);
      expect(l2.state().connection).toBe("open");
      await l2.close();

      // Another relay (a changed --gateway-url) never gets this relay's id.
      other = await startScriptedServer((request, res) => {
        if (kindOf(request) === "register") return json(res, 200, { hub_id: HUB, user_id: "u" });
        if (kindOf(request) === "sync") return json(res, 200, { synced: [] });
        if (kindOf(request) !== "events") return void res.writeHead(204).end();
        streams.add(res);
        sse(res)('data: {"type":"connection_ready"}\n\n');
      });
      const { link: l3 } = makeLink(other.url, { eventIds: second.eventIds });
      await l3.start(() => undefined, new AbortController().signal);
      expect(lastIdsSent(other)).toEqual([null]);
      await l3.close();
      second.close();

      // An id stored unusable (by an older version) is dropped at start, with a warning.
      const db = new DatabaseSync(join(dir, OUTBOX_DB_FILE));
      const scope = `${relay.url} ${HUB}`;
      db.prepare("UPDATE outbox_meta SET value = ? WHERE key = 'last_event_id'").run(
        JSON.stringify({ scope, id: huge }),
      );
      db.close();
      const third = outbox();
      const { link: l4, logs } = makeLink(relay.url, { eventIds: third.eventIds });
      await l4.start(() => undefined, new AbortController().signal);
      expect(lastIdsSent(relay)).toEqual([null, "good-7", null]);
      expect(logs.text()).toContain("the stored last event id cannot be sent back");
      expect(third.eventIds.load(scope)).toBeNull();
      await l4.close();
    } finally {
      await other?.close();
      for (const box of boxes) box.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("when the stream opens again after heartbeats failed, a heartbeat goes out at once", async () => {
    let first: ServerResponse | null = null;
    const relay = await startRelay({
      heartbeat: (n, res) => {
        if (n > 1) return false;
        // One failure that asks for a long pause: the next regular heartbeat is minutes away.
        json(res, 429, errorBody("rate_limit_exceeded", "slow down"), { "retry-after": "300" });
        return true;
      },
      events: (n, res) => {
        if (n > 1) return false;
        first = res;
        streams.add(res);
        sse(res)('data: {"type":"connection_ready"}\n\n');
        return true;
      },
    });
    const { link: l } = makeLink(relay.url, { settings: { heartbeatIntervalMs: 20 } });
    await l.start(() => undefined, new AbortController().signal);
    await waitUntil(() => l.state().heartbeatFailures === 1, 5000, "a failed heartbeat");
    expect(l.state().heartbeatIntervalMs).toBe(300_000);
    first!.end(); // the relay ends the stream; the hub reconnects within tens of ms
    await waitUntil(
      () => calls(relay, "heartbeat").length === 2,
      5000,
      "the heartbeat after reopen",
    );
    await waitUntil(() => l.state().heartbeatFailures === 0, 5000, "heartbeats recovered");
    expect(calls(relay, "events")).toHaveLength(2);
    expect(l.state().heartbeatIntervalMs).toBe(20);
  });

  it("a 403 about the hub on heartbeat or sync is no refused key: retried, the link keeps running", async () => {
    const relay = await startRelay({
      heartbeat: (n, res) => {
        if (n > 2) return false;
        json(res, 403, { detail: `Hub ${HUB} is not connected` });
        return true;
      },
      sync: (n, res) => {
        if (n > 1) return false;
        json(res, 403, { detail: "Hub not owned by this API key" });
        return true;
      },
    });
    const { link: l } = makeLink(relay.url, { settings: { heartbeatIntervalMs: 10 } });
    const fatals: RelayAuthError[] = [];
    l.on("fatal", (error) => fatals.push(error));
    await l.start(() => undefined, new AbortController().signal);
    await waitUntil(() => calls(relay, "heartbeat").length >= 3, 5000, "heartbeats go on");
    await waitUntil(() => l.state().heartbeatFailures === 0, 5000, "heartbeats recovered");
    expect(fatals).toEqual([]);
    expect(l.state().connection).toBe("open");
    // The refused sync was not retried in a loop; connection_ready synced again.
    expect(calls(relay, "sync").length).toBeGreaterThanOrEqual(2);
  });

  it("a firewall's HTML 403 at register is no refused key: retried with backoff, then ready", async () => {
    const relay = await startRelay({
      register: (n, res) => {
        if (n > 3) return false;
        res.writeHead(403, { "content-type": "text/html" });
        res.end("<html><title>Blocked by policy</title></html>");
        return true;
      },
    });
    const { link: l, logs } = makeLink(relay.url);
    const fatals: RelayAuthError[] = [];
    l.on("fatal", (error) => fatals.push(error));
    await l.start(() => undefined, new AbortController().signal);
    expect(fatals).toEqual([]);
    expect(calls(relay, "register")).toHaveLength(4);
    expect(l.state()).toMatchObject({ ready: true, connection: "open" });
    expect(logs.text()).toContain("something other than the relay");
    expect(logs.text()).toContain("Blocked by policy");
  });

  it("aborting the start signal stops everything and leaves nothing running", async () => {
    const relay = await startRelay();
    const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const { link: l } = makeLink(relay.url, {
      settings: { heartbeatIntervalMs: 20, resyncIntervalMs: 30 },
    });
    const controller = new AbortController();
    await l.start(() => undefined, controller.signal);
    await waitUntil(() => calls(relay, "heartbeat").length >= 1, 5000, "a heartbeat");
    controller.abort();
    await l.close();
    expect(l.state().connection).toBe("stopped");
    const seen = relay.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(relay.requests.length).toBe(seen);
    const after = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    expect(after).toBeLessThanOrEqual(before);
  });

  it("start resolves when aborted before ready (relay unreachable)", async () => {
    const relay = await startRelay({
      register: (_n, res) => {
        res.destroy();
        return true;
      },
    });
    const { link: l } = makeLink(relay.url);
    const controller = new AbortController();
    const started = l.start(() => undefined, controller.signal);
    await waitUntil(() => calls(relay, "register").length >= 2, 5000, "register retries");
    expect(l.state()).toMatchObject({ connection: "connecting", registered: false });
    expect(l.state().lastError).toContain("register");
    controller.abort();
    await started;
    await l.close();
    expect(l.state()).toMatchObject({ connection: "stopped", ready: false, registered: false });
  });
});

/** A manual clock that also remembers every wait it was asked for. */
class RecordingClock extends ManualClock {
  readonly waits: number[] = [];
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.waits.push(ms);
    return super.sleep(ms, signal);
  }
}

// The loops on a hand-moved clock: which wait each failure chooses, and that nothing is sent
// before it is due (random 0.5: full jitter waits half the ceiling, base 10, cap 40).
describe("RelayLink loops on a manual clock", () => {
  const count = (s: ScriptedServer, kind: string) => calls(s, kind).length;

  it("register: Retry-After is a floor under the backoff; nothing is sent before it is due", async () => {
    const relay = await startRelay({
      register: (n, res) => {
        if (n > 1) return false;
        json(res, 429, errorBody("rate_limit_exceeded", "slow down"), { "retry-after": "7" });
        return true;
      },
    });
    const clock = new RecordingClock();
    const { link: l } = makeLink(relay.url, { clock });
    const started = l.start(() => undefined, new AbortController().signal);
    await waitUntil(() => clock.waits.length === 1, 5000, "the wait after the refused register");
    expect(clock.waits).toEqual([7000]); // the backoff alone would wait 5 ms
    await clock.advance(6999);
    expect(count(relay, "register")).toBe(1);
    await clock.advance(1);
    await started;
    expect(count(relay, "register")).toBe(2);
  });

  it("register: failures double the wait; a success starts the next re-registration over", async () => {
    const relay = await startRelay({
      register: (n, res) => {
        if (n === 4 || n > 5) return false;
        res.writeHead(503).end();
        return true;
      },
      heartbeat: (n, res) => {
        if (n > 1) return false;
        json(res, 404, errorBody("hub_not_found", "Hub not registered"));
        return true;
      },
    });
    const clock = new RecordingClock();
    const { link: l } = makeLink(relay.url, { clock });
    const started = l.start(() => undefined, new AbortController().signal);
    for (let failures = 1; failures <= 3; failures += 1) {
      await waitUntil(() => clock.waits.length === failures, 5000, `register failure ${failures}`);
      await clock.advance(clock.waits.at(-1) ?? 0);
    }
    await started;
    expect(clock.waits).toEqual([5, 10, 20, 60_000]); // then the heartbeat period
    await clock.advance(60_000); // the heartbeat: 404, so register again; it fails once
    await waitUntil(() => clock.waits.length === 5, 5000, "the wait after it failed");
    expect(clock.waits[4]).toBe(5); // from the start, not 40
    await clock.advance(5);
    await waitUntil(() => clock.waits.length === 6, 5000, "the heartbeat's next wait");
    // Heartbeats back off from twice their period with equal jitter: 0.5 of [60 s, 120 s).
    expect(clock.waits[5]).toBe(90_000);
    expect(count(relay, "register")).toBe(6);
  });

  it("the sync debounce and the periodic re-sync run on the link's clock: nothing before it is due", async () => {
    const relay = await startRelay();
    const clock = new RecordingClock();
    let roster = [agent("aaaaaaaaaaaa")];
    const { link: l } = makeLink(relay.url, {
      clock,
      roster: () => roster,
      settings: { syncDebounceMs: 1_000, resyncIntervalMs: 600_000, heartbeatIntervalMs: 900_000 },
    });
    await l.start(() => undefined, new AbortController().signal);
    // The boot sync and the forced one after connection_ready.
    await waitUntil(
      () => count(relay, "sync") === 2 && l.state().lastSyncAt !== null,
      5000,
      "boot syncs",
    );
    roster = [agent("aaaaaaaaaaaa"), agent("bbbbbbbbbbbb")];
    l.requestSync();
    await clock.advance(999);
    expect(count(relay, "sync")).toBe(2);
    await clock.advance(1);
    await waitUntil(() => count(relay, "sync") === 3, 5000, "the debounced sync");
    await clock.advance(598_999); // 599,999 ms since the timer was set at start
    expect(count(relay, "sync")).toBe(3);
    await clock.advance(1);
    await waitUntil(() => count(relay, "sync") === 4, 5000, "the periodic re-sync");
    expect(l.state().agentsSynced).toBe(2);
  });

  it("sync: Retry-After is a floor, and the backoff keeps growing under it", async () => {
    const relay = await startRelay({
      sync: (n, res) => {
        if (n === 1) {
          json(res, 429, errorBody("rate_limit_exceeded", "slow down"), { "retry-after": "3" });
          return true;
        }
        if (n === 2 || n === 3) {
          res.writeHead(502).end();
          return true;
        }
        return false;
      },
    });
    const clock = new RecordingClock();
    const { link: l } = makeLink(relay.url, { clock });
    const started = l.start(() => undefined, new AbortController().signal);
    await waitUntil(() => clock.waits.length === 1, 5000, "the wait after the first sync");
    expect(clock.waits).toEqual([3000]);
    await clock.advance(2999);
    expect(count(relay, "sync")).toBe(1);
    await clock.advance(1);
    await waitUntil(() => clock.waits.length === 2, 5000, "the second failure");
    await clock.advance(clock.waits.at(-1) ?? 0);
    await waitUntil(() => clock.waits.length === 3, 5000, "the third failure");
    expect(clock.waits).toEqual([3000, 10, 20]);
    await clock.advance(20);
    await started;
    expect(count(relay, "sync")).toBeGreaterThanOrEqual(4);
  });
});
