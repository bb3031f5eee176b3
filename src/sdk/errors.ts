// Errors the Gateway SDK throws: one class per HTTP status the gateway documents, each with a
// stable `kind`, so callers can branch with `instanceof` or on `kind`.

export type GatewayErrorKind =
  | "gateway"
  | "auth"
  | "access_denied"
  | "agent_not_found"
  | "rate_limit"
  | "agent_communication"
  | "connection";

/** The `detail` object of an error body (`{"detail": {"error", "message", …}}`). */
export type GatewayErrorDetail = Record<string, unknown>;

export interface GatewayErrorInit {
  status: number;
  code: string;
  message: string;
  detail?: GatewayErrorDetail;
  cause?: unknown;
}

/** Any failed Gateway call. `status` is the HTTP status (0 when no response arrived). */
export class GatewayError extends Error {
  readonly kind: GatewayErrorKind = "gateway";
  readonly status: number;
  /** `detail.error` of the response body, e.g. `invalid_api_key`; `http_<status>` without one. */
  readonly code: string;
  readonly detail: GatewayErrorDetail;

  constructor(init: GatewayErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "GatewayError";
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail ?? { error: init.code, message: init.message };
  }
}

/** 401: the key is missing, unknown, expired or revoked. */
export class AuthError extends GatewayError {
  override readonly kind = "auth";
  constructor(init: GatewayErrorInit) {
    super(init);
    this.name = "AuthError";
  }
}

/** 403: the key is valid but lacks a scope (`requiredScope` when the gateway names it). */
export class AccessDeniedError extends GatewayError {
  override readonly kind = "access_denied";
  readonly requiredScope: string | undefined;
  readonly providedScopes: string[] | undefined;
  constructor(init: GatewayErrorInit) {
    super(init);
    this.name = "AccessDeniedError";
    const required = this.detail["required_scope"];
    this.requiredScope = typeof required === "string" ? required : undefined;
    const provided = this.detail["provided_scopes"];
    this.providedScopes = Array.isArray(provided)
      ? provided.filter((s): s is string => typeof s === "string")
      : undefined;
  }
}

/** 404: no agent with that id is visible to the key. */
export class AgentNotFoundError extends GatewayError {
  override readonly kind = "agent_not_found";
  constructor(init: GatewayErrorInit) {
    super(init);
    this.name = "AgentNotFoundError";
  }
}

/** The wait the Python SDK assumes when a 429 carries no usable `Retry-After`. */
export const DEFAULT_RETRY_AFTER_S = 60;

/** 429: too many requests; try again after `retryAfterS` seconds. */
export class RateLimitError extends GatewayError {
  override readonly kind = "rate_limit";
  readonly retryAfterS: number;
  constructor(init: GatewayErrorInit & { retryAfterS?: number | undefined }) {
    super(init);
    this.name = "RateLimitError";
    this.retryAfterS = init.retryAfterS ?? DEFAULT_RETRY_AFTER_S;
  }
}

/** 502: the gateway could not reach the agent or the agent failed. */
export class AgentCommunicationError extends GatewayError {
  override readonly kind = "agent_communication";
  constructor(init: GatewayErrorInit) {
    super(init);
    this.name = "AgentCommunicationError";
  }
}

/**
 * No (complete) response: the gateway could not be reached, a timeout fired, or a stream
 * ended before its terminal event. `status` is 0, or the stream's status when it broke off.
 */
export class GatewayConnectionError extends GatewayError {
  override readonly kind = "connection";
  constructor(init: GatewayErrorInit) {
    super(init);
    this.name = "GatewayConnectionError";
  }
}

/**
 * Seconds to wait from a `Retry-After` value (delta seconds or an HTTP date), or undefined
 * when it is absent or unreadable.
 */
export function parseRetryAfterS(
  value: string | null | undefined,
  nowMs = Date.now(),
): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text));
  const dateMs = Date.parse(text);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, Math.ceil((dateMs - nowMs) / 1000));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The error for a non-2xx response, mapped like the Python SDK: `detail` is `body.detail` when
 * present, else the body; the message is `detail.message`, else the text, else `HTTP <status>`.
 */
export function gatewayErrorFromResponse(
  status: number,
  bodyText: string,
  retryAfter?: string | null,
  nowMs = Date.now(),
): GatewayError {
  let body: unknown;
  try {
    body = bodyText === "" ? undefined : JSON.parse(bodyText);
  } catch {
    body = undefined;
  }
  const rawDetail = isRecord(body) && "detail" in body ? body["detail"] : body;
  const snippet = bodyText.trim().slice(0, 300);
  let detail: GatewayErrorDetail;
  let message: string;
  if (isRecord(rawDetail)) {
    detail = rawDetail;
    const m = rawDetail["message"];
    message = typeof m === "string" && m !== "" ? m : snippet || `HTTP ${status}`;
  } else if (typeof rawDetail === "string" && rawDetail !== "") {
    detail = { message: rawDetail };
    message = rawDetail;
  } else {
    message = snippet || `HTTP ${status}`;
    detail = { message };
  }
  const errorCode = detail["error"];
  const code = typeof errorCode === "string" && errorCode !== "" ? errorCode : `http_${status}`;
  const init: GatewayErrorInit = { status, code, message, detail };
  switch (status) {
    case 401:
      return new AuthError(init);
    case 403:
      return new AccessDeniedError(init);
    case 404:
      return new AgentNotFoundError(init);
    case 429:
      return new RateLimitError({ ...init, retryAfterS: parseRetryAfterS(retryAfter, nowMs) });
    case 502:
      return new AgentCommunicationError(init);
    default:
      return new GatewayError(init);
  }
}
