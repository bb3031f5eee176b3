// The one classification of a failure that got no answer (refused, reset, DNS, timeouts), named
// in the `error_type` words the relay knows: httpx's exception names, which the Python hub sends.
// Used for agents (HTTP transport) and for the relay (relay/errors.ts) alike.
//
// A broken connection (ECONNRESET, EPIPE, undici's "other side closed") is named by when it
// broke, as httpx does: before any answer it is a ConnectError (nobody serves there: the agent
// died or is restarting; connection-class, so the agent is taken for gone), after the answer
// began it is a ReadError (the answer was cut; the agent was there). Undici reports the same
// event as ECONNRESET or UND_ERR_SOCKET depending on timing, so both get the same name.

export type NetworkPhase = "connect" | "read";

export type NetworkErrorType = "ConnectError" | "ConnectTimeout" | "ReadTimeout" | "ReadError";

interface NetworkFailure {
  errorType: NetworkErrorType;
  /** The peer is not there (any more); for an agent: remove it and sync again. */
  connectionClass: boolean;
  /** The connection was made and then closed or reset by the other side. */
  closedByPeer: boolean;
  /** The system or undici code found on the error (or its causes). */
  code: string;
}

/** Nobody answers at that address. */
const UNREACHABLE: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "EADDRNOTAVAIL",
]);

/** The connection was there and broke. */
const BROKEN: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

/** The code on an error, its `cause` chain or an AggregateError's errors (happy eyeballs). */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string") return e.code;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = errorCodeOf(inner);
      if (code) return code;
    }
  }
  return e.cause !== undefined && e.cause !== error ? errorCodeOf(e.cause) : undefined;
}

/** What a network failure is, or null when it is none this module knows. */
export function classifyNetworkFailure(error: unknown, phase: NetworkPhase): NetworkFailure | null {
  const code = errorCodeOf(error);
  if (code === undefined) return null;
  const failure = (
    errorType: NetworkErrorType,
    connectionClass: boolean,
    closedByPeer = false,
  ) => ({
    errorType,
    connectionClass,
    closedByPeer,
    code,
  });
  if (code === "UND_ERR_CONNECT_TIMEOUT") return failure("ConnectTimeout", true);
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return failure("ReadTimeout", false);
  }
  if (UNREACHABLE.has(code)) return failure("ConnectError", true);
  if (BROKEN.has(code)) {
    return phase === "connect"
      ? failure("ConnectError", true, true)
      : failure("ReadError", false, true);
  }
  return null;
}
