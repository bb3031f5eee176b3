// The inspector's server on a real hub (development relay, an @a2a-js/sdk agent, loopback): who
// gets in (token, Host, Origin), what the API and the live stream show of a turn, and a local
// replay that never reaches the relay.
import { request } from "node:http";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inspector } from "../../src/inspector/index.ts";
import type { TurnDetail, TurnSummary } from "../../src/inspector/recorder.ts";
import { InspectorServer } from "../../src/inspector/server.ts";
import { silentLogger } from "../../src/log/logger.ts";
import type { TestAgent } from "../support/a2a-agents.ts";
import { type Stack, textOf } from "../support/stack.ts";
import { inspectedEcho } from "./support.ts";

/** A raw request (fetch will not send another Host). */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Reads the live stream until `done(event, data)` holds; resolves with that data. */
async function untilLive<T>(
  url: string,
  done: (event: string, data: unknown) => T | null,
  signal: AbortSignal,
): Promise<T> {
  const response = await fetch(`${url}api/events`, { signal });
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  let found: T | null = null;
  const parser = createParser({
    onEvent: (message) => {
      found ??= done(message.event ?? "message", JSON.parse(message.data));
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (found !== null) return found;
  }
  throw new Error("the live stream ended");
}

describe("the inspector's server", () => {
  let agent: TestAgent;
  let stack: Stack;
  let inspector: Inspector;
  let url: string;
  let agentId: string;

  beforeAll(async () => {
    ({ agent, inspector, stack, url } = await inspectedEcho({ turnsPushMs: 20, statePushMs: 50 }));
    agentId = await stack.agentId("Echo");
  });
  afterAll(async () => {
    await inspector?.close();
    await stack?.close();
    await agent?.close();
  });

  it("listens on loopback only, and refuses to listen anywhere else", async () => {
    expect(new URL(url).hostname).toBe("127.0.0.1");
    const exposed = new InspectorServer({
      address: { host: "0.0.0.0", port: 0 },
      token: "t",
      recorder: inspector.recorder,
      sources: {
        snapshot: () => stack.daemon.snapshot(),
        relayState: () => stack.daemon.link.state(),
        syncPayload: () => [],
        limitOf: () => null,
      },
      replay: null,
      logger: silentLogger(),
    });
    await expect(exposed.listen()).rejects.toThrow(/loopback only/);
  });

  it("answers 401 without the token, 403 to a foreign Origin or a Host that is not loopback", async () => {
    const origin = new URL(url).origin;
    const wrongToken = url.replace(/\/t\/[^/]+\//, "/t/not-the-token/");
    for (const target of [
      `${origin}/`,
      `${origin}/api/turns`,
      `${wrongToken}api/turns`,
      `${origin}/app.js`,
    ]) {
      const answer = await raw(target);
      expect(answer.status, target).toBe(401);
      expect(answer.body).not.toMatch(/turns|room/);
    }
    expect((await raw(`${url}api/turns`)).status).toBe(200);
    const foreign = await raw(`${url}api/turns`, { headers: { origin: "http://evil.example" } });
    expect(foreign.status).toBe(403);
    expect(foreign.body).not.toContain("turns");
    // DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser sends that name.
    const rebound = await raw(`${url}api/turns`, {
      headers: { host: `attacker.example:${new URL(url).port}` },
    });
    expect(rebound.status).toBe(403);
    const sameOrigin = await raw(`${url}api/turns`, { headers: { origin } });
    expect(sameOrigin.status).toBe(200);
  });

  it("shows a turn live, then its timeline in order with response_seq and acknowledgements", async () => {
    const live = new AbortController();
    const sent = `hello inspector ${Date.now()}`;
    const seen = untilLive<TurnSummary>(
      url,
      (event, data) => {
        if (event !== "turns") return null;
        const turn = (data as { turns: TurnSummary[] }).turns.find(
          (t) => t.state === "completed" && t.times.publishedAt !== null && t.agentName === "Echo",
        );
        return turn ?? null;
      },
      live.signal,
    );
    const reply = await stack.send(agentId, sent);
    expect(textOf(reply)).toContain(sent);
    const summary = await seen;
    live.abort();
    expect(summary.publishedEvents).toBeGreaterThanOrEqual(3);
    expect(summary.ackedEvents).toBe(summary.publishedEvents);
    expect(summary.bytesOut).toBeGreaterThan(0);

    const detail = (await (await fetch(`${url}api/turns/${summary.id}`)).json()) as TurnDetail;
    const order = detail.timeline.map((e) => (e.type === "published" ? e.eventType : e.type));
    expect(order[0]).toBe("command");
    expect(order[1]).toBe("started");
    expect(order.at(-1)).toBe("processing_status");
    expect(order).toContain("a2a");
    expect(order.indexOf("task_submitted")).toBeLessThan(order.indexOf("a2a"));
    // The agent's streamed events come in before what the hub published of them.
    expect(order.indexOf("a2a")).toBeLessThan(order.indexOf("artifact_update"));
    expect(order.lastIndexOf("a2a")).toBeLessThan(order.indexOf("processing_status"));
    expect(detail.answer).toBe(`echo: ${sent}`);
    const published = detail.timeline.filter((e) => e.type === "published");
    const seqs = published.map((e) => e.responseSeq as number);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(published.every((e) => e.ackedAt !== null)).toBe(true);
    // The relay got exactly these events, with these response_seq.
    const atRelay = stack.relay.eventsFor(summary.id).map((e) => e.data.response_seq);
    expect(atRelay).toEqual(seqs);
    const command = detail.timeline[0] as Extract<
      TurnDetail["timeline"][number],
      { type: "command" }
    >;
    expect(command.payload.json).toContain(sent);
  });

  it("replays a turn on the same agent locally: the answer, and nothing sent to the relay", async () => {
    const reply = await stack.send(agentId, "replay me");
    const id = String(reply.body.result?.metadata?.agent_message_id);
    const turnsAtRelay = stack.relay.hubs()[0]?.agents.length;
    const postsBefore = stack.relay.publishStats().posts;
    const receivedBefore = agent.received.length;
    const foreign = await raw(`${url}api/turns/${id}/replay`, {
      method: "POST",
      headers: { origin: "http://evil.example" },
    });
    expect(foreign.status).toBe(403);
    expect(agent.received.length).toBe(receivedBefore);

    const answer = (await (
      await fetch(`${url}api/turns/${id}/replay`, { method: "POST" })
    ).json()) as {
      status: string;
      text: string;
    };
    expect(answer).toMatchObject({ status: "completed", text: "echo: replay me" });
    expect(agent.received.length).toBe(receivedBefore + 1);
    const replayed = agent.received.at(-1) as Record<string, unknown>;
    expect(replayed.taskId).toBeUndefined();
    expect(replayed.messageId).not.toBe(
      (agent.received.at(-2) as Record<string, unknown>).messageId,
    );
    expect(stack.relay.publishStats().posts).toBe(postsBefore);
    expect(stack.relay.hubs()[0]?.agents.length).toBe(turnsAtRelay);
    // Kept with the turn for the page.
    const detail = (await (await fetch(`${url}api/turns/${id}`)).json()) as TurnDetail;
    expect(detail.replay?.text).toBe("echo: replay me");
  });

  it("shows the agents and the relay link from what the hub reports", async () => {
    const { agents } = (await (await fetch(`${url}api/agents`)).json()) as {
      agents: Array<Record<string, unknown>>;
    };
    expect(agents).toEqual([
      expect.objectContaining({
        name: "Echo",
        transport: "http",
        healthy: true,
        keptByRelay: true,
        limit: expect.any(Number),
        card: expect.objectContaining({ name: "Echo" }),
      }),
    ]);
    const relay = (await (await fetch(`${url}api/relay`)).json()) as Record<string, unknown>;
    expect(relay).toMatchObject({ connection: "open", registered: true, ready: true });
    expect(relay.connectedSince).toEqual(expect.any(Number));
    expect((relay.publish as { batches: number }).batches).toBeGreaterThan(0);
  });
});
