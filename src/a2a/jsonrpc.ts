// JSON-RPC 2.0 envelopes, shared by every transport: build a request, check a response
// (an `error` member wins whatever else is there; the id must match when the agent sent one).

import { randomUUID } from "node:crypto";
import { isRecord } from "./model.ts";
import { JsonRpcError, TransportError } from "./transport.ts";

export type JsonRpcId = string | number;

/** A fresh request id (32 hex, like the reference hub). */
export function newRequestId(): string {
  return randomUUID().replaceAll("-", "");
}

export function jsonRpcRequest(id: JsonRpcId, method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, params });
}

/** The `error` member of a response as a JsonRpcError, or null when there is none. */
export function jsonRpcErrorOf(body: unknown): JsonRpcError | null {
  if (!isRecord(body) || !isRecord(body["error"])) return null;
  const error = body["error"];
  const code = typeof error["code"] === "number" ? error["code"] : 0;
  const message =
    typeof error["message"] === "string" && error["message"] !== ""
      ? error["message"]
      : "(no message)";
  return new JsonRpcError(code, message, error["data"]);
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
