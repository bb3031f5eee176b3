import { describe, expect, it } from "vitest";
import {
  classifyNetworkError,
  classifyResponse,
  networkErrorName,
  parseErrorDetail,
  parseRetryAfterMs,
  type RelayAnswer,
  RelayAuthError,
} from "../../src/relay/errors.ts";

const answer = (overrides: Partial<RelayAnswer>): RelayAnswer => ({
  call: "sync",
  status: 200,
  headers: {},
  bodyText: "",
  keySource: "HYBRO_API_KEY",
  maxRetryAfterMs: 60_000,
  nowMs: Date.parse("2026-01-01T00:00:00Z"),
  ...overrides,
});
const body = (error: string, message: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ detail: { error, message, ...extra } });

describe("classifyResponse", () => {
  it("treats every 2xx as success", () => {
    expect(classifyResponse(answer({ status: 200 }))).toBeNull();
    expect(classifyResponse(answer({ status: 204 }))).toBeNull();
  });

  it("401 is an auth error naming the key source and the relay's reason", () => {
    const error = classifyResponse(
      answer({ status: 401, bodyText: body("expired_api_key", "API key has expired") }),
    );
    expect(error).toBeInstanceOf(RelayAuthError);
    expect(error?.kind).toBe("auth");
    expect(error?.retryable).toBe(false);
    expect(error?.code).toBe("expired_api_key");
    expect(error?.message).toContain("HYBRO_API_KEY");
    expect(error?.message).toContain("has expired");
    expect((error as RelayAuthError).keySource).toBe("HYBRO_API_KEY");
  });

  it("401 codes map to distinct wording", () => {
    const text = (code: string) =>
      classifyResponse(answer({ status: 401, bodyText: body(code, "x"), keySource: "--api-key" }))
        ?.message;
    expect(text("revoked_api_key")).toContain("was revoked");
    expect(text("invalid_api_key")).toContain("rejected as invalid");
    expect(text("missing_api_key")).toContain("was not sent");
    expect(text("invalid_api_key")).toContain("--api-key");
  });

  it("hybro.ai's refusals of a publish for its hub or room (plain-text 403/404) are not key problems", () => {
    const plain = (text: string) => JSON.stringify({ detail: text });
    const kind = (status: number, bodyText: string) =>
      classifyResponse(answer({ call: "publish", status, bodyText }))?.kind;
    // hybro.ai's own texts, as FastAPI sends them
    expect(kind(403, plain("Unknown hub"))).toBe("not_registered");
    expect(kind(403, plain("Hub not owned by this API key"))).toBe("hub_refused");
    expect(kind(403, plain("Hub owner does not match room owner"))).toBe("permanent");
    expect(kind(404, plain("Room r-1 not found"))).toBe("permanent");
    // the development relay's codes
    expect(kind(403, body("unknown_hub", "Unknown hub"))).toBe("not_registered");
    expect(kind(403, body("hub_not_owned", "x"))).toBe("hub_refused");
    expect(kind(404, body("room_not_found", "x"))).toBe("permanent");
    // a 404 that names no room still means "register again"; a scope 403 is still the key's
    expect(kind(404, body("not_found", "Hub not registered"))).toBe("not_registered");
    expect(kind(403, body("insufficient_scope", "x", { required_scope: "relay:hub" }))).toBe(
      "auth",
    );
  });

  it("403 carries the missing scope", () => {
    const error = classifyResponse(
      answer({
        status: 403,
        call: "publish",
        keySource: "config file",
        bodyText: body("insufficient_scope", "lacks scope", { required_scope: "hub:relay" }),
      }),
    ) as RelayAuthError;
    expect(error).toBeInstanceOf(RelayAuthError);
    expect(error.requiredScope).toBe("hub:relay");
    expect(error.message).toContain("'hub:relay'");
    expect(error.message).toContain("config file");
  });

  it("a 403 about the hub (hybro.ai's plain detail) on stream, heartbeat or sync is no key problem", () => {
    for (const call of ["sync", "heartbeat", "events"] as const) {
      const error = classifyResponse(
        answer({
          call,
          status: 403,
          bodyText: JSON.stringify({ detail: "Hub not owned by this API key" }),
        }),
      );
      expect(error?.kind, call).toBe("hub_refused");
      expect(error).not.toBeInstanceOf(RelayAuthError);
      expect(error?.message).toContain("Hub not owned by this API key");
    }
    // A missing scope stays a key problem everywhere; register keeps the key reading. Publish's
    // hub and room refusals have their own test above (a foreign room is no key problem either).
    const scoped = body("insufficient_scope", "lacks scope", { required_scope: "relay:hub" });
    expect(
      classifyResponse(answer({ call: "heartbeat", status: 403, bodyText: scoped }))?.kind,
    ).toBe("auth");
    const plain = JSON.stringify({ detail: "Hub owner does not match room owner" });
    expect(classifyResponse(answer({ call: "register", status: 403, bodyText: plain }))?.kind).toBe(
      "auth",
    );
  });

  it("a 401/403/407 without the relay's JSON error body is never the key's, on any call", () => {
    const html = "<html><head><title>403 Forbidden</title></head><body>nginx</body></html>";
    for (const call of ["register", "sync", "heartbeat", "publish", "events", "status"] as const) {
      for (const status of [401, 403, 407]) {
        const error = classifyResponse(
          answer({ call, status, bodyText: html, headers: { "content-type": "text/html" } }),
        );
        expect(error, `${call} ${status}`).not.toBeInstanceOf(RelayAuthError);
        expect([error?.kind, error?.code], `${call} ${status}`).toEqual([
          "transient",
          "NotRelayAnswer",
        ]);
        expect(error?.message).toContain('text/html: "403 Forbidden"');
      }
    }
    // JSON that is not the relay's error shape (no `detail`) is not the relay's either.
    const foreign = classifyResponse(
      answer({ call: "register", status: 401, bodyText: '{"error":"unauthorized"}' }),
    );
    expect(foreign?.code).toBe("NotRelayAnswer");
  });

  it("404 on a hub path means register again; elsewhere it is permanent", () => {
    for (const call of ["sync", "heartbeat", "publish", "events"] as const) {
      expect(classifyResponse(answer({ call, status: 404 }))?.kind).toBe("not_registered");
    }
    expect(classifyResponse(answer({ call: "register", status: 404 }))?.kind).toBe("permanent");
    expect(classifyResponse(answer({ call: "status", status: 404 }))?.kind).toBe("permanent");
  });

  it("408 and 429 are retried after Retry-After", () => {
    const limited = classifyResponse(
      answer({
        status: 429,
        headers: { "retry-after": "7" },
        bodyText: body("rate_limit_exceeded", "Rate limit exceeded: 200 requests per hour"),
      }),
    );
    expect(limited?.kind).toBe("retry_after");
    expect(limited?.retryable).toBe(true);
    expect(limited?.retryAfterMs).toBe(7000);
    expect(limited?.message).toContain("Rate limit exceeded");
    const timeout = classifyResponse(answer({ status: 408 }));
    expect(timeout?.kind).toBe("retry_after");
    expect(timeout?.retryAfterMs).toBeNull();
  });

  it("caps Retry-After", () => {
    const error = classifyResponse(answer({ status: 429, headers: { "retry-after": "86400" } }));
    expect(error?.retryAfterMs).toBe(60_000);
  });

  it("5xx is transient (and keeps a Retry-After if given)", () => {
    const error = classifyResponse(answer({ status: 503, headers: { "retry-after": "2" } }));
    expect(error?.kind).toBe("transient");
    expect(error?.retryAfterMs).toBe(2000);
    expect(
      classifyResponse(answer({ status: 500, bodyText: "<html>oops</html>" }))?.message,
    ).toContain("oops");
  });

  it("other 4xx are permanent and say so", () => {
    const error = classifyResponse(
      answer({
        status: 422,
        call: "publish",
        bodyText: body("validation_error", "events[0].type is unknown"),
      }),
    );
    expect(error?.kind).toBe("permanent");
    expect(error?.retryable).toBe(false);
    expect(error?.message).toContain("events[0].type is unknown");
    expect(error?.message).toContain("dropped");
  });

  it("keeps a long body to one truncated line", () => {
    const error = classifyResponse(answer({ status: 400, bodyText: `a\n${"x".repeat(5000)}` }));
    expect(error?.message.length).toBeLessThan(600);
    expect(error?.message).not.toContain("\n");
  });
});

describe("parseRetryAfterMs", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it("reads delta-seconds", () => {
    expect(parseRetryAfterMs("0", now, 1e9)).toBe(0);
    expect(parseRetryAfterMs("120", now, 1e9)).toBe(120_000);
    expect(parseRetryAfterMs(" 1.5 ", now, 1e9)).toBe(1500);
  });
  it("reads an HTTP date relative to now, never negative", () => {
    expect(parseRetryAfterMs("Thu, 01 Jan 2026 00:00:30 GMT", now, 1e9)).toBe(30_000);
    expect(parseRetryAfterMs("Wed, 31 Dec 2025 23:00:00 GMT", now, 1e9)).toBe(0);
  });
  it("ignores absent or unreadable values and caps", () => {
    expect(parseRetryAfterMs(undefined, now, 1e9)).toBeNull();
    expect(parseRetryAfterMs("", now, 1e9)).toBeNull();
    expect(parseRetryAfterMs("soon", now, 1e9)).toBeNull();
    expect(parseRetryAfterMs("-5", now, 1e9)).toBeNull();
    expect(parseRetryAfterMs("3600", now, 10_000)).toBe(10_000);
  });
});

describe("parseErrorDetail", () => {
  it("reads the relay's object form and FastAPI's string and list forms", () => {
    expect(parseErrorDetail(body("not_found", "no hub"))).toMatchObject({
      error: "not_found",
      message: "no hub",
    });
    expect(parseErrorDetail(JSON.stringify({ detail: "Not Found" }))).toEqual({
      error: "",
      message: "Not Found",
    });
    expect(parseErrorDetail(JSON.stringify({ detail: [{ loc: ["body"] }] }))?.error).toBe(
      "validation_error",
    );
    expect(parseErrorDetail("not json")).toBeNull();
    expect(parseErrorDetail("")).toBeNull();
    expect(parseErrorDetail("[1]")).toBeNull();
  });
});

describe("network errors", () => {
  it("are transient with a stable name", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
      code: "ECONNREFUSED",
    });
    const error = classifyNetworkError("register", refused);
    expect(error.kind).toBe("transient");
    expect(error.code).toBe("ConnectError");
    expect(error.status).toBeNull();
    expect(error.message).toContain("ECONNREFUSED");
    expect(networkErrorName({ code: "UND_ERR_HEADERS_TIMEOUT" })).toBe("ReadTimeout");
    expect(networkErrorName({ code: "UND_ERR_BODY_TIMEOUT" })).toBe("ReadTimeout");
    expect(networkErrorName({ code: "UND_ERR_CONNECT_TIMEOUT" })).toBe("ConnectTimeout");
    expect(networkErrorName({ code: "ECONNRESET" })).toBe("ReadError");
    expect(networkErrorName(new Error("?"))).toBe("NetworkError");
  });
});
