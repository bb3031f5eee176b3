// The SDK's pure mappings: error bodies, Retry-After, rate-limit headers, messages, tasks,
// stream events, the retry decision, and the CLI's one-line failures.
import { describe, expect, it } from "vitest";
import {
  describeGatewayFailure,
  GatewayExitCode,
  gatewayBaseUrl,
} from "../../src/cli/gateway-commands.ts";
import {
  AccessDeniedError,
  AgentCommunicationError,
  AgentNotFoundError,
  AuthError,
  buildUserMessage,
  GatewayConnectionError,
  GatewayError,
  type GatewayStreamEvent,
  type GatewayTask,
  gatewayErrorFromResponse,
  parseRetryAfterS,
  parseStreamEvent,
  RateLimitError,
  rateLimitFromHeaders,
  renderTask,
  StreamedAnswer,
  taskText,
} from "../../src/sdk/index.ts";
import { retryDelayMs } from "../../src/sdk/retry-policy.ts";

const body = (detail: Record<string, unknown>) => JSON.stringify({ detail });

describe("gatewayErrorFromResponse", () => {
  it("maps each status to its class with code, message and detail", () => {
    const auth = gatewayErrorFromResponse(
      401,
      body({ error: "invalid_api_key", message: "Invalid API key" }),
    );
    expect(auth).toBeInstanceOf(AuthError);
    expect(auth).toMatchObject({
      status: 401,
      code: "invalid_api_key",
      message: "Invalid API key",
      kind: "auth",
    });

    const denied = gatewayErrorFromResponse(
      403,
      body({
        error: "insufficient_scope",
        message: "no",
        required_scope: "gateway:send",
        provided_scopes: ["gateway:read"],
      }),
    );
    expect(denied).toBeInstanceOf(AccessDeniedError);
    expect(denied).toMatchObject({
      requiredScope: "gateway:send",
      providedScopes: ["gateway:read"],
    });
    expect(gatewayErrorFromResponse(403, body({ error: "forbidden", message: "x" }))).toMatchObject(
      {
        requiredScope: undefined,
      },
    );

    expect(
      gatewayErrorFromResponse(404, body({ error: "not_found", message: "gone" })),
    ).toBeInstanceOf(AgentNotFoundError);
    expect(
      gatewayErrorFromResponse(502, body({ error: "bad_gateway", message: "x" })),
    ).toBeInstanceOf(AgentCommunicationError);
    const other = gatewayErrorFromResponse(
      422,
      body({ error: "validation_error", message: "query: too long" }),
    );
    expect(other.constructor).toBe(GatewayError);
    expect(other.detail).toEqual({ error: "validation_error", message: "query: too long" });
  });

  it("reads Retry-After into RateLimitError.retryAfterS, 60 when absent or unreadable", () => {
    const rate = (h?: string) =>
      gatewayErrorFromResponse(
        429,
        body({ error: "rate_limit_exceeded", message: "m" }),
        h,
      ) as RateLimitError;
    expect(rate("120").retryAfterS).toBe(120);
    expect(rate(undefined).retryAfterS).toBe(60);
    expect(rate("soon").retryAfterS).toBe(60);
  });

  it("falls back like the Python SDK for bodies without detail.message", () => {
    expect(gatewayErrorFromResponse(500, "")).toMatchObject({
      code: "http_500",
      message: "HTTP 500",
    });
    expect(gatewayErrorFromResponse(500, "plain text")).toMatchObject({ message: "plain text" });
    expect(gatewayErrorFromResponse(400, '{"detail":"bad thing"}')).toMatchObject({
      message: "bad thing",
      detail: { message: "bad thing" },
    });
    expect(gatewayErrorFromResponse(400, '{"error":"x","message":"top level"}')).toMatchObject({
      code: "x",
      message: "top level",
    });
  });
});

describe("parseRetryAfterS", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfterS("5")).toBe(5);
    expect(parseRetryAfterS(" 0 ")).toBe(0);
    const now = Date.parse("2030-01-01T00:00:00Z");
    expect(parseRetryAfterS("Tue, 01 Jan 2030 00:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfterS("Tue, 01 Jan 2029 00:00:30 GMT", now)).toBe(0);
    expect(parseRetryAfterS(null)).toBeUndefined();
    expect(parseRetryAfterS("later")).toBeUndefined();
  });
});

describe("rateLimitFromHeaders", () => {
  it("reads seconds-until-reset and Unix-time resets alike", () => {
    const now = 1_900_000_000_000;
    expect(
      rateLimitFromHeaders(
        {
          "x-ratelimit-limit": "200",
          "x-ratelimit-remaining": "199",
          "x-ratelimit-reset": "1900000120",
        },
        now,
      ),
    ).toEqual({ limit: 200, remaining: 199, resetS: 120 });
    expect(
      rateLimitFromHeaders(
        { "x-ratelimit-limit": "5", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "42" },
        now,
      ),
    ).toEqual({ limit: 5, remaining: 0, resetS: 42 });
    expect(rateLimitFromHeaders({ "content-type": "application/json" })).toBeNull();
    expect(
      rateLimitFromHeaders({ "x-ratelimit-limit": "x", "x-ratelimit-remaining": "1" }),
    ).toBeNull();
  });
});

describe("retryDelayMs", () => {
  const settings = { maxRetries: 2, maxRetryWaitMs: 10_000 };
  it("retries 429/503 with a short Retry-After only, up to maxRetries", () => {
    expect(retryDelayMs(429, "3", 0, settings)).toBe(3000);
    expect(retryDelayMs(503, "1", 1, settings)).toBe(1000);
    expect(retryDelayMs(429, "3", 2, settings)).toBeNull();
    expect(retryDelayMs(429, "11", 0, settings)).toBeNull();
    expect(retryDelayMs(429, undefined, 0, settings)).toBeNull();
    expect(retryDelayMs(503, undefined, 0, settings)).toBeNull();
    expect(retryDelayMs(500, "1", 0, settings)).toBeNull();
    expect(retryDelayMs(429, "1", 0, { ...settings, maxRetries: 0 })).toBeNull();
  });
});

describe("buildUserMessage", () => {
  it("builds the v0.3 message the Python SDK sends", () => {
    const message = buildUserMessage("hi", { contextId: "ctx-1" });
    expect(message).toMatchObject({
      role: "user",
      kind: "message",
      parts: [{ kind: "text", text: "hi" }],
      contextId: "ctx-1",
    });
    expect(message.messageId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(message.taskId).toBeUndefined();
    const fresh = buildUserMessage("hi");
    expect(fresh.contextId).toMatch(/^[0-9a-f-]{36}$/);
    expect(buildUserMessage("hi").contextId).not.toBe(fresh.contextId);
  });

  it("keeps a given message's own ids and fills only what it lacks", () => {
    const parts = [{ kind: "data", data: { a: 1 } }];
    const message = buildUserMessage(
      { parts, messageId: "m1", contextId: "own" },
      { contextId: "opt", taskId: "t1" },
    );
    expect(message).toMatchObject({
      parts,
      messageId: "m1",
      contextId: "own",
      taskId: "t1",
      role: "user",
    });
  });
});

describe("taskText", () => {
  const task = (over: Partial<GatewayTask>): GatewayTask => ({
    kind: "task",
    id: "t",
    contextId: "c",
    status: { state: "completed" },
    ...over,
  });
  it("prefers artifact text (v0.3 and v1.0 parts) over the status message", () => {
    expect(
      taskText(
        task({
          artifacts: [
            {
              artifactId: "a",
              parts: [
                { kind: "text", text: "Hello " },
                { kind: "data", data: {} },
              ],
            },
            { artifactId: "b", parts: [{ text: "world" }] },
          ],
          status: {
            state: "completed",
            message: { parts: [{ kind: "text", text: "Hello world" }] },
          },
        }),
      ),
    ).toBe("Hello world");
    expect(
      taskText(
        task({ status: { state: "failed", message: { parts: [{ kind: "text", text: "boom" }] } } }),
      ),
    ).toBe("boom");
    expect(taskText(task({}))).toBe("");
  });
});

describe("parseStreamEvent", () => {
  it("types relay events and keeps anything else as unrecognized", () => {
    const event = parseStreamEvent(
      '{"type":"artifact_update","agent_message_id":"a","data":{"artifacts":[{"artifactId":"x","parts":[{"kind":"text","text":"hi"}]}],"append":true}}',
    );
    expect(event?.type).toBe("artifact_update");
    expect(new StreamedAnswer().apply(event!)).toEqual({ append: "hi" });
    expect(parseStreamEvent('{"type":"task_result","result":{}}')).toEqual({
      type: "unrecognized",
      raw: { type: "task_result", result: {} },
    });
    expect(parseStreamEvent("not json")).toEqual({ type: "unrecognized", raw: "not json" });
    expect(parseStreamEvent("  ")).toBeNull();
    expect(parseStreamEvent('{"type":"agent_response","agent_message_id":"a"}')).toMatchObject({
      data: {},
    });
  });
});

describe("describeGatewayFailure", () => {
  it("gives one line and the documented exit code, naming the key source, never the key", () => {
    const rate = new RateLimitError({
      status: 429,
      code: "rate_limit_exceeded",
      message: "m",
      retryAfterS: 120,
    });
    expect(describeGatewayFailure(rate)).toEqual({
      message: "rate limit exceeded, retry in 120 s (m)",
      exitCode: GatewayExitCode.rateLimited,
    });
    const auth = new AuthError({
      status: 401,
      code: "invalid_api_key",
      message: "Invalid API key",
    });
    expect(describeGatewayFailure(auth, { keySource: "HYBRO_API_KEY" })).toEqual({
      message:
        "the gateway refused the API key from HYBRO_API_KEY (invalid_api_key): Invalid API key",
      exitCode: 3,
    });
    const denied = gatewayErrorFromResponse(
      403,
      body({ error: "insufficient_scope", message: "m", required_scope: "gateway:send" }),
    );
    expect(describeGatewayFailure(denied).message).toContain('lacks the "gateway:send" scope');
    const missing = new AgentNotFoundError({ status: 404, code: "not_found", message: "m" });
    expect(describeGatewayFailure(missing, { agentId: "agt_x" })).toMatchObject({ exitCode: 4 });
    expect(describeGatewayFailure(missing, { agentId: "agt_x" }).message).toMatch(
      /^agent "agt_x" not found/,
    );
    const down = new GatewayConnectionError({
      status: 0,
      code: "ECONNREFUSED",
      message: "cannot reach",
    });
    expect(describeGatewayFailure(down)).toEqual({ message: "cannot reach", exitCode: 1 });
    expect(describeGatewayFailure(new Error("odd"))).toEqual({ message: "odd", exitCode: 1 });
  });

  it("gatewayBaseUrl appends /api/v1 once", () => {
    expect(gatewayBaseUrl("https://api.hybro.ai")).toBe("https://api.hybro.ai/api/v1");
    expect(gatewayBaseUrl("http://127.0.0.1:8787/")).toBe("http://127.0.0.1:8787/api/v1");
    expect(gatewayBaseUrl("http://h/api/v1/")).toBe("http://h/api/v1");
  });
});

describe("StreamedAnswer (the SDK's stream helper)", () => {
  const update = (artifactId: string, parts: unknown[], append: boolean): GatewayStreamEvent => ({
    type: "artifact_update",
    agent_message_id: "a",
    data: {
      artifacts: [{ artifactId, parts: parts as never }],
      append,
      last_chunk: false,
      task_id: "t",
    },
  });
  const text = (t: string) => ({ kind: "text", text: t });

  it("appends at the end; a replace that extends what was shown adds only the rest", () => {
    const answer = new StreamedAnswer();
    expect(answer.apply(update("x", [text("Par")], false))).toEqual({ append: "Par" });
    expect(answer.apply(update("x", [text("tial")], true))).toEqual({ append: "tial" });
    expect(answer.apply(update("x", [text("Partial answer")], false))).toEqual({
      append: " answer",
    });
    expect(answer.apply(update("x", [text("Partial answer")], false))).toBeNull();
    expect(answer.render()).toBe("Partial answer");
  });

  it("a replace of something already shown shows everything again; files and data are named", () => {
    const answer = new StreamedAnswer();
    answer.apply(update("x", [text("draft")], false));
    expect(
      answer.apply(
        update(
          "y",
          [{ kind: "file", file: { name: "f.py", mimeType: "text/x-python", uri: "u" } }],
          false,
        ),
      ),
    ).toEqual({ append: "\n[file: f.py, text/x-python]\n" });
    expect(
      answer.apply(update("x", [text("final"), { kind: "data", data: { a: 1 } }], false)),
    ).toEqual({
      restart: 'final\n{"a":1}\n[file: f.py, text/x-python]\n',
    });
    expect(answer.text).toBe("final");
  });

  it("renderTask shows a task's artifacts, or its question or error in full", () => {
    expect(
      renderTask({
        kind: "task",
        id: "t",
        contextId: "c",
        status: { state: "completed" },
        artifacts: [
          { artifactId: "a", parts: [text("one")] },
          { artifactId: "b", parts: [{ kind: "data", data: { n: 1 } }] },
        ],
      }),
    ).toBe('one\n{"n":1}\n');
    expect(
      renderTask({
        kind: "task",
        id: "t",
        contextId: "c",
        status: {
          state: "input-required",
          message: { parts: [text("Run it?"), { kind: "data", data: { tool: "rm" } }] },
        },
        artifacts: [{ artifactId: "a", parts: [text("earlier work")] }],
      }),
    ).toBe('Run it?\n{"tool":"rm"}\n');
  });
});
