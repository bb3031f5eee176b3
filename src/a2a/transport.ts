// The agent seam: "how an agent is reached" (HTTP, stdio, WebSocket) below, everything above.
// A transport moves JSON-RPC requests and responses; it knows nothing of A2A dialects, turns
// or relay events. The A2A client (src/a2a/client.ts) sits on top and is the same for all three.

import type { NetworkErrorType } from "./network-errors.ts";

export type TransportKind = "http" | "stdio" | "ws";

/** Every `errorType` a transport reports (the relay sees it as `error_type`). */
type TransportErrorType =
  | NetworkErrorType
  | "InvalidURL"
  | "HTTPStatusError"
  | "InvalidAgentResponse"
  | "AgentExited"
  | "StreamOverflow"
  | "CardTooLarge"
  | "CardRedirect";

/** The A2A dialect a call is made in; decides method names, shapes and (HTTP) the version header. */
export type A2ADialect = "0.3" | "1.0";

export interface RpcCallOptions {
  signal: AbortSignal;
  dialect: A2ADialect;
  /**
   * A stream event that could not be read was skipped (`note` says what it was): the caller
   * must not take a stream that skipped content for a whole answer.
   */
  onUnreadable?: (note: string) => void;
}

/** A JSON-RPC error answered by the agent (any HTTP status). */
export class JsonRpcError extends Error {
  override readonly name = "JsonRpcError";
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(`JSON-RPC error ${code}: ${message}`);
    this.code = code;
    this.data = data;
  }
  /** -32601 (method not found) or -32009 (version not supported): try the other dialect. */
  get isVersionFallback(): boolean {
    return this.code === -32601 || this.code === -32009;
  }
}

/**
 * A failure to reach or talk to the agent. `errorType` is what the relay sees as `error_type`
 * (`ConnectError`, `ReadTimeout`, `AgentExited`, `HTTPStatusError`, `InvalidAgentResponse`, …);
 * `connectionClass` marks errors that mean "the agent is gone" (refused, reset, exited).
 */
export class TransportError extends Error {
  override readonly name = "TransportError";
  readonly errorType: TransportErrorType;
  readonly connectionClass: boolean;
  constructor(
    errorType: TransportErrorType,
    message: string,
    options?: { cause?: unknown; connectionClass?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.errorType = errorType;
    this.connectionClass = options?.connectionClass ?? false;
  }
}

export interface AgentTransport {
  readonly kind: TransportKind;
  /**
   * One unary JSON-RPC call. Resolves with `result`; rejects with JsonRpcError for an `error`
   * member, TransportError for anything else (never a bare undici/system error).
   */
  call(method: string, params: unknown, options: RpcCallOptions): Promise<unknown>;
  /**
   * A streaming call (`message/stream` / `SendStreamingMessage`): yields each event's `result`
   * payload in order. A JSON-RPC error (before or during the stream, incl. a plain JSON body
   * answering a stream request) rejects with JsonRpcError. Breaking out of the loop or aborting
   * the signal ends the underlying request.
   */
  stream(method: string, params: unknown, options: RpcCallOptions): AsyncIterable<unknown>;
  /**
   * The agent's card as it serves it, or null when this transport has none to offer
   * (HTTP: well-known paths or cardUrl; stdio/ws: `agent/getCard`).
   */
  fetchCard(signal: AbortSignal): Promise<Record<string, unknown> | null>;
  /** Release sockets/processes. Idempotent. */
  close(): Promise<void>;
}
