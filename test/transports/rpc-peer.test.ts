// RpcPeer over an in-memory channel: the JSON-RPC rules without processes or sockets.
import { describe, expect, it } from "vitest";
import { JsonRpcError, TransportError } from "../../src/a2a/transport.ts";
import { RpcPeer, type RpcPeerSettings, sameJson } from "../../src/agents/transports/rpc-peer.ts";
import { capturingLogger } from "./support.ts";

type Sent = { jsonrpc: string; id?: number; method?: string; params?: unknown };

function peer(settings?: Partial<RpcPeerSettings>) {
  const sent: Sent[] = [];
  const { logger, lines } = capturingLogger();
  let open = true;
  const p = new RpcPeer({
    name: "Mem",
    logger,
    settings,
    send: (m) => {
      if (!open) throw new TransportError("AgentExited", "closed", { connectionClass: true });
      sent.push(JSON.parse(m) as Sent);
    },
  });
  const answer = (m: object) => p.receive(JSON.stringify({ jsonrpc: "2.0", ...m }));
  const event = (requestId: number, e: unknown) =>
    answer({ method: "stream/event", params: { requestId, event: e } });
  return { p, sent, lines, answer, event, shut: () => (open = false) };
}

const signal = () => new AbortController().signal;

describe("RpcPeer calls", () => {
  it("matches responses by id, in any order, and omits absent params", async () => {
    const { p, sent, answer } = peer();
    const a = p.call("a", { x: 1 }, { signal: signal() });
    const b = p.call("b", undefined, { signal: signal() });
    expect(sent).toEqual([
      { jsonrpc: "2.0", id: 1, method: "a", params: { x: 1 } },
      { jsonrpc: "2.0", id: 2, method: "b" },
    ]);
    answer({ id: 2, result: "B" });
    answer({ id: "1", result: "A" }); // a string id for our number is tolerated
    expect(await Promise.all([a, b])).toEqual(["A", "B"]);
    expect(p.pendingCount).toBe(0);
  });

  it("rejects with JsonRpcError for an error member, even a malformed one", async () => {
    const { p, answer } = peer();
    const a = p.call("a", {}, { signal: signal() });
    const b = p.call("b", {}, { signal: signal() });
    answer({ id: 1, error: { code: -32601, message: "nope", data: { why: 1 } } });
    answer({ id: 2, error: "bad" });
    await expect(a).rejects.toMatchObject({
      code: -32601,
      data: { why: 1 },
      isVersionFallback: true,
    });
    await expect(b).rejects.toBeInstanceOf(JsonRpcError);
    await expect(b).rejects.toMatchObject({ code: -32603 });
  });

  it("logs and skips malformed input, answers agent requests with -32601, handles batches", async () => {
    const { p, sent, lines, answer } = peer();
    const call = p.call("a", {}, { signal: signal() });
    p.receive("not json");
    p.receive("42");
    answer({ id: 77, result: "nobody asked" });
    answer({ id: 5, method: "hub/do" });
    answer({ method: "stream/event" });
    p.receive(JSON.stringify([{ jsonrpc: "2.0", id: 1, result: "batched" }]));
    expect(await call).toBe("batched");
    expect(sent.at(-1)).toMatchObject({ id: 5, error: { code: -32601 } });
    const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warnings).toHaveLength(4);
    expect(warnings.join("|")).toMatch(
      /not JSON.*not a JSON-RPC object.*unknown request id 77.*without params/,
    );
  });

  it("times out, cancels, and treats the late answer as expected", async () => {
    const { p, sent, lines, answer } = peer({ callTimeoutMs: 20 });
    await expect(p.call("slow", {}, { signal: signal() })).rejects.toMatchObject({
      errorType: "ReadTimeout",
    });
    expect(sent.at(-1)).toEqual({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 1 } });
    answer({ id: 1, result: "late" });
    expect(lines.filter((l) => l.level >= 40)).toHaveLength(0);
  });

  it("rejects with the abort reason and does not send a request already aborted", async () => {
    const { p, sent } = peer();
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    await expect(p.call("a", {}, { signal: controller.signal })).rejects.toThrow("gone");
    expect(sent).toHaveLength(0);
  });

  it("rejects when the channel cannot send, and fails everything pending on failAll", async () => {
    const { p, shut } = peer();
    const pending = p.call("a", {}, { signal: signal() });
    p.failAll(new TransportError("AgentExited", "exited", { connectionClass: true }));
    await expect(pending).rejects.toMatchObject({ errorType: "AgentExited" });
    shut();
    await expect(p.call("b", {}, { signal: signal() })).rejects.toMatchObject({
      errorType: "AgentExited",
    });
    expect(p.pendingCount).toBe(0);
  });
});

describe("RpcPeer streams", () => {
  async function run(p: RpcPeer, method = "s") {
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const e of p.stream(method, {}, { signal: signal() })) seen.push(e);
    })().catch((e: unknown) => e);
    return { seen, error };
  }

  it("yields events in order; a final result that repeats the last event is not yielded twice", async () => {
    const { p, event, answer } = peer();
    const done = run(p);
    await Promise.resolve();
    event(1, { n: 1, deep: { a: [1, 2] } });
    event(1, { deep: { a: [1, 2] }, n: 2 });
    answer({ id: 1, result: { n: 2, deep: { a: [1, 2] } } });
    expect(await done).toEqual({
      seen: [
        { n: 1, deep: { a: [1, 2] } },
        { n: 2, deep: { a: [1, 2] } },
      ],
      error: undefined,
    });
  });

  it("yields a final result that differs, none for null, and a lone result as the only event", async () => {
    const { p, event, answer } = peer();
    const first = run(p);
    await Promise.resolve();
    event(1, "a");
    answer({ id: 1, result: "closing" });
    expect((await first).seen).toEqual(["a", "closing"]);
    const second = run(p);
    await Promise.resolve();
    event(2, "a");
    answer({ id: 2, result: null });
    expect((await second).seen).toEqual(["a"]);
    const third = run(p);
    await Promise.resolve();
    answer({ id: 3, result: { task: 1 } });
    expect((await third).seen).toEqual([{ task: 1 }]);
  });

  it("delivers events that came before an error response, then the JsonRpcError", async () => {
    const { p, event, answer } = peer();
    const done = run(p);
    await Promise.resolve();
    event(1, "a");
    answer({ id: 1, error: { code: -32603, message: "failed" } });
    const { seen, error } = await done;
    expect(seen).toEqual(["a"]);
    expect(error).toBeInstanceOf(JsonRpcError);
  });

  it("fails a stream whose consumer falls behind the buffer bound, and cancels it", async () => {
    const { p, sent, event } = peer({ streamBufferMaxEvents: 3 });
    const iterator = p.stream("s", {}, { signal: signal() })[Symbol.asyncIterator]();
    const first = iterator.next();
    event(1, 0);
    expect(await first).toEqual({ value: 0, done: false });
    // The consumer does not come back while events keep arriving: what is buffered is dropped.
    for (let i = 1; i < 10; i++) event(1, i);
    await expect(iterator.next()).rejects.toMatchObject({ errorType: "StreamOverflow" });
    expect(sent.at(-1)).toEqual({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 1 } });
  });

  it("times out a stream that goes quiet between events", async () => {
    const { p, event } = peer({ callTimeoutMs: 30 });
    const done = run(p);
    await Promise.resolve();
    event(1, "a");
    const { seen, error } = await done;
    expect(seen).toEqual(["a"]);
    expect(error).toMatchObject({ errorType: "ReadTimeout" });
  });
});

describe("sameJson", () => {
  it("ignores key order and undefined members", () => {
    expect(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(
      true,
    );
    expect(sameJson({ a: 1 }, { a: "1" })).toBe(false);
    expect(sameJson([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(sameJson(null, {})).toBe(false);
  });
});
