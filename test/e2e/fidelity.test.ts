// The eight cases of "nothing an agent says is lost, doubled or turned into an empty success",
// end to end: gateway → development relay → a real hub daemon → agent → hub → relay → gateway,
// judged by the gateway's answer (the room as the development relay builds it, like hybro.ai).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HybroGateway, renderParts, StreamedAnswer } from "../../src/sdk/index.ts";
import {
  bigAnswer,
  QUESTION_DATA,
  STRUCTURED,
  startTestAgent,
  structuredArtifacts,
  type TestAgent,
} from "../support/a2a-agents.ts";
import { roomOf } from "../support/events.ts";
import { FRAMINGS, type RawAgent, startRawAgent, v03 } from "../support/raw-agent.ts";
import type { GatewayReply, Stack } from "../support/stack.ts";
import { startStack, userMessage } from "../support/stack.ts";

const RELAY_BODY_LIMIT = 256 * 1024;
const BIG = bigAnswer(2 * 1024 * 1024 + 123);

let stack: Stack;
const agents: Array<TestAgent | RawAgent> = [];

type Task = NonNullable<GatewayReply["body"]["result"]> & {
  artifacts?: Array<{ artifactId: string; name?: string; parts: Array<Record<string, unknown>> }>;
  status: { state: string; message?: { parts?: Array<Record<string, unknown>> } };
};
const task = (reply: GatewayReply) => reply.body.result as Task;
const statusText = (reply: GatewayReply) =>
  (task(reply).status.message?.parts ?? []).map((p) => (p.text as string) ?? "").join("");

beforeAll(async () => {
  const sdk = async (
    name: string,
    behaviour: Parameters<typeof startTestAgent>[0]["behaviour"],
    streaming: boolean,
  ) => {
    const agent = await startTestAgent({ dialect: "0.3", streaming, behaviour, name });
    agents.push(agent);
    return { name, url: agent.url };
  };
  const raw = async (name: string, script: Parameters<typeof startRawAgent>[1]) => {
    const agent = await startRawAgent(name, script);
    agents.push(agent);
    return { name, url: agent.url };
  };
  const entries = [
    // case 1: every JSON text framed with a 0x1E before it
    await raw("RecordSeparator", {
      framing: FRAMINGS.recordSeparator,
      async stream(_request, out) {
        await out.result(v03.task("rs-1", "submitted"));
        await out.result(v03.chunk("rs-1", "a", "framed ", false));
        await out.result(v03.chunk("rs-1", "a", "answer\n", true, true));
        await out.result(v03.status("rs-1", "completed", true));
      },
    }),
    await raw("Unreadable", {
      async stream(_request, out) {
        await out.raw("data: <html>not json</html>\n\n");
      },
    }),
    // case 2: a streamed and a blocking answer, each larger than the relay's body limit
    await raw("BigStream", {
      async stream(_request, out) {
        await out.result(v03.task("bs-1", "submitted"));
        const size = 512 * 1024;
        for (let at = 0; at < BIG.length; at += size) {
          await out.result(v03.chunk("bs-1", "big", BIG.slice(at, at + size), at > 0));
        }
        await out.result(v03.status("bs-1", "completed", true));
      },
    }),
    await raw("BigBlocking", {
      call: (request) =>
        request.method === "message/send"
          ? v03.task("bb-1", "completed", {
              artifacts: [
                { artifactId: "big", name: "big.txt", parts: [{ kind: "text", text: BIG }] },
              ],
            })
          : undefined,
    }),
    // cases 3–6: a real SDK agent each
    await sdk("Replacer", "replace", true),
    await sdk("StructuredBlocking", "structured", false),
    await sdk("StructuredStreaming", "structured", true),
    await sdk("Asker", "question-data", true),
    await sdk("Refuser", "reject", false),
  ];
  stack = await startStack({ agents: entries, relay: { maxBodyBytes: RELAY_BODY_LIMIT } });
});

afterAll(async () => {
  await stack?.close();
  await Promise.all(agents.map((agent) => agent.close()));
});

describe("the eight cases, end to end", () => {
  it("1. a 0x1E-framed stream arrives whole; an unreadable one fails, saying why", async () => {
    const framed = await stack.send(await stack.agentId("RecordSeparator"), "go");
    expect(task(framed).status.state).toBe("completed");
    expect(statusText(framed)).toBe("framed answer\n");
    const unreadable = await stack.send(await stack.agentId("Unreadable"), "go");
    expect(task(unreadable).status.state).toBe("failed");
    expect(task(unreadable).metadata).toMatchObject({ error_type: "InvalidAgentResponse" });
    expect(statusText(unreadable)).toMatch(/could not read \(first: .*not json/);
  });

  it("2. answers larger than the relay's body limit arrive whole, streamed or not", async () => {
    for (const name of ["BigStream", "BigBlocking"]) {
      const reply = await stack.send(await stack.agentId(name), "go");
      expect(task(reply).status.state).toBe("completed");
      expect(statusText(reply).length).toBe(BIG.length);
      expect(statusText(reply) === BIG).toBe(true);
    }
    // Every stored event came in a body the relay accepted (it refuses larger ones with 413).
    expect(stack.relay.publishStats().dropped).toMatchObject({ not_routed: 0 });
  });

  it("3. a replacing chunk replaces, in the room and in the SDK's stream helper", async () => {
    const id = await stack.agentId("Replacer");
    const reply = await stack.send(id, "go");
    expect(statusText(reply)).toBe("The whole answer, replaced.");
    await using gateway = new HybroGateway({
      apiKey: stack.key,
      baseUrl: `${stack.relay.url}/api/v1`,
    });
    const answer = new StreamedAnswer();
    let shown = "";
    for await (const event of gateway.stream(id, "again")) {
      const change = answer.apply(event);
      if (change && "append" in change) shown += change.append;
      else if (change) shown = change.restart;
    }
    expect(shown).toBe("The whole answer, replaced.");
    expect(answer.text).toBe("The whole answer, replaced.");
  });

  it.each(["StructuredBlocking", "StructuredStreaming"])(
    "4–5. %s: artifacts keep ids, names, parts and exact text; the closing message and the agent's task id come too",
    async (name) => {
      const reply = await stack.send(await stack.agentId(name), "go");
      const result = task(reply);
      expect(result.status.state).toBe("completed");
      const agentMessageId = String(result.metadata?.agent_message_id);
      expect(result.artifacts).toEqual(structuredArtifacts(agentMessageId));
      expect(statusText(reply)).toBe(`${STRUCTURED.code}see the file${STRUCTURED.closing}`);
      // The task id is the agent's (the SDK agent's ids are UUIDs), not the relay's or the hub's.
      expect(result.id).toMatch(/^[0-9a-f-]{36}$/);
      const events = stack.relay.eventsFor(agentMessageId);
      expect(events.at(-1)?.data.task_id).toBe(result.id);
      // Content travelled once: the terminal response carries no parts.
      const response = events.find((event) => event.type === "agent_response");
      expect(JSON.stringify(response?.data)).not.toContain("fib");
      expect(roomOf(events).text).toBe(statusText(reply));
    },
  );

  it("6. a question keeps its data part; the answer continues the task; rejected stays rejected", async () => {
    const asker = await stack.agentId("Asker");
    const asked = await stack.send(asker, "go");
    expect(task(asked).status.state).toBe("input-required");
    expect(task(asked).status.message?.parts).toEqual([
      { kind: "text", text: QUESTION_DATA.text },
      { kind: "data", data: QUESTION_DATA.data },
    ]);
    expect(renderParts(task(asked).status.message?.parts ?? [])).toBe(
      `${QUESTION_DATA.text}\n${JSON.stringify(QUESTION_DATA.data)}\n`,
    );
    const answered = await stack.send(
      asker,
      userMessage("yes", { taskId: task(asked).id, contextId: task(asked).contextId }),
    );
    expect(task(answered).status.state).toBe("completed");
    expect(statusText(answered)).toBe("confirmed: yes");
    const refused = await stack.send(await stack.agentId("Refuser"), "go");
    expect(task(refused).status.state).toBe("rejected");
    expect(statusText(refused)).toBe("I do not do that.");
  });
});

describe("7. a busy agent is slow, not dead", () => {
  let busy: Stack;
  let agent: RawAgent;
  let release!: () => void;
  let idle: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    agent = await startRawAgent("Busy", {
      // While a long reply runs, the agent's process answers no card request.
      cardDelay: () => idle,
      async stream(request, out) {
        const text = JSON.stringify(request.params);
        await out.result(v03.task(`busy-${agent.calls.length}`, "submitted"));
        if (text.includes("long")) {
          await out.result(v03.chunk(`busy-${agent.calls.length}`, "a", "working on it… ", false));
          await idle;
        }
        await out.result(v03.chunk(`busy-${agent.calls.length}`, "a", "done", true, true));
        await out.result(v03.status(`busy-${agent.calls.length}`, "completed", true));
      },
    });
    busy = await startStack({
      agents: [{ name: "Busy", url: agent.url }],
      registry: { healthCheckIntervalMs: 100, httpProbeTimeoutMs: 150, unhealthyRemoveAfter: 2 },
    });
  });
  afterAll(async () => {
    release?.();
    await busy?.close();
    await agent?.close();
  });

  it("health checks that time out during a long turn never take it out of the roster", async () => {
    const id = await busy.agentId("Busy");
    idle = new Promise<void>((resolve) => {
      release = resolve;
    });
    const long = busy.send(id, "long");
    const before = agent.cardRequests;
    // Many health rounds, each unanswered: three times what removes an idle agent.
    const deadline = Date.now() + 30_000;
    while (agent.cardRequests < before + 6 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(agent.cardRequests).toBeGreaterThanOrEqual(before + 6);
    // Still there: a new call is taken (no 503), and the long one ends well.
    const second = busy.send(id, "short");
    release();
    idle = Promise.resolve();
    const [first, next] = await Promise.all([long, second]);
    expect([first.status, task(first).status.state, statusText(first)]).toEqual([
      200,
      "completed",
      "working on it… done",
    ]);
    expect([next.status, task(next).status.state]).toEqual([200, "completed"]);
  });
});
