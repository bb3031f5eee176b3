// Agents that answer as the third-party A2A frameworks tried by hand answer (README, "Tried with
// other frameworks"): @voltagent/a2a-server 2.0.3 and @mastra/server 1.67 (through @mastra/hono
// 1.7.9), each shape copied from what the framework sent, served by a raw node:http agent, through
// the development relay and a real hub.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roomOf } from "../support/events.ts";
import { type RawAgent, startRawAgent, v03 } from "../support/raw-agent.ts";
import type { GatewayReply, Stack } from "../support/stack.ts";
import { startStack, textOf } from "../support/stack.ts";

let stack: Stack;
const agents: RawAgent[] = [];

const ANSWER = "You said: hi\nline two\n";

/** VoltAgent's stream: the whole task again for every chunk, no `kind`, the text so far in the status. */
const voltSnapshot = (text: string | null, state: string) => ({
  id: "volt-task-1",
  contextId: "volt-ctx-1",
  history: [],
  status: {
    state,
    timestamp: "2026-11-30T07:19:25.160Z",
    ...(text === null
      ? {}
      : {
          message: {
            kind: "message",
            role: "agent",
            messageId: "volt-msg-1",
            parts: [{ kind: "text", text }],
            taskId: "volt-task-1",
            contextId: "volt-ctx-1",
          },
        }),
  },
});

/** Mastra's text chunks: the first has no `append` at all (replace), the others `append: true`. */
const mastraChunk = (text: string, first: boolean, last: boolean) => ({
  kind: "artifact-update",
  taskId: "mastra-task-1",
  contextId: "mastra-ctx-1",
  ...(first ? {} : { append: true }),
  lastChunk: last,
  artifact: {
    artifactId: "mastra-task-1:response:text",
    name: "response.txt",
    parts: [{ kind: "text", text }],
  },
});

beforeAll(async () => {
  const volt = await startRawAgent("volt", {
    // No `description` on the card (an agent without `purpose`), nor on the tool's skill.
    card: { description: undefined, skills: [{ id: "lookup", name: "lookup", tags: ["tool"] }] },
    async stream(_request, out) {
      await out.result(voltSnapshot(null, "working"));
      let sofar = "";
      for (const piece of ["You sai", "d: hi\nl", "ine two", "\n"]) {
        sofar += piece;
        await out.result(voltSnapshot(sofar, "working"));
      }
      await out.result(voltSnapshot(ANSWER, "completed"));
    },
  });
  const mastra = await startRawAgent("mastra", {
    async stream(_request, out) {
      await out.result(v03.task("mastra-task-1", "working"));
      await out.result(mastraChunk("You sai", true, false));
      await out.result(mastraChunk("d: hi\nline two", false, false));
      await out.result(mastraChunk("\n", false, true));
      await out.result(v03.status("mastra-task-1", "completed", true));
    },
  });
  agents.push(volt, mastra);
  stack = await startStack({
    agents: [
      { name: "volt", url: volt.url },
      { name: "mastra", url: mastra.url },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  await Promise.all(agents.map((agent) => agent.close()));
});

async function relayCard(name: string): Promise<Record<string, unknown> | undefined> {
  const response = await fetch(`${stack.relay.url}/api/v1/gateway/agents/discover`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": stack.key },
    body: JSON.stringify({ query: name, limit: 50 }),
  });
  const body = (await response.json()) as {
    agents: Array<{ agent_card: Record<string, unknown> }>;
  };
  return body.agents.find((agent) => agent.agent_card.name === name)?.agent_card;
}

const state = (reply: GatewayReply) => reply.body.result?.status.state;

describe("agents shaped as third-party A2A frameworks", () => {
  it("VoltAgent: a card without descriptions is served; task snapshots give the exact answer once", async () => {
    const id = await stack.agentId("volt");
    expect(await relayCard("volt")).toMatchObject({ description: "", skills: [{ id: "lookup" }] });
    const reply = await stack.send(id, "hi");
    expect(state(reply)).toBe("completed");
    expect(textOf(reply)).toBe(ANSWER);
    expect(reply.body.result?.id).toBe("volt-task-1");
    const events = stack.relay.eventsFor(String(reply.body.result?.metadata?.agent_message_id));
    expect(roomOf(events).text).toBe(ANSWER);
    // Five snapshots carried the text; the room got it once.
    expect(JSON.stringify(events).split("line two").length - 1).toBe(1);
  });

  it("Mastra: a first chunk without `append` starts the artifact; the rest is added in order", async () => {
    const reply = await stack.send(await stack.agentId("mastra"), "hi");
    expect(state(reply)).toBe("completed");
    expect(textOf(reply)).toBe(ANSWER);
    const task = reply.body.result as { artifacts?: Array<{ artifactId: string; name?: string }> };
    expect(task.artifacts?.map((a) => [a.artifactId, a.name])).toEqual([
      ["mastra-task-1:response:text", "response.txt"],
    ]);
  });
});
