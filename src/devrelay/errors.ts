// Every refusal the relay gives is one of these: a status, a stable code, a message that says
// what to do, and optional extra fields. Serialised as {"detail": {"error", "message", …}}.
import type { RelayErrorBody, RelayErrorCode } from "../wire/relay.ts";

export class RelayHttpError extends Error {
  readonly status: number;
  readonly code: RelayErrorCode | string;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: RelayErrorCode | string,
    message: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "RelayHttpError";
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.headers = headers;
  }

  body(): RelayErrorBody {
    return { detail: { error: this.code, message: this.message, ...this.extra } };
  }
}

/** Shortens a caller-supplied value before it is echoed in an error message. */
export function clip(value: string, max = 64): string {
  const safe = value.replace(/[^\x20-\x7e]/g, "?");
  return safe.length > max ? `${safe.slice(0, max)}…` : safe;
}

export function notFound(message: string): RelayHttpError {
  return new RelayHttpError(404, "not_found", message);
}
