import { describe, expect, it } from "vitest";
import { A2AClient } from "../../src/a2a/client.ts";
import type { A2AStreamEvent } from "../../src/a2a/model.ts";
import { type A2ATask, textOfParts } from "../../src/a2a/model.ts";

/** Every artifact's text, else the status message's. */
function taskText(task: A2ATask): string {
  const fromArtifacts = task.artifacts.map((a) => textOfParts(a.parts)).join("");
  return fromArtifacts || textOfParts(task.status.message?.parts);
}

import { JsonRpcError } from "../../src/a2a/transport.ts";
import { agentsPerTest } from "../support/agents-per-test.ts";

const { agent, connect, httpTransport, rawAgent } = agentsPerTest();

const signal = () => AbortSignal.timeout(10_000);
const relayMessage = (text: string) => ({
  kind: "message",
  role: "user",
  messageId: `m-${text}`,
  parts: [{ kind: "text", text }],
});

async function collect(events: AsyncIterable<A2AStreamEvent>): Promise<A2AStreamEvent[]> {
  const out: A2AStreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe.each(["1.0", "0.3", "dual"] as const)("A2AClient against a %s agent", (dialect) => {
  it("sends blocking and reads the finished task; the wire shape matches the dialect", async () => {
    const a = await agent({ dialect, streaming: false, behaviour: "echo" });
    const { client, card } = await connect(a);
    expect(card.primary.dialect).toBe(dialect === "0.3" ? "0.3" : "1.0");
    const input = relayMessage("hello");
    const result = await client.send(input, { signal: signal() });
    expect(result.kind).toBe("task");
    if (result.kind !== "task") return;
    expect(result.status.state).toBe("completed");
    expect(taskText(result)).toBe("echo: hello");
    expect(input).toEqual(relayMessage("hello")); // not mutated
    if (dialect === "0.3") {
      expect(a.calls).toEqual([{ method: "message/send", version: null }]);
      expect(a.received[0]).toMatchObject({
        kind: "message",
        role: "user",
        parts: [{ kind: "text", text: "hello" }],
      });
    } else {
      expect(a.calls).toEqual([{ method: "SendMessage", version: "1.0" }]);
      expect(a.received[0]).toEqual({
        role: "ROLE_USER",
        messageId: "m-hello",
        parts: [{ text: "hello" }],
      });
    }
    const fetched = await client.getTask(result.id, { signal: signal() });
    expect(fetched.status.state).toBe("completed");
    expect(taskText(fetched)).toBe("echo: hello");
  });

  it("streams task, status and artifact events in order", async () => {
    const a = await agent({ dialect, streaming: true, behaviour: "chunks", chunkCount: 3 });
    const { client } = await connect(a);
    const events = await collect(
      client.stream({ role: "user", parts: [{ text: "go" }] }, { signal: signal() }),
    );
    expect(events.map((e) => e.kind)).toEqual([
      "task",
      "status-update",
      "artifact-update",
      "artifact-update",
      "artifact-update",
      "status-update",
    ]);
    const chunks = events.filter((e) => e.kind === "artifact-update");
    expect(chunks.map((e) => [textOfParts(e.artifact.parts), e.append, e.lastChunk])).toEqual([
      ["chunk 0 ", false, false],
      ["chunk 1 ", true, false],
      ["chunk 2 ", true, true],
    ]);
    const last = events.at(-1);
    expect(last).toMatchObject({
      kind: "status-update",
      final: true,
      status: { state: "completed" },
    });
    expect(a.received[0]).toHaveProperty("messageId");
  });

  it("cancels a running task; the agent sees the cancel", async () => {
    const a = await agent({ dialect, streaming: true, behaviour: "slow", delayMs: 60_000 });
    const { client } = await connect(a);
    const controller = new AbortController();
    const iterator = client
      .stream(relayMessage("wait"), { signal: controller.signal })
      [Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ kind: "task" });
    const taskId = (first.value as { id: string }).id;
    await client.cancelTask(taskId, { signal: signal() });
    expect(a.cancels).toEqual([taskId]);
    const task = await client.getTask(taskId, { signal: signal() });
    expect(task.status.state).toBe("canceled");
    controller.abort();
    await iterator.return?.(undefined);
  });

  it("reports a JSON-RPC error without retrying in the other dialect", async () => {
    const a = await agent({ dialect, streaming: false, behaviour: "echo" });
    const { client } = await connect(a);
    const error = await client
      .getTask("no-such-task", { signal: signal() })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JsonRpcError);
    expect((error as JsonRpcError).code).toBe(-32001);
    expect(a.calls).toHaveLength(1);
  });
});

describe("A2AClient dialect fallback", () => {
  /** A v0.3-only server behind a v1.0 card (as LiteLLM-style servers do). */
  const v1CardOnV03Server = (card: Record<string, unknown>, rpcUrl: string) => {
    const { url: _url, protocolVersion: _pv, preferredTransport: _pt, ...rest } = card;
    return {
      ...rest,
      supportedInterfaces: [{ url: rpcUrl, protocolBinding: "JSONRPC", protocolVersion: "1.0" }],
    };
  };

  it("retries a send refused with -32601 in v0.3, then stays in v0.3", async () => {
    const a = await agent({
      dialect: "0.3",
      streaming: false,
      behaviour: "echo",
      card: v1CardOnV03Server,
    });
    const { client, card } = await connect(a);
    expect(card.primary.dialect).toBe("1.0");
    expect(card.fallback).toEqual({ dialect: "0.3", url: a.rpcUrl });
    const result = await client.send(relayMessage("one"), { signal: signal() });
    expect(result.kind === "task" && taskText(result)).toBe("echo: one");
    expect(client.dialect).toBe("0.3");
    await client.send(relayMessage("two"), { signal: signal() });
    expect(a.calls.map((c) => c.method)).toEqual(["SendMessage", "message/send", "message/send"]);
    // The retry re-encoded the same message (same messageId) for v0.3.
    expect(a.received[1]).toMatchObject({ kind: "message", messageId: "m-one", role: "user" });
  });

  it("retries a stream refused before its first event", async () => {
    const a = await agent({
      dialect: "0.3",
      streaming: true,
      behaviour: "echo",
      card: v1CardOnV03Server,
    });
    const { client } = await connect(a);
    const events = await collect(client.stream(relayMessage("s"), { signal: signal() }));
    expect(events.at(-1)).toMatchObject({ kind: "status-update", status: { state: "completed" } });
    expect(a.calls.map((c) => c.method)).toEqual(["SendStreamingMessage", "message/stream"]);
    expect(client.dialect).toBe("0.3");
  });

  it("falls back per call for tasks/get and tasks/cancel too", async () => {
    const a = await agent({
      dialect: "0.3",
      streaming: false,
      behaviour: "echo",
      card: v1CardOnV03Server,
    });
    const { client } = await connect(a);
    const error = await client.getTask("missing", { signal: signal() }).catch((e: unknown) => e);
    expect((error as JsonRpcError).code).toBe(-32001);
    expect(a.calls.map((c) => c.method)).toEqual(["GetTask", "tasks/get"]);
  });

  it("moves from v0.3 to v1.0 when a v1-only server refuses v0.3", async () => {
    const a = await agent({ dialect: "1.0", streaming: false, behaviour: "echo" });
    const transport = httpTransport(a.rpcUrl);
    const client = new A2AClient({ transport, primary: "0.3", fallback: "1.0" });
    const result = await client.send(relayMessage("up"), { signal: signal() });
    expect(result.kind === "task" && taskText(result)).toBe("echo: up");
    expect(a.calls).toEqual([
      { method: "message/send", version: null },
      { method: "SendMessage", version: "1.0" },
    ]);
  });

  it("without a fallback, the refusal is the error", async () => {
    const a = await agent({
      dialect: "0.3",
      streaming: false,
      behaviour: "echo",
      card: v1CardOnV03Server,
    });
    const { client } = await connect(a, { fallback: false });
    const error = await client
      .send(relayMessage("x"), { signal: signal() })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JsonRpcError);
    expect((error as JsonRpcError).isVersionFallback).toBe(true);
  });

  it("reads the plain JSON error a v1 agent answers to a stream it does not support", async () => {
    const a = await agent({ dialect: "1.0", streaming: false, behaviour: "echo" });
    const { client } = await connect(a);
    const error = await collect(client.stream(relayMessage("x"), { signal: signal() })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(JsonRpcError);
    expect((error as JsonRpcError).isVersionFallback).toBe(false);
  });
});

describe("A2AClient tenant", () => {
  it("echoes the interface's tenant in v1.0 params only", async () => {
    const seen: Array<{ method: string; params: Record<string, unknown> }> = [];
    const transport = await rawAgent((body, res) => {
      seen.push({ method: body.method, params: body.params });
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: body.id,
          result: { id: "t", contextId: "c", status: { state: "TASK_STATE_COMPLETED" } },
        }),
      );
    });
    const v1 = new A2AClient({ transport, primary: "1.0", fallback: null, tenant: "acme" });
    await v1.getTask("t", { signal: signal() });
    const v03 = new A2AClient({ transport, primary: "0.3", fallback: null, tenant: "acme" });
    await v03.getTask("t", { signal: signal() });
    expect(seen).toEqual([
      { method: "GetTask", params: { id: "t", tenant: "acme" } },
      { method: "tasks/get", params: { id: "t" } },
    ]);
  });
});
