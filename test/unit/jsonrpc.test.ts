// The one JSON-RPC codec: HTTP (jsonRpcResult) and stdio/WebSocket (RpcPeer) read an agent's
// `error` member the same way, a malformed one included.
import { describe, expect, it } from "vitest";
import { jsonRpcErrorOf, jsonRpcResult } from "../../src/a2a/jsonrpc.ts";
import { JsonRpcError } from "../../src/a2a/transport.ts";
import { RpcPeer } from "../../src/agents/transports/rpc-peer.ts";
import { silentLogger } from "../../src/log/logger.ts";

const MALFORMED: [unknown, number, string][] = [
  ["boom", -32603, "agent sent a malformed error object"],
  [{ message: "no code" }, -32603, "agent sent a malformed error object: no code"],
  [{ code: "7", message: "text code" }, -32603, "agent sent a malformed error object: text code"],
  [{ code: -32601 }, -32601, "(no message)"],
];

/** What RpcPeer makes of a response with this `error` member. */
async function overPeer(error: unknown): Promise<unknown> {
  let sent = "";
  const peer = new RpcPeer({ name: "Mem", logger: silentLogger(), send: (m) => (sent = m) });
  const call = peer.call("x", {}, { signal: new AbortController().signal });
  const { id } = JSON.parse(sent) as { id: number };
  peer.receive(JSON.stringify({ jsonrpc: "2.0", id, error }));
  return call.catch((e: unknown) => e);
}

describe("jsonRpcErrorOf", () => {
  it.each(MALFORMED)(
    "reads error %j the same over HTTP and over a peer",
    async (error, code, message) => {
      const overHttp = (() => {
        try {
          return jsonRpcResult({ jsonrpc: "2.0", id: "a", error, result: "ignored" }, "a");
        } catch (thrown) {
          return thrown;
        }
      })();
      for (const got of [overHttp, await overPeer(error)]) {
        expect(got).toBeInstanceOf(JsonRpcError);
        expect(got).toMatchObject({ code, message: `JSON-RPC error ${code}: ${message}` });
      }
      if (typeof error !== "object") expect((overHttp as JsonRpcError).data).toBe(error);
    },
  );

  it("sees no error in an absent or null member", () => {
    expect(jsonRpcErrorOf({ id: 1, result: 2 })).toBeNull();
    expect(jsonRpcErrorOf({ id: 1, error: null, result: 2 })).toBeNull();
    expect(jsonRpcResult({ id: 1, error: null, result: 2 }, 1)).toBe(2);
  });
});
