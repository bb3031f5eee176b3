// HybroGateway through the whole path: SDK → development relay → real hub → real A2A agents
// (@a2a-js/sdk) → hub → relay → SDK.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayStreamEvent, HybroGateway } from "../../src/sdk/index.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { chunkText } from "../support/events.ts";
import { type Stack, startStack } from "../support/stack.ts";

let stack: Stack;
let echo: TestAgent;
let streamer: TestAgent;
let slow: TestAgent;
let gateway: HybroGateway;

beforeAll(async () => {
  echo = await startTestAgent({
    dialect: "0.3",
    streaming: false,
    behaviour: "echo",
    name: "Echo03",
  });
  streamer = await startTestAgent({
    dialect: "1.0",
    streaming: true,
    behaviour: "chunks",
    name: "Streamer",
    chunkCount: 4,
  });
  slow = await startTestAgent({
    dialect: "1.0",
    streaming: true,
    behaviour: "chunks",
    name: "Slow",
    chunkCount: 50,
    delayMs: 200,
  });
  stack = await startStack({
    agents: [
      { name: "Echo03", url: echo.url },
      { name: "Streamer", url: streamer.url },
      { name: "Slow", url: slow.url },
    ],
  });
  gateway = new HybroGateway({
    apiKey: stack.key,
    baseUrl: `${stack.relay.url}/api/v1`,
    maxRetries: 0,
  });
});

afterAll(async () => {
  await gateway?.close();
  await stack?.close();
  await Promise.all([echo, streamer, slow].map((agent) => agent?.close()));
});

describe("HybroGateway with the real hub", () => {
  it("discover finds the agent and send returns its answer", async () => {
    const id = await stack.agentId("Echo03");
    const agents = await gateway.discover("Echo03");
    expect(agents.map((a) => a.agent_id)).toContain(id);
    const result = await gateway.send(id, "hello hub", { contextId: "ctx-hub-1" });
    expect(result.state).toBe("completed");
    expect(result.text).toBe("echo: hello hub");
    expect(echo.received.at(-1)).toMatchObject({ contextId: "ctx-hub-1" });
  });

  it("stream yields the chunks in order", async () => {
    const id = await stack.agentId("Streamer");
    const events: GatewayStreamEvent[] = [];
    for await (const event of gateway.stream(id, "go")) events.push(event);
    expect(events[0]?.type).toBe("task_submitted");
    expect(events.at(-1)).toMatchObject({
      type: "processing_status",
      data: { status: "completed" },
    });
    const text = events.map((e) => chunkText(e)).join("");
    expect(text).toBe("chunk 0 chunk 1 chunk 2 chunk 3 ");
  });

  it("breaking out of the stream cancels the turn at the agent", async () => {
    const id = await stack.agentId("Slow");
    for await (const event of gateway.stream(id, "go")) {
      if (event.type === "artifact_update") break;
    }
    const deadline = Date.now() + 10_000;
    while (slow.cancels.length === 0 && Date.now() < deadline) await sleep(25);
    expect(slow.cancels).toHaveLength(1);
  });
});
