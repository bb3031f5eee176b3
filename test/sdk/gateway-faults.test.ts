// HybroGateway against a scripted node:http server: retries, malformed answers, streams that
// break off, and the client's own lifecycle. Fault injection the real relay cannot do on cue.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  AgentCommunicationError,
  GatewayConnectionError,
  GatewayError,
  HybroGateway,
  RateLimitError,
} from "../../src/sdk/index.ts";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string, n: number) => void;

let server: Server | undefined;
const KEY = "hybro_test0000000000000000000000000000000000";

async function serve(handler: Handler): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      requests.push(
        `${req.method} ${req.url} ${req.headers["x-api-key"] === KEY ? "key" : "nokey"}`,
      );
      handler(req, res, body, requests.length);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/v1`, requests };
}

afterEach(async () => {
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  }
});

const DISCOVER_OK = JSON.stringify({ query: "x", agents: [], count: 0 });

function json(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(body);
}

const rateLimited = (retryAfter: string) => (res: ServerResponse) =>
  json(
    res,
    429,
    JSON.stringify({
      detail: { error: "rate_limit_exceeded", message: "Rate limit exceeded: 1 requests per hour" },
    }),
    {
      "retry-after": retryAfter,
      "x-ratelimit-limit": "1",
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": "1",
    },
  );

describe("automatic retry", () => {
  it("retries a 429 after its Retry-After, then succeeds", async () => {
    const { url, requests } = await serve((_req, res, _body, n) =>
      n === 1 ? rateLimited("1")(res) : json(res, 200, DISCOVER_OK),
    );
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: url, maxRetries: 2 });
    await expect(gw.discover("x")).resolves.toEqual([]);
    expect(requests).toEqual([
      "POST /api/v1/gateway/agents/discover key",
      "POST /api/v1/gateway/agents/discover key",
    ]);
  });

  it("retries a 503 with Retry-After too, but not a 503 without one", async () => {
    const { url, requests } = await serve((_req, res, _body, n) => {
      if (n === 1)
        json(res, 503, '{"detail":{"error":"busy","message":"try later"}}', { "retry-after": "0" });
      else if (n === 2) json(res, 503, '{"detail":{"error":"agent_unavailable","message":"gone"}}');
      else json(res, 200, DISCOVER_OK);
    });
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: url, maxRetries: 5 });
    const error = await gw.discover("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ status: 503, code: "agent_unavailable", message: "gone" });
    expect(requests).toHaveLength(2);
  });

  it("gives up after maxRetries and throws the RateLimitError", async () => {
    const { url, requests } = await serve((_req, res) => rateLimited("0")(res));
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: url, maxRetries: 2 });
    const error = await gw.discover("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterS).toBe(0);
    expect(requests).toHaveLength(3);
    expect(gw.rateLimit).toEqual({ limit: 1, remaining: 0, resetS: 1 });
  });

  it("does not wait out a Retry-After longer than maxRetryWaitMs, nor retry with maxRetries 0", async () => {
    const { url, requests } = await serve((_req, res) => rateLimited("120")(res));
    await using gw = new HybroGateway({
      apiKey: KEY,
      baseUrl: url,
      maxRetries: 2,
      maxRetryWaitMs: 5_000,
    });
    const error = await gw.discover("x").catch((e: unknown) => e);
    expect(error).toMatchObject({ retryAfterS: 120 });
    await using noRetry = new HybroGateway({ apiKey: KEY, baseUrl: url, maxRetries: 0 });
    await expect(noRetry.discover("x")).rejects.toBeInstanceOf(RateLimitError);
    expect(requests).toHaveLength(2);
  });

  it("the caller's signal cuts the wait short", async () => {
    const { url, requests } = await serve((_req, res) => rateLimited("30")(res));
    await using gw = new HybroGateway({
      apiKey: KEY,
      baseUrl: url,
      maxRetries: 2,
      maxRetryWaitMs: 60_000,
    });
    const controller = new AbortController();
    const pending = gw.discover("x", { signal: controller.signal });
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    controller.abort(new Error("caller gave up"));
    await expect(pending).rejects.toThrow("caller gave up");
    expect(requests).toHaveLength(1);
  });
});

describe("responses the client must not trust", () => {
  it("a 502 is an AgentCommunicationError; a non-JSON error body keeps its text", async () => {
    const { url } = await serve((_req, res, _body, n) =>
      n === 1
        ? json(res, 502, '{"detail":{"error":"agent_unreachable","message":"connect refused"}}')
        : res.writeHead(500, { "content-type": "text/plain" }).end("upstream exploded"),
    );
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: url });
    await expect(gw.getCard("agt_1")).rejects.toBeInstanceOf(AgentCommunicationError);
    await expect(gw.getCard("agt_1")).rejects.toMatchObject({
      status: 500,
      code: "http_500",
      message: "upstream exploded",
    });
  });

  it("a redirect is not followed and says where it pointed", async () => {
    const { url, requests } = await serve((_req, res) =>
      res
        .writeHead(307, { location: "https://elsewhere.example/api/v1/gateway/agents/agt_1/card" })
        .end("<html>moved</html>"),
    );
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: url });
    await expect(gw.getCard("agt_1")).rejects.toMatchObject({
      status: 307,
      code: "http_307",
      message:
        "HTTP 307 redirect to https://elsewhere.example/api/v1/gateway/agents/agt_1/card (not followed)",
    });
    expect(requests).toHaveLength(1);
  });

  it("a 200 that is not JSON, or not the expected shape, is an invalid_response error", async () => {
    const { url } = await serve((_req, res, _body, n) =>
      n === 1 ? res.writeHead(200).end("<html>") : json(res, 200, '{"result":{"nope":1}}'),
    );
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: url });
    await expect(gw.discover("x")).rejects.toMatchObject({ code: "invalid_response" });
    await expect(gw.send("agt_1", "hi")).rejects.toMatchObject({ code: "invalid_response" });
  });

  it("sends the Python SDK's message shape and the key header", async () => {
    let seen: { message: Record<string, unknown> } | undefined;
    const { url, requests } = await serve((_req, res, body) => {
      seen = JSON.parse(body);
      json(
        res,
        200,
        JSON.stringify({
          result: { kind: "task", id: "t1", contextId: "c9", status: { state: "completed" } },
        }),
      );
    });
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: `${url}///` });
    const result = await gw.send("agt/odd id", "hello", { contextId: "c9" });
    expect(requests[0]).toBe("POST /api/v1/gateway/agents/agt%2Fodd%20id/message/send key");
    expect(seen?.message).toMatchObject({
      role: "user",
      parts: [{ kind: "text", text: "hello" }],
      contextId: "c9",
    });
    expect(seen?.message.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result).toMatchObject({ text: "", state: "completed", taskId: "t1", contextId: "c9" });
  });

  it("a stream that ends before processing_status is a GatewayConnectionError", async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(
        'data: {"type":"task_submitted","agent_message_id":"a","data":{"task_id":"t","agent_name":"x"}}\n\ndata: not json\n\n',
      );
    });
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: url });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const event of gw.stream("agt_1", "hi")) seen.push(event.type);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(["task_submitted", "unrecognized"]);
    expect(error).toBeInstanceOf(GatewayConnectionError);
    expect(error).toMatchObject({ code: "incomplete_stream" });
  });

  it("an error event inside the stream is thrown as a GatewayError", async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end('data: {"type":"error","error":"agent_timeout","message":"too slow"}\n\n');
    });
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: url });
    await expect(gw.stream("agt_1", "hi").next()).rejects.toMatchObject({
      code: "agent_timeout",
      message: "too slow",
    });
  });

  it("an unreachable gateway is a GatewayConnectionError that names the origin", async () => {
    const { url } = await serve((_req, res) => res.end());
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    await using gw = new HybroGateway({ apiKey: KEY, baseUrl: url });
    const error = await gw.discover("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayConnectionError);
    expect((error as Error).message).toContain(new URL(url).origin);
  });
});

describe("lifecycle", () => {
  it("a missing key is a clear error at construction", () => {
    const saved = process.env.HYBRO_API_KEY;
    delete process.env.HYBRO_API_KEY;
    try {
      expect(() => new HybroGateway()).toThrow(/HYBRO_API_KEY/);
      expect(() => new HybroGateway({ apiKey: "  " })).toThrow(GatewayError);
    } finally {
      if (saved !== undefined) process.env.HYBRO_API_KEY = saved;
    }
  });

  it("takes the key from HYBRO_API_KEY and strips the base URL's trailing slash", () => {
    const saved = process.env.HYBRO_API_KEY;
    process.env.HYBRO_API_KEY = KEY;
    try {
      const gw = new HybroGateway({ baseUrl: "http://example.test/api/v1/" });
      expect(gw.baseUrl).toBe("http://example.test/api/v1");
      expect(new HybroGateway().baseUrl).toBe("https://api.hybro.ai/api/v1");
      expect(JSON.stringify(gw)).not.toContain(KEY);
    } finally {
      if (saved === undefined) delete process.env.HYBRO_API_KEY;
      else process.env.HYBRO_API_KEY = saved;
    }
  });

  it("close() leaves a given dispatcher open, and a closed client refuses calls", async () => {
    const { url } = await serve((_req, res) => json(res, 200, DISCOVER_OK));
    const dispatcher = new Agent();
    try {
      const gw = new HybroGateway({ apiKey: KEY, baseUrl: url, dispatcher });
      await gw.discover("x");
      await gw.close();
      await expect(gw.discover("x")).rejects.toMatchObject({ code: "client_closed" });
      const again = new HybroGateway({ apiKey: KEY, baseUrl: url, dispatcher });
      await expect(again.discover("x")).resolves.toEqual([]);
    } finally {
      await dispatcher.close();
    }
  });

  it("close() ends a stream that is still open", async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        'data: {"type":"task_submitted","agent_message_id":"a","data":{"task_id":"t","agent_name":"x"}}\n\n',
      );
    });
    const gw = new HybroGateway({ apiKey: KEY, baseUrl: url });
    const iterator = gw.stream("agt_1", "hi");
    await expect(iterator.next()).resolves.toMatchObject({ value: { type: "task_submitted" } });
    const next = iterator.next().catch((e: unknown) => e);
    await gw.close();
    await expect(next).resolves.toMatchObject({ code: "client_closed" });
  });
});
