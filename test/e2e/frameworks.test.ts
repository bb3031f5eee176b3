// Agents that answer as the third-party A2A frameworks tried by hand answer (README, "Tried with
// other frameworks"): @voltagent/a2a-server 2.0.3, @mastra/server 1.67 (through @mastra/hono
// 1.7.9) and @google/gemini-cli-a2a-server 0.25.2, each shape copied from what the framework
// sent, served by a raw node:http agent, through the development relay and a real hub.
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

/** Gemini CLI's words: a `working` status update each, with its coder-agent metadata. */
const geminiWords = (parts: Array<Record<string, unknown>>, kind = "text-content") => ({
  kind: "status-update",
  taskId: "gemini-task-1",
  contextId: "gemini-ctx-1",
  final: false,
  status: {
    state: "working",
    message: { kind: "message", role: "agent", messageId: `m-${kind}`, parts },
  },
  metadata: { coderAgent: { kind }, model: "gemini-2.5-pro" },
});
/** …and its end of every turn: `input-required` (your turn), saying nothing. */
const geminiYourTurn = {
  kind: "status-update",
  taskId: "gemini-task-1",
  contextId: "gemini-ctx-1",
  final: true,
  status: { state: "input-required" },
  metadata: { coderAgent: { kind: "state-change" } },
};
const TOOL_CALL = {
  request: { callId: "write_file-1", name: "write_file", args: { file_path: "fib.py" } },
  status: "awaiting_approval",
};

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
  const gemini = await startRawAgent("gemini", {
    async stream(request, out) {
      await out.result(v03.task("gemini-task-1", "submitted"));
      const asked = JSON.stringify(request.params);
      if (asked.includes("write")) {
        await out.result(
          geminiWords([{ kind: "data", data: TOOL_CALL }], "tool-call-confirmation"),
        );
      } else {
        for (const text of ["You said: ", "hi", "\nline two\n"]) {
          await out.result(geminiWords([{ kind: "text", text }]));
        }
      }
      await out.result(geminiYourTurn);
    },
  });
  // Its blocking answer: the finished task, the words only in the history.
  const geminiBlocking = await startRawAgent("gemini-blocking", {
    call: (request) =>
      request.method === "message/send"
        ? v03.task("gemini-task-2", "input-required", {
            history: [
              {
                kind: "message",
                role: "user",
                messageId: "u1",
                parts: [{ kind: "text", text: "hi" }],
              },
              ...["You said: ", "hi", "\nline two\n"].map((text, i) => ({
                kind: "message",
                role: "agent",
                messageId: `a${i}`,
                parts: [{ kind: "text", text }],
              })),
            ],
          })
        : undefined,
  });
  agents.push(volt, mastra, gemini, geminiBlocking);
  stack = await startStack({
    agents: [
      { name: "volt", url: volt.url },
      { name: "mastra", url: mastra.url },
      { name: "gemini", url: gemini.url },
      { name: "gemini-blocking", url: geminiBlocking.url },
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

  it("Gemini CLI: an answer only in working status messages is the question of its input-required", async () => {
    for (const name of ["gemini", "gemini-blocking"]) {
      const reply = await stack.send(await stack.agentId(name), "hi");
      expect(state(reply), name).toBe("input-required");
      expect(textOf(reply), name).toBe(ANSWER);
    }
  });

  it("Gemini CLI: a tool confirmation's data part (tool, arguments) reaches the room", async () => {
    const reply = await stack.send(await stack.agentId("gemini"), "write fib.py");
    expect(state(reply)).toBe("input-required");
    const parts = reply.body.result?.status.message?.parts as Array<Record<string, unknown>>;
    expect(parts).toEqual([{ kind: "data", data: TOOL_CALL }]);
  });
});
