// A stream that breaks mid-turn (agent connection cut) is not the end of the turn: the agent
// keeps working, so the turn follows the task with tasks/get and publishes its real result.
import { afterEach, describe, expect, it } from "vitest";
import { A2AClient } from "../../src/a2a/client.ts";
import { HttpTransport } from "../../src/agents/transports/http.ts";
import { runTurn } from "../../src/hub/turn.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { FaultProxy } from "../faults/fault-proxy.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { roomOf } from "../support/events.ts";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function throughProxy(agent: TestAgent) {
  const proxy = await FaultProxy.start(agent.url, () => "agent");
  const transport = new HttpTransport({ baseUrl: proxy.url });
  const rpc = `${proxy.url}${new URL(agent.rpcUrl).pathname}`;
  transport.useEndpoints({ "1.0": rpc, "0.3": rpc });
  cleanups.push(
    () => transport.close(),
    () => proxy.close(),
  );
  return { proxy, client: new A2AClient({ transport, primary: "1.0", fallback: "0.3" }) };
}

/** A v1.0 agent that streams 8 chunks 40 ms apart: slow enough to cut mid-stream. */
const startChunksAgent = () =>
  startTestAgent({
    dialect: "1.0",
    streaming: true,
    behaviour: "chunks",
    chunkCount: 8,
    delayMs: 40,
    name: "Chunks",
  });

const input = (streaming: boolean) => ({
  agentMessageId: "amsg-resume",
  localAgentId: "aaaaaaaaaaaa",
  agentName: "Chunks",
  userMessageId: "umsg-resume",
  hubTaskId: "hubtask-resume",
  message: { role: "user", messageId: "m-resume", parts: [{ kind: "text", text: "count" }] },
  streaming,
});

describe("a stream cut mid-turn", () => {
  it("follows the task with tasks/get and completes with the agent's full answer", async () => {
    const agent = await startChunksAgent();
    cleanups.push(() => agent.close());
    const { proxy, client } = await throughProxy(agent);
    const events: PublishedEvent[] = [];
    let cut = false;
    const outcome = await runTurn(
      input(true),
      client,
      (batch) => {
        events.push(...batch);
        if (!cut && events.filter((event) => event.type === "artifact_update").length >= 2) {
          cut = true;
          proxy.dropAll();
        }
      },
      { signal: new AbortController().signal, settings: { pollIntervalMs: 50 } },
    );
    expect(cut).toBe(true);
    expect(proxy.counts.connectionsCut).toBeGreaterThan(0);
    expect(outcome.status).toBe("completed");
    expect(agent.calls.map((call) => call.method)).toContain("GetTask");
    const terminal = events.at(-1);
    expect(terminal).toMatchObject({ type: "processing_status", data: { status: "completed" } });
    // The answer the stream could not finish arrives whole from tasks/get, replacing the chunks.
    const room = roomOf(events);
    expect(room.state).toBe("completed");
    expect(room.text).toBe(Array.from({ length: 8 }, (_, i) => `chunk ${i} `).join(""));
  });

  it("still fails the turn when the agent is gone for good", async () => {
    const agent = await startChunksAgent();
    const { proxy, client } = await throughProxy(agent);
    let cut = false;
    const outcome = await runTurn(
      input(true),
      client,
      (batch) => {
        if (!cut && batch.some((event) => event.type === "artifact_update")) {
          cut = true;
          void agent.close();
          proxy.dropAll();
        }
      },
      { signal: new AbortController().signal, settings: { pollIntervalMs: 50 } },
    );
    expect(outcome.status).toBe("failed");
    expect(outcome.errorType).toBeDefined();
  });
});
