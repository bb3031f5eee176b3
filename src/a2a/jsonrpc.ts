// JSON-RPC 2.0 envelopes, the one codec of every transport (HTTP, stdio, WebSocket): build a
// request or notification, read a response (an `error` member wins whatever else is there; the
// id must match when the agent sent one).

import { randomUUID } from "node:crypto";
import { isRecord } from "./model.ts";
import { JsonRpcError, TransportError } from "./transport.ts";

type JsonRpcId = string | number;

/** A fresh request id (32 hex, like the reference hub). */
export function newRequestId(): string {
  return randomUUID().replaceAll("-", "");
}

export function jsonRpcRequest(id: JsonRpcId, method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, params });
}

/** A notification (no id, no answer expected). */
export function jsonRpcNotification(method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", method, params });
}

/** An error response, for a request the hub does not serve. */
export function jsonRpcErrorResponse(id: unknown, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } });
}

/**
 * The `error` member of a response as a JsonRpcError, or null when there is none (absent or
 * null). Any other `error` means the call failed: one that is not `{code: number, …}` becomes
 * -32603 (internal error) with the agent's value kept as `data`, so nothing it said is lost.
 */
export function jsonRpcErrorOf(body: unknown): JsonRpcError | null {
  if (!isRecord(body) || body["error"] === undefined || body["error"] === null) return null;
  const error = body["error"];
  const said =
    isRecord(error) && typeof error["message"] === "string" && error["message"] !== ""
      ? error["message"]
      : null;
  if (isRecord(error) && typeof error["code"] === "number") {
    return new JsonRpcError(error["code"], said ?? "(no message)", error["data"]);
  }
  const why = said === null ? "" : `: ${said}`;
  return new JsonRpcError(-32603, `agent sent a malformed error object${why}`, error);
}

/**
 * The `result` of a parsed JSON-RPC response. Throws JsonRpcError for an `error` member and
 * TransportError `InvalidAgentResponse` for anything that is not a response to this request.
 */
export function jsonRpcResult(body: unknown, expectedId: JsonRpcId | null): unknown {
  const error = jsonRpcErrorOf(body);
  if (error) throw error;
  if (!isRecord(body)) {
    throw new TransportError(
      "InvalidAgentResponse",
      "agent answered with JSON that is not an object",
    );
  }
  const id = body["id"];
  if (expectedId !== null && id !== undefined && id !== null && id !== expectedId) {
    throw new TransportError(
      "InvalidAgentResponse",
      `agent answered request ${String(expectedId)} with the id ${JSON.stringify(id)}`,
    );
  }
  if (!("result" in body)) {
    throw new TransportError(
      "InvalidAgentResponse",
      "agent answered with a JSON-RPC response that has neither result nor error",
    );
  }
  return body["result"];
}
