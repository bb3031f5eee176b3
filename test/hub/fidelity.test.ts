// Nothing an agent says is lost, doubled or turned into an empty success: turns against real
// SDK agents and raw node:http agents, judged by what the room would hold (RoomAnswer).
import { afterEach, describe, expect, it } from "vitest";
import { A2AClient } from "../../src/a2a/client.ts";
import { HttpTransport } from "../../src/agents/transports/http.ts";
import { newHubTaskId } from "../../src/hub/mapping.ts";
import { runTurn, type TurnInput, type TurnOptions } from "../../src/hub/turn.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { QUESTION_DATA, STRUCTURED, structuredArtifacts } from "../support/a2a-agents.ts";
import { agentsPerTest } from "../support/agents-per-test.ts";
import { roomOf } from "../support/events.ts";
import { FRAMINGS, type RawAgentScript, startRawAgent, v03 } from "../support/raw-agent.ts";

const { agent, connect } = agentsPerTest();
const raws: Array<{ close(): Promise<void> }> = [];
const transports: HttpTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) await t.close();
  for (const r of raws.splice(0)) await r.close();
});

async function rawClient(script: RawAgentScript): Promise<{ client: A2AClient; calls: string[] }> {
  const raw = await startRawAgent("raw", script);
  raws.push(raw);
  const transport = new HttpTransport({ baseUrl: `${raw.url}/rpc` });
  transports.push(transport);
  return { client: new A2AClient({ transport, primary: "0.3", fallback: null }), calls: raw.calls };
}

let n = 0;
function input(streaming: boolean): TurnInput {
  n++;
  return {
    agentMessageId: `amsg_f${n}`,
    localAgentId: "7a7160aa61ee",
    agentName: "Agent",
    userMessageId: `umsg_f${n}`,
    hubTaskId: newHubTaskId(),
    message: {
      kind: "message",
      role: "user",
      messageId: `m${n}`,
      contextId: `ctx-relay-${n}`,
      parts: [{ kind: "text", text: "go" }],
    },
    streaming,
  };
}

async function turn(client: A2AClient, streaming: boolean, options: Partial<TurnOptions> = {}) {
  const events: PublishedEvent[] = [];
  const outcome = await runTurn(input(streaming), client, (batch) => events.push(...batch), {
    signal: new AbortController().signal,
    settings: { pollIntervalMs: 20 },
    ...options,
  });
  expect(events.filter((e) => e.type === "processing_status")).toHaveLength(1);
  return { outcome, events, room: roomOf(events) };
}

const ANSWER = 'Line one\r\nline "two" with é, 𝄞 and a trailing newline\n';
const streamAnswer: RawAgentScript["stream"] = async (_request, out) => {
  await out.result(v03.task("t1", "submitted"));
  await out.result(v03.chunk("t1", "a", ANSWER.slice(0, 10), false));
  await out.result(v03.chunk("t1", "a", ANSWER.slice(10), true, true));
  await out.result(v03.status("t1", "completed", true));
};

describe("stream framings real servers use", () => {
  it.each(Object.keys(FRAMINGS))("%s: the whole answer, exactly", async (framing) => {
    const { client } = await rawClient({ stream: streamAnswer, framing: FRAMINGS[framing] });
    const { outcome, room } = await turn(client, true);
    expect(outcome.status).toBe("completed");
    expect(room.text).toBe(ANSWER);
  });

  it("0x1E-framed: the agent's own error event reaches the room (no empty success)", async () => {
    const { client } = await rawClient({
      framing: FRAMINGS.recordSeparator,
      async stream(request, out) {
        await out.raw(
          FRAMINGS.recordSeparator!(
            JSON.stringify({
              jsonrpc: "2.0",
              id: request.id,
              error: { code: -32603, message: "model not loaded" },
            }),
          ),
        );
      },
    });
    const { outcome, events } = await turn(client, true);
    expect(outcome).toMatchObject({ status: "failed", errorType: "JsonRpcError" });
    expect(events.at(-2)?.data).toMatchObject({ error: expect.stringMatching(/model not loaded/) });
  });
});

describe("never a success for an answer that could not be read", () => {
  it("a stream of events that are not JSON, and no task id: failed, saying why", async () => {
    const { client } = await rawClient({
      async stream(_request, out) {
        await out.raw("data: <<binary junk>>\n\n");
        await out.raw("data: {broken json\n\n");
      },
    });
    const { outcome, events, room } = await turn(client, true);
    expect(outcome).toMatchObject({ status: "failed", errorType: "InvalidAgentResponse" });
    expect(room.state).toBe("failed");
    expect(events.at(-2)?.data).toMatchObject({
      error: expect.stringMatching(/2 stream events the hub could not read \(first: .*binary junk/),
    });
  });

  it("unreadable events in a task's stream: the task fetched with tasks/get replaces what came", async () => {
    const { client, calls } = await rawClient({
      async stream(_request, out) {
        await out.result(v03.task("t9", "submitted"));
        await out.result(v03.chunk("t9", "a", "The begin", false));
        await out.raw("data: lost chunk, not json\n\n");
        await out.result(v03.status("t9", "completed", true));
      },
      call: (request) =>
        request.method === "tasks/get"
          ? v03.task("t9", "completed", {
              artifacts: [
                { artifactId: "a", parts: [{ kind: "text", text: "The beginning and end" }] },
              ],
            })
          : undefined,
    });
    const { outcome, room } = await turn(client, true);
    expect(calls).toContain("tasks/get");
    expect(outcome.status).toBe("completed");
    expect(room.text).toBe("The beginning and end");
  });

  it("a stream that just closes, with no task id: failed (IncompleteStream), not completed", async () => {
    const { client } = await rawClient({
      async stream(_request, out) {
        await out.result({ kind: "status-update", status: { state: "working" }, final: false });
      },
    });
    const { outcome } = await turn(client, true);
    expect(outcome).toMatchObject({ status: "failed", errorType: "IncompleteStream" });
  });

  it("a stream that closes early: tasks/get follows; if that fails too, the reason says both", async () => {
    const { client } = await rawClient({
      async stream(_request, out) {
        await out.result(v03.task("t2", "working"));
        await out.result(v03.chunk("t2", "a", "half", false));
      },
    });
    const { outcome, events } = await turn(client, true);
    expect(outcome).toMatchObject({ status: "failed", errorType: "IncompleteStream" });
    expect(events.at(-2)?.data).toMatchObject({
      error: expect.stringMatching(/stream ended before the task did.*t2.*-32601/),
    });
  });

  it("a stream of messages outside any task is a whole answer", async () => {
    const { client } = await rawClient({
      async stream(_request, out) {
        await out.result(v03.message("Hello, "));
        await out.result(v03.message("world"));
      },
    });
    const { outcome, room } = await turn(client, true);
    expect(outcome.status).toBe("completed");
    expect(room.text).toBe("Hello, world");
  });

  it.each(["expired", "unknown", "paused"])(
    "a task that ends %s is not completed",
    async (state) => {
      const { client } = await rawClient({
        call: (request) => (request.method === "message/send" ? v03.task("t3", state) : undefined),
      });
      const { outcome, room } = await turn(client, false);
      expect(outcome.status).toBe("failed");
      expect(room.state).toBe("failed");
    },
  );
});

describe.each([
  ["1.0", true],
  ["1.0", false],
  ["0.3", true],
  ["0.3", false],
] as const)("the agent's structure is kept (%s, streaming: %s)", (dialect, streaming) => {
  it("artifact ids and names, every part in order, exact text, the closing status message, the agent's ids", async () => {
    const { client } = await connect(await agent({ dialect, streaming, behaviour: "structured" }));
    const { outcome, events, room } = await turn(client, streaming);
    expect(outcome.status).toBe("completed");
    expect(room.artifacts).toEqual(structuredArtifacts(`${events[0]?.agent_message_id}`));
    expect(room.text).toBe(`${STRUCTURED.code}see the file${STRUCTURED.closing}`);
    // After task_submitted every event names the agent's task and context.
    for (const event of events.slice(1)) {
      expect(event.data.task_id).toBe(outcome.taskId);
    }
    expect(events.at(-2)?.data).toMatchObject({ context_id: expect.stringMatching(/\S/) });
  });

  it("a replacing chunk replaces: the room holds the last version only", async () => {
    const { client } = await connect(await agent({ dialect, streaming, behaviour: "replace" }));
    const { room } = await turn(client, streaming);
    expect(room.text).toBe("The whole answer, replaced.");
  });

  it("a question keeps its data part and metadata; rejected stays rejected", async () => {
    const asking = await connect(await agent({ dialect, streaming, behaviour: "question-data" }));
    const asked = await turn(asking.client, streaming);
    expect(asked.outcome.status).toBe("input_required");
    const interactive = asked.events.at(-2);
    expect(interactive?.data).toMatchObject({
      state: "input-required",
      context_id: expect.stringMatching(/\S/),
      status: {
        state: "input-required",
        message: {
          role: "agent",
          metadata: QUESTION_DATA.metadata,
          parts: [
            { kind: "text", text: QUESTION_DATA.text },
            { kind: "data", data: QUESTION_DATA.data },
          ],
        },
      },
    });
    const refusing = await connect(await agent({ dialect, streaming, behaviour: "reject" }));
    const refused = await turn(refusing.client, streaming);
    expect(refused.events.slice(-2).map((e) => e.data)).toMatchObject([
      { state: "rejected", error: "I do not do that." },
      { status: "rejected" },
    ]);
    expect(refused.room.state).toBe("rejected");
  });
});

describe("sizes", () => {
  it("a part larger than any publish fails the turn, naming it", async () => {
    const { client } = await rawClient({
      call: () =>
        v03.task("t4", "completed", {
          artifacts: [
            {
              artifactId: "f",
              parts: [{ kind: "file", file: { name: "dump.bin", bytes: "A".repeat(100_000) } }],
            },
          ],
        }),
    });
    const { outcome, events } = await turn(client, false, { maxEventBytes: () => 50_000 });
    expect(outcome).toMatchObject({ status: "failed", errorType: "AnswerTooLarge" });
    expect(events.at(-2)?.data).toMatchObject({
      error: expect.stringMatching(/file part \("dump.bin"\) of 98 KiB, more than the 49 KiB/),
    });
  });

  it("while the room is backed up, the turn reads no more of the agent's stream", async () => {
    let written = 0;
    let allWritten!: () => void;
    const done = new Promise<void>((resolve) => {
      allWritten = resolve;
    });
    const { client } = await rawClient({
      async stream(_request, out) {
        await out.result(v03.task("t5", "working"));
        for (let i = 0; i < 20; i++) {
          await out.result(v03.chunk("t5", "a", `c${i} `, i > 0));
          written++;
        }
        await out.result(v03.status("t5", "completed", true));
        allWritten();
      },
    });
    let release!: () => void;
    const backedUp = new Promise<void>((resolve) => {
      release = resolve;
    });
    let paused!: () => void;
    const pausing = new Promise<void>((resolve) => {
      paused = resolve;
    });
    const chunks: string[] = [];
    const events: PublishedEvent[] = [];
    const running = runTurn(
      input(true),
      client,
      (batch) => {
        events.push(...batch);
        for (const e of batch) if (e.type === "artifact_update") chunks.push(roomOf([e]).text);
      },
      {
        signal: new AbortController().signal,
        roomBackpressure: () => {
          if (chunks.length < 3) return null;
          paused();
          return backedUp;
        },
      },
    );
    await pausing;
    await done;
    // The agent wrote everything (small enough for the socket buffers); the turn still waits.
    expect(written).toBe(20);
    expect(chunks).toHaveLength(3);
    release();
    const outcome = await running;
    expect(outcome.status).toBe("completed");
    expect(roomOf(events).text).toBe(Array.from({ length: 20 }, (_, i) => `c${i} `).join(""));
  });
});
