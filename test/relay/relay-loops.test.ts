// The relay link's loops on a hand-moved clock: which wait each failure chooses, and that
// nothing is sent before it is due. The relay is a scripted server over loopback.
import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { RelayLink } from "../../src/relay/relay-link.ts";
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

const HUB = "11112222333344445555666677778888";

/** A manual clock that also remembers every wait it was asked for. */
class RecordingClock extends ManualClock {
  readonly waits: number[] = [];
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.waits.push(ms);
    return super.sleep(ms, signal);
  }
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

type Answer = (n: number, res: ServerResponse) => boolean;

async function startRelay(script: { register?: Answer; heartbeat?: Answer; sync?: Answer }) {
  const counts = new Map<string, number>();
  server = await startScriptedServer((request: RecordedRequest, res) => {
    const kind = request.path.split("/").at(-1) ?? "";
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    if (kind === "register") {
      if (script.register?.(n, res)) return;
      return json(res, 200, { hub_id: HUB, user_id: "usr_1" });
    }
    if (kind === "sync") {
      if (script.sync?.(n, res)) return;
      return json(res, 200, { synced: [] });
    }
    if (kind === "heartbeat") {
      if (script.heartbeat?.(n, res)) return;
      res.writeHead(204).end();
      return;
    }
    if (kind === "events") {
      streams.add(res);
      res.on("close", () => streams.delete(res));
      sse(res)('data: {"type":"connection_ready"}\n\n');
      return;
    }
    json(res, 404, errorBody("not_found", "no"));
  });
  return server;
}

function makeLink(url: string, clock: ManualClock): RelayLink {
  link = new RelayLink({
    gatewayUrl: url,
    apiKey: () => "hybro_loops_test_key_0123456789abcdefgh",
    keySource: "HYBRO_API_KEY",
    hubId: HUB,
    logger: capturingLogger().logger,
    roster: () => [],
    env: {},
    random: () => 0.5,
    clock,
    settings: {
      reconnectBaseDelayMs: 100,
      reconnectMaxDelayMs: 400,
      heartbeatIntervalMs: 60_000,
      maxHeartbeatIntervalMs: 300_000,
      resyncIntervalMs: 3_600_000,
    },
  });
  return link;
}

const count = (s: ScriptedServer, kind: string) =>
  s.requests.filter((r) => r.path.endsWith(`/${kind}`)).length;

describe("RelayLink loops on a manual clock", () => {
  it("register: Retry-After is a floor under the backoff; nothing is sent before it is due", async () => {
    const relay = await startRelay({
      register: (n, res) => {
        if (n > 1) return false;
        json(res, 429, errorBody("rate_limit_exceeded", "slow down"), { "retry-after": "7" });
        return true;
      },
    });
    const clock = new RecordingClock();
    const started = makeLink(relay.url, clock).start(() => undefined, new AbortController().signal);
    await waitUntil(() => clock.waits.length === 1, 5000, "the wait after the refused register");
    // The backoff alone would wait 50 ms (full jitter at 0.5 under 100).
    expect(clock.waits).toEqual([7000]);
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
    const started = makeLink(relay.url, clock).start(() => undefined, new AbortController().signal);
    for (let failures = 1; failures <= 3; failures += 1) {
      await waitUntil(() => clock.waits.length === failures, 5000, `register failure ${failures}`);
      await clock.advance(clock.waits.at(-1) ?? 0);
    }
    await started;
    expect(clock.waits).toEqual([50, 100, 200, 60_000]); // then the heartbeat period
    await clock.advance(60_000); // the heartbeat: 404, so register again; it fails once
    await waitUntil(() => count(relay, "register") === 5, 5000, "the re-registration");
    await waitUntil(() => clock.waits.length === 5, 5000, "the wait after it failed");
    expect(clock.waits[4]).toBe(50); // from the start, not 400
    await clock.advance(50);
    await waitUntil(() => clock.waits.length === 6, 5000, "the heartbeat's next wait");
    // Heartbeats back off from twice their period, equal jitter: 0.5 of [60 s, 120 s).
    expect(clock.waits[5]).toBe(90_000);
    expect(count(relay, "register")).toBe(6);
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
    const started = makeLink(relay.url, clock).start(() => undefined, new AbortController().signal);
    await waitUntil(() => clock.waits.length === 1, 5000, "the wait after the first sync");
    expect(clock.waits).toEqual([3000]);
    await clock.advance(2999);
    expect(count(relay, "sync")).toBe(1);
    await clock.advance(1);
    await waitUntil(() => clock.waits.length === 2, 5000, "the second failure");
    await clock.advance(clock.waits.at(-1) ?? 0);
    await waitUntil(() => count(relay, "sync") === 3, 5000, "the third sync");
    await waitUntil(() => clock.waits.length === 3, 5000, "the third failure");
    expect(clock.waits).toEqual([3000, 100, 200]);
    await clock.advance(200);
    await started;
    expect(count(relay, "sync")).toBeGreaterThanOrEqual(4);
  });
});
