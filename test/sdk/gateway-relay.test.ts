// HybroGateway against the real development relay, with a scripted hub answering the turns.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import {
  AccessDeniedError,
  AgentNotFoundError,
  AuthError,
  type GatewayStreamEvent,
  HybroGateway,
  RateLimitError,
} from "../../src/sdk/index.ts";
import { chunkText } from "../support/events.ts";
import {
  echoScript,
  type ScriptedHub,
  startScriptedHub,
  streamingEchoScript,
  type TurnScript,
  waitForCancelScript,
} from "../support/scripted-hub.ts";

/** Routes by the first word: "stream …" streams word by word, "wait" waits for a cancel. */
const script: TurnScript = (turn) => {
  if (turn.text.startsWith("stream ")) return streamingEchoScript(turn);
  if (turn.text === "wait") return waitForCancelScript(turn);
  if (turn.text === "fail") return turn.submitted().then(() => turn.fail("it broke"));
  return echoScript(turn);
};

let relay: DevRelay;
let hub: ScriptedHub;
let userKey: string;

beforeAll(async () => {
  relay = await startDevRelay({ port: 0, memory: true });
  const hubKey = relay.createKey({ name: "hub", scopes: ["relay:hub"] }).key;
  userKey = relay.createKey({ name: "sdk", scopes: ["gateway:*"] }).key;
  hub = await startScriptedHub({ relayUrl: relay.url, apiKey: hubKey, script });
});

afterAll(async () => {
  await hub?.close();
  await relay?.close();
});

function client(options: { apiKey?: string; maxRetries?: number } = {}): HybroGateway {
  return new HybroGateway({
    apiKey: options.apiKey ?? userKey,
    baseUrl: `${relay.url}/api/v1/`,
    maxRetries: options.maxRetries ?? 0,
  });
}

describe("HybroGateway against the development relay", () => {
  it("discover finds the hub's agent, with its card URL masked", async () => {
    await using gw = client();
    const agents = await gw.discover("echo", { limit: 5 });
    const found = agents.find((a) => a.agent_id === hub.agentId);
    expect(found?.agent_card["name"]).toBe("Echo Agent");
    expect(String(found?.agent_card["url"])).not.toContain("localhost:9");
    expect(found?.match_score).toBeGreaterThan(0);
    expect(gw.rateLimit?.limit).toBe(200);
    expect(gw.rateLimit?.remaining).toBeLessThan(200);
    expect(gw.rateLimit?.resetS).toBeGreaterThan(0);
    // Sliding window: the first request's time + 1 h, as a Unix second rounded up (≤ 1 s more).
    expect(gw.rateLimit?.resetS).toBeLessThanOrEqual(3601);
  });

  it("send returns the agent's answer and keeps the given context", async () => {
    await using gw = client();
    const result = await gw.send(hub.agentId, "hello there", { contextId: "ctx-send-1" });
    expect(result.state).toBe("completed");
    expect(result.text).toBe("echo: hello there [context ctx-send-1]");
    expect(result.contextId).toBe("ctx-send-1");
    expect(result.raw.result.kind).toBe("task");
    const second = await gw.send(hub.agentId, "again", { contextId: result.contextId });
    expect(second.text).toBe("echo: again [context ctx-send-1]");
  });

  it("send of a new conversation makes a context id; a failed turn is a failed task", async () => {
    await using gw = client();
    const fresh = await gw.send(hub.agentId, "hi");
    expect(fresh.text).toBe(`echo: hi [context ${fresh.contextId}]`);
    const failed = await gw.send(hub.agentId, "fail");
    expect(failed.state).toBe("failed");
    expect(failed.text).toContain("it broke");
  });

  it("stream yields the turn's events in order and ends after processing_status", async () => {
    await using gw = client();
    const events: GatewayStreamEvent[] = [];
    for await (const event of gw.stream(hub.agentId, "stream one two three")) events.push(event);
    expect(events.map((e) => e.type)).toEqual([
      "task_submitted",
      "task_status",
      "artifact_update",
      "artifact_update",
      "artifact_update",
      "artifact_update",
      "artifact_update",
      "processing_status",
    ]);
    const text = events.map((e) => chunkText(e)).join("");
    expect(text).toBe("echo: stream one two three");
  });

  it("breaking out of the stream makes the relay send cancel_task to the hub", async () => {
    await using gw = client();
    let taskId = "";
    for await (const event of gw.stream(hub.agentId, "wait")) {
      if (event.type === "task_status") taskId = event.data.task_id ?? "";
      if (event.type === "artifact_update") break;
    }
    const cancel = await hub.waitForCommand("cancel_task", (c) => c.task_id === taskId);
    expect(cancel.local_agent_id).toBe(hub.localAgentId);
    expect(taskId).not.toBe("");
  });

  it("getCard returns the masked card", async () => {
    await using gw = client();
    const card = await gw.getCard(hub.agentId);
    expect(card.agent_id).toBe(hub.agentId);
    expect(card.agent_card["name"]).toBe("Echo Agent");
    expect(String(card.agent_card["url"])).toContain(hub.agentId);
  });

  it("a bad key is an AuthError", async () => {
    await using gw = client({ apiKey: "hybro_0000000000000000000000000000000000000000" });
    const error = await gw.discover("echo").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ status: 401, code: "invalid_api_key" });
    expect((error as Error).message).not.toContain("hybro_0000");
  });

  it("a key without gateway:send is an AccessDeniedError naming the scope", async () => {
    const readOnly = relay.createKey({ name: "read-only", scopes: ["gateway:read"] }).key;
    await using gw = client({ apiKey: readOnly });
    const error = await gw.send(hub.agentId, "hi").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect(error).toMatchObject({
      status: 403,
      code: "insufficient_scope",
      requiredScope: "gateway:send",
    });
    expect((error as AccessDeniedError).providedScopes).toEqual(["gateway:read"]);
    // The stream fails the same way, on its first step.
    const streamError = await gw
      .stream(hub.agentId, "hi")
      .next()
      .catch((e: unknown) => e);
    expect(streamError).toBeInstanceOf(AccessDeniedError);
  });

  it("an unknown agent is an AgentNotFoundError", async () => {
    await using gw = client();
    const error = await gw.send("agt_000000000000", "hi").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentNotFoundError);
    expect(error).toMatchObject({ status: 404, code: "not_found" });
    await expect(gw.getCard("agt_000000000000")).rejects.toBeInstanceOf(AgentNotFoundError);
  });
});

describe("rate limits of the development relay", () => {
  let limited: DevRelay;
  let limitedHub: ScriptedHub;
  let key: string;

  beforeAll(async () => {
    limited = await startDevRelay({
      port: 0,
      memory: true,
      rateLimits: { gateway: { key: [{ limit: 2, windowMs: 3_600_000 }] } },
    });
    const hubKey = limited.createKey({ name: "hub", scopes: ["relay:hub"] }).key;
    key = limited.createKey({ name: "sdk", scopes: ["gateway:*"] }).key;
    limitedHub = await startScriptedHub({ relayUrl: limited.url, apiKey: hubKey });
  });
  afterAll(async () => {
    await limitedHub?.close();
    await limited?.close();
  });

  it("the exhausted limit is a RateLimitError with retryAfterS, and rateLimit shows 0 left", async () => {
    await using gw = new HybroGateway({
      apiKey: key,
      baseUrl: `${limited.url}/api/v1`,
      maxRetries: 0,
    });
    await gw.send(limitedHub.agentId, "one");
    await gw.send(limitedHub.agentId, "two");
    expect(gw.rateLimit).toMatchObject({ limit: 2, remaining: 0 });
    const error = await gw.send(limitedHub.agentId, "three").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    const rateError = error as RateLimitError;
    expect(rateError.status).toBe(429);
    expect(rateError.code).toBe("rate_limit_exceeded");
    expect(rateError.message).toBe("Rate limit exceeded: 2 requests per hour");
    expect(rateError.retryAfterS).toBeGreaterThanOrEqual(1);
    expect(rateError.retryAfterS).toBeLessThanOrEqual(3600);
  });
});
