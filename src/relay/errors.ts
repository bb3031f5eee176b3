// Classification of every relay answer and failure (relay-wire.md section 4). Pure: the client
// hands in the status, headers and body text; nothing here does I/O.
import { classifyNetworkFailure, errorCodeOf, type NetworkPhase } from "../a2a/network-errors.ts";
import { redirectText } from "../wire/redirect.ts";
import type { RelayErrorDetail } from "../wire/relay.ts";

/** The relay call a failure belongs to. */
export type RelayCall = "register" | "sync" | "heartbeat" | "publish" | "events" | "status";

/**
 * Stable kinds:
 * - `auth`: the key is invalid/expired/revoked (401) or lacks a scope (403); stop, the user must act.
 *   Only the relay's own JSON error body (`{"detail": …}`) says so: a 401/403 page from a proxy
 *   or firewall in between is `transient` (code `NotRelayAnswer`), retried and reported as such.
 * - `not_registered`: 404 on a hub path; register again, then retry.
 * - `retry_after`: 408/429; retry after `retryAfterMs` (from `Retry-After`) or the backoff.
 * - `transient`: 5xx, network errors, a non-SSE answer to the stream; retry with backoff.
 * - `permanent`: any other 4xx; the request is wrong (a hub bug), log and drop it.
 * - `hub_refused`: the relay refuses this hub, not the key (the stream's `error` event, or a 403
 *   about the hub on a hub path): a setup problem; register again and retry slowly.
 */
type RelayErrorKind =
  | "auth"
  | "not_registered"
  | "retry_after"
  | "transient"
  | "permanent"
  | "hub_refused";

interface RelayErrorInit {
  status?: number | null;
  code?: string | null;
  retryAfterMs?: number | null;
  detail?: RelayErrorDetail | null;
  cause?: unknown;
}

export class RelayError extends Error {
  readonly kind: RelayErrorKind;
  readonly call: RelayCall;
  /** HTTP status, or null for a network failure. */
  readonly status: number | null;
  /** The relay's `detail.error`, or the network error's name (`ConnectError`, `ReadTimeout`, …). */
  readonly code: string | null;
  /** How long the relay asked us to wait (`Retry-After`, capped), if it said. */
  readonly retryAfterMs: number | null;
  readonly detail: RelayErrorDetail | null;

  constructor(kind: RelayErrorKind, call: RelayCall, message: string, init: RelayErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "RelayError";
    this.kind = kind;
    this.call = call;
    this.status = init.status ?? null;
    this.code = init.code ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.detail = init.detail ?? null;
  }

  /** True when trying the same call again later can succeed. */
  get retryable(): boolean {
    return this.kind === "retry_after" || this.kind === "transient" || this.kind === "hub_refused";
  }
}

/** 401/403: the daemon stops; the message names where the key came from, never the key. */
export class RelayAuthError extends RelayError {
  /** Where the key came from: "--api-key", "HYBRO_API_KEY", "config file", … */
  readonly keySource: string;
  /** For 403: the scope the relay wants (`detail.required_scope`). */
  readonly requiredScope: string | null;

  constructor(
    call: RelayCall,
    message: string,
    keySource: string,
    requiredScope: string | null,
    init: RelayErrorInit,
  ) {
    super("auth", call, message, init);
    this.name = "RelayAuthError";
    this.keySource = keySource;
    this.requiredScope = requiredScope;
  }
}

/** Calls that name the hub in their path: a 404 there means the relay forgot the hub. */
const HUB_SCOPED_CALLS: ReadonlySet<RelayCall> = new Set([
  "sync",
  "heartbeat",
  "publish",
  "events",
]);

/**
 * Hub paths where hybro.ai answers 403 about the hub (`{"detail": "Hub not owned by this API
 * key"}`), never about the key (a bad key is 401 there). Publish's 403s (hub or room) are read
 * by publishRefusal below.
 */
const HUB_REFUSAL_CALLS: ReadonlySet<RelayCall> = new Set(["sync", "heartbeat", "events"]);

const MAX_DETAIL_CHARS = 300;

export interface RelayAnswer {
  call: RelayCall;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as text (already stripped of any secret by the caller). */
  bodyText: string;
  /** Where the API key came from, for auth messages. */
  keySource: string;
  /** Cap of `Retry-After`. */
  maxRetryAfterMs: number;
  /** Clock for HTTP-date `Retry-After` values. */
  nowMs?: number;
}

/** Null for a 2xx answer, else the classified error. */
export function classifyResponse(answer: RelayAnswer): RelayError | null {
  const { call, status } = answer;
  if (status >= 200 && status < 300) return null;
  const detail = parseErrorDetail(answer.bodyText);
  const code = detail?.error ? detail.error : null;
  const said = describeDetail(detail, answer.bodyText);
  const init: RelayErrorInit = { status, code, detail };

  const refusal = publishRefusal(call, status, detail, said, init);
  if (refusal) return refusal;

  if ((status === 401 || status === 403 || status === 407) && detail === null) {
    return notRelayRefusal(answer, init);
  }

  if (status === 401) {
    return new RelayAuthError(
      call,
      authMessage(code, answer.keySource, said),
      answer.keySource,
      null,
      init,
    );
  }
  if (status === 403) {
    const scope = typeof detail?.required_scope === "string" ? detail.required_scope : null;
    if (
      detail !== null &&
      scope === null &&
      code !== "insufficient_scope" &&
      HUB_REFUSAL_CALLS.has(call)
    ) {
      // The relay's own JSON body about the hub (not a missing scope): a setup problem.
      return new RelayError(
        "hub_refused",
        call,
        `relay refused ${call} for this hub (403${said}); the hub id is not registered to this key's account, or not connected yet`,
        init,
      );
    }
    const what = scope ? `lacks the scope '${scope}' needed for ${call}` : `may not ${call}`;
    return new RelayAuthError(
      call,
      `the API key from ${answer.keySource} ${what} (relay said 403${said}); use a key that has it`,
      answer.keySource,
      scope,
      init,
    );
  }
  if (status === 404 && HUB_SCOPED_CALLS.has(call)) {
    return new RelayError(
      "not_registered",
      call,
      `relay does not know this hub (404 on ${call}${said}); registering again`,
      init,
    );
  }
  if (status === 408 || status === 429) {
    const retryAfterMs = parseRetryAfterMs(
      headerValue(answer.headers, "retry-after"),
      answer.nowMs ?? Date.now(),
      answer.maxRetryAfterMs,
    );
    const wait = retryAfterMs === null ? "with backoff" : `in ${retryAfterMs} ms`;
    return new RelayError(
      "retry_after",
      call,
      `relay answered ${call} with ${status}${said}; retrying ${wait}`,
      { ...init, retryAfterMs },
    );
  }
  if (status >= 300 && status < 400) {
    const redirect = redirectText(status, headerValue(answer.headers, "location"));
    return new RelayError(
      "transient",
      call,
      `relay answered ${call} with ${redirect}; is the relay URL right (https://, no extra path)? retrying with backoff`,
      init,
    );
  }
  if (status >= 500 || status < 200) {
    // 5xx, and the odd 1xx a proxy may produce: the relay side is unwell, try again later.
    const retryAfterMs = parseRetryAfterMs(
      headerValue(answer.headers, "retry-after"),
      answer.nowMs ?? Date.now(),
      answer.maxRetryAfterMs,
    );
    return new RelayError(
      "transient",
      call,
      `relay answered ${call} with ${status}${said}; retrying with backoff`,
      { ...init, retryAfterMs },
    );
  }
  return new RelayError(
    "permanent",
    call,
    `relay refused ${call} with ${status}${said}; the request is malformed (a hub bug) and was dropped`,
    init,
  );
}

/**
 * A 401/403/407 whose body is not the relay's JSON error (an HTML page, plain text, nothing):
 * something between the hub and the relay answered (a proxy, a firewall, a captive portal), so
 * it says nothing about the key. Retried with backoff; the message says what answered.
 */
function notRelayRefusal(answer: RelayAnswer, init: RelayErrorInit): RelayError {
  const { call, status } = answer;
  const type = headerValue(answer.headers, "content-type")?.split(";")[0]?.trim() || "no type";
  const title = /<title[^>]*>([^<]{1,200})<\/title>/i.exec(answer.bodyText)?.[1];
  const body = title ?? answer.bodyText;
  const shown = body.trim() ? `${type}: "${truncate(body.trim())}"` : `${type}, empty`;
  const who = status === 407 ? "a proxy that wants credentials" : "a proxy or firewall";
  return new RelayError(
    "transient",
    call,
    `${call} was answered ${status} by something other than the relay (${shown}); ${who} between the hub and the relay? The API key was not judged; retrying with backoff`,
    { ...init, code: "NotRelayAnswer" },
  );
}

/** An answer larger than the hub reads (a runaway or hostile relay, a proxy's page). */
export function answerTooLargeError(call: RelayCall, status: number, maxBytes: number): RelayError {
  return new RelayError(
    "transient",
    call,
    `relay answered ${call} (${status}) with more than ${formatBytes(maxBytes)}, more than any answer of the relay needs; not read, retrying with backoff`,
    { status, code: "AnswerTooLarge" },
  );
}

/** A short call that did not finish within its whole-call deadline, however the relay trickled. */
export function callDeadlineError(call: RelayCall, deadlineMs: number): RelayError {
  return new RelayError(
    "transient",
    call,
    `relay ${call} did not finish within ${deadlineMs < 10_000 ? `${deadlineMs} ms` : `${Math.round(deadlineMs / 1000)} s`} (the relay answers too slowly or stalls); retrying with backoff`,
    { code: "DeadlineExceeded" },
  );
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : `${bytes} bytes`;
}

/**
 * hybro.ai refuses a publish whose hub or room is not the key's with 403/404 and a plain-text
 * reason (its PermissionError/ValueError text; the development relay adds a code). None of these
 * is a problem with the key (hybro.ai's key checks answer 401), so none may stop the hub: an
 * unknown hub registers again, a hub now another account's waits like a refused stream (the
 * events stay queued), a room that is not the hub's (or gone) loses that POST's events.
 */
function publishRefusal(
  call: RelayCall,
  status: number,
  detail: RelayErrorDetail | null,
  said: string,
  init: RelayErrorInit,
): RelayError | null {
  if (call !== "publish" || (status !== 403 && status !== 404)) return null;
  const code = detail?.error ?? "";
  const text = (detail?.message ?? "").trim();
  if (status === 403 && (code === "unknown_hub" || /^unknown hub$/i.test(text))) {
    return new RelayError(
      "not_registered",
      call,
      `relay does not know this hub (403 on publish${said}); registering again`,
      init,
    );
  }
  if (
    status === 403 &&
    (code === "hub_not_owned" || /^hub not owned by this api key/i.test(text))
  ) {
    return new RelayError(
      "hub_refused",
      call,
      `relay refused publish for this hub (403${said}); the hub id is registered to another account: the events stay queued until the relay accepts this hub again`,
      init,
    );
  }
  if (status === 403 && (code === "room_owner_mismatch" || /room owner/i.test(text))) {
    return new RelayError(
      "permanent",
      call,
      `relay refused publish: the room belongs to another account (403${said}); that room's events were dropped`,
      init,
    );
  }
  if (status === 404 && (code === "room_not_found" || /^room .* not found/i.test(text))) {
    return new RelayError(
      "permanent",
      call,
      `relay has no such room (404${said}; deleted?); that room's events were dropped`,
      init,
    );
  }
  return null;
}

function authMessage(code: string | null, keySource: string, said: string): string {
  const problem =
    code === "expired_api_key"
      ? "has expired"
      : code === "revoked_api_key"
        ? "was revoked"
        : code === "missing_api_key"
          ? "was not sent (it is empty)"
          : "was rejected as invalid";
  return (
    `the API key from ${keySource} ${problem} (relay said 401${said}); ` +
    "create a valid key and save it with `hybro-hub config set-key` (or set HYBRO_API_KEY)"
  );
}

/**
 * The index of the event a 422 on publish names (`events.3.type` from the development relay,
 * `["body","events",3,"type"]` from hybro.ai's FastAPI), or null when it names none.
 */
export function refusedEventIndex(error: RelayError): number | null {
  if (error.status !== 422 || !error.detail) return null;
  const field = error.detail.field;
  if (typeof field === "string") {
    const match = /^events\.(\d+)(\.|$)/.exec(field);
    if (match) return Number(match[1]);
  }
  let issues: unknown;
  try {
    issues = JSON.parse(error.detail.message);
  } catch {
    return null;
  }
  if (!Array.isArray(issues)) return null;
  for (const issue of issues) {
    const loc = (issue as { loc?: unknown } | null)?.loc;
    if (!Array.isArray(loc)) continue;
    const at = loc.indexOf("events");
    const index = at >= 0 ? loc[at + 1] : undefined;
    if (typeof index === "number" && Number.isInteger(index) && index >= 0) return index;
  }
  return null;
}

/** A non-`text/event-stream` 200 on the command stream (a proxy's page, a wrong URL). */
export function wrongContentTypeError(contentType: string | null): RelayError {
  return new RelayError(
    "transient",
    "events",
    `relay answered the event stream with content type '${contentType ?? "none"}' instead of ` +
      "text/event-stream (a proxy or a wrong --gateway-url?); retrying with backoff",
    { status: 200, code: "WrongContentType" },
  );
}

/** The stream's `error` event: the relay refuses this hub's stream (`reason`: its own words). */
export function streamRefusedError(reason: string): RelayError {
  return new RelayError("hub_refused", "events", `relay refused the event stream: ${reason}`, {
    code: "StreamRefused",
  });
}

/** A relay-given text made safe for one log line: one line, printable, at most 300 characters. */
export function relayText(text: string): string {
  return truncate(text.replace(/\p{Cc}/gu, " ").trim());
}

/**
 * A failure with no HTTP answer (refused, reset, DNS, timeouts): always transient. `phase`:
 * whether the relay's answer had begun (a2a/network-errors.ts names a reset by it).
 */
export function classifyNetworkError(
  call: RelayCall,
  error: unknown,
  phase: NetworkPhase = "read",
): RelayError {
  const code = networkErrorName(error, phase);
  const text = error instanceof Error && error.message ? `: ${truncate(error.message)}` : "";
  return new RelayError(
    "transient",
    call,
    `relay ${call} failed (${code}${text}); retrying with backoff`,
    { code, cause: error },
  );
}

/** A short stable name for a transport failure, in the relay's `error_type` vocabulary. */
export function networkErrorName(error: unknown, phase: NetworkPhase = "read"): string {
  const known = classifyNetworkFailure(error, phase);
  if (known) return known.errorType;
  if (error instanceof Error && error.name === "RelayReadTimeout") return "ReadTimeout";
  return errorCodeOf(error) ?? "NetworkError";
}

/**
 * `Retry-After` as milliseconds from now: delta-seconds (`"120"`, also decimals) or an
 * HTTP-date. Null when absent or unreadable; never negative; at most `capMs`.
 */
export function parseRetryAfterMs(
  value: string | null | undefined,
  nowMs: number,
  capMs: number,
): number | null {
  if (value === undefined || value === null) return null;
  const text = value.trim();
  if (text === "") return null;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    ms = Math.ceil(Number(text) * 1000);
  } else {
    // HTTP-dates always name a weekday/month; this keeps "-5" from parsing as a year.
    if (!/[a-z]/i.test(text)) return null;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return null;
    ms = at - nowMs;
  }
  return Math.min(Math.max(0, ms), capMs);
}

/** The `detail` of an error body (`{"detail": {...}}`; also FastAPI's string/list forms). */
export function parseErrorDetail(bodyText: string): RelayErrorDetail | null {
  if (!bodyText) return null;
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null) return null;
  const detail = (body as { detail?: unknown }).detail;
  if (typeof detail === "string") return { error: "", message: detail };
  if (Array.isArray(detail)) return { error: "validation_error", message: JSON.stringify(detail) };
  if (typeof detail === "object" && detail !== null) {
    const record = detail as Record<string, unknown>;
    return {
      ...record,
      error: typeof record.error === "string" ? record.error : "",
      message: typeof record.message === "string" ? record.message : "",
    };
  }
  return null;
}

function describeDetail(detail: RelayErrorDetail | null, bodyText: string): string {
  if (detail) {
    const parts = [detail.error, detail.message].filter((part) => part);
    return parts.length > 0 ? `: ${truncate(parts.join(": "))}` : "";
  }
  const text = bodyText.trim();
  return text ? `: ${truncate(text)}` : "";
}

function truncate(text: string): string {
  const oneLine = text.replace(/\s+/g, " ");
  return oneLine.length > MAX_DETAIL_CHARS ? `${oneLine.slice(0, MAX_DETAIL_CHARS)}…` : oneLine;
}

function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | null {
  const value = headers[name] ?? headers[name.toLowerCase()];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}
