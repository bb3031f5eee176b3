import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { JsonRpcError, TransportError } from "../../src/a2a/transport.ts";
import { HttpTransport, wellKnown } from "../../src/agents/transports/http.ts";
import { readSseEvents, SseEventTooLargeError } from "../../src/wire/sse.ts";

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;

const servers: Server[] = [];
const transports: HttpTransport[] = [];

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

/** A raw HTTP server on loopback; the handler sees each request's parsed JSON body. */
async function serve(handler: Handler): Promise<{ url: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    let text = "";
    req.on("data", (c) => {
      text += c;
    });
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {}
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function transport(
  baseUrl: string,
  options: Partial<ConstructorParameters<typeof HttpTransport>[0]> = {},
) {
  const t = new HttpTransport({ baseUrl, ...options });
  transports.push(t);
  return t;
}

const opts = (dialect: "0.3" | "1.0" = "0.3") => ({ signal: AbortSignal.timeout(10_000), dialect });

async function collect(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("SSE reader", () => {
  async function* chunks(...parts: string[]) {
    for (const part of parts) yield new TextEncoder().encode(part);
  }

  it("joins multi-line data, accepts CR and CRLF, skips comments and id/retry", async () => {
    const events = await collect(
      readSseEvents(
        chunks(
          ": keep-alive\r\n",
          'id: 1\r\nretry: 100\r\ndata: {"a":\r\ndata: 1}\r\n\r\n',
          "event: error\rdata: x\r\r",
          "data: split",
          " across chunks\n\n",
          "data: no blank line at the end",
        ),
      ),
    );
    expect(events).toEqual([
      { event: undefined, data: '{"a":\n1}', id: "1" },
      { event: "error", data: "x" },
      { event: undefined, data: "split across chunks" },
      { event: undefined, data: "no blank line at the end" },
    ]);
  });

  it("reads the same events whatever the network chunking (bytes cut inside characters and CRLF)", async () => {
    const stream =
      ': c\r\ndata: {"t":"é€𝄞 one"}\r\n\r\n' +
      `data: \u001e{"t":"${"ü".repeat(3000)}"}\n\n` +
      'data: {"t":\ndata: "two lines"}\r\r' +
      "data: last";
    const bytes = new TextEncoder().encode(stream);
    const whole = await collect(readSseEvents(chunks(stream)));
    expect(whole).toHaveLength(4);
    for (const size of [1, 2, 3, 5, 7, 64, 1000]) {
      async function* pieces() {
        for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
      }
      expect(await collect(readSseEvents(pieces()))).toEqual(whole);
    }
  });

  it("refuses an event larger than the cap", async () => {
    const error = await rejection(
      collect(readSseEvents(chunks(`data: ${"x".repeat(2000)}\n\n`), { maxEventChars: 1000 })),
    );
    expect(error).toBeInstanceOf(SseEventTooLargeError);
  });
});

describe("HttpTransport unary calls", () => {
  it("posts JSON-RPC with the right headers and returns the result", async () => {
    const seen: Array<{
      method: unknown;
      version: unknown;
      type: unknown;
      token: unknown;
      path: unknown;
    }> = [];
    const { url } = await serve((req, body, res) => {
      seen.push({
        method: body["method"],
        version: req.headers["a2a-version"],
        type: req.headers["content-type"],
        token: req.headers["x-agent-token"],
        path: req.url,
      });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id: body["id"], result: { ok: body["params"] } }));
    });
    const t = transport(`${url}/base`, { headers: { "x-agent-token": "t0k" } });
    expect(await t.call("tasks/get", { id: "1" }, opts("0.3"))).toEqual({ ok: { id: "1" } });
    t.useEndpoints({ "1.0": `${url}/v1`, "0.3": `${url}/v03` });
    await t.call("GetTask", { id: "2" }, opts("1.0"));
    await t.call("tasks/get", { id: "3" }, opts("0.3"));
    expect(seen).toEqual([
      {
        method: "tasks/get",
        version: undefined,
        type: "application/json",
        token: "t0k",
        path: "/base",
      },
      { method: "GetTask", version: "1.0", type: "application/json", token: "t0k", path: "/v1" },
      {
        method: "tasks/get",
        version: undefined,
        type: "application/json",
        token: "t0k",
        path: "/v03",
      },
    ]);
  });

  it("reads a JSON-RPC error at any HTTP status", async () => {
    const { url } = await serve((_req, body, res) => {
      res.statusCode = 500;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: body["id"],
          error: { code: -32601, message: "Method not found", data: [1] },
        }),
      );
    });
    const error = await rejection(transport(url).call("SendMessage", {}, opts("1.0")));
    expect(error).toBeInstanceOf(JsonRpcError);
    expect((error as JsonRpcError).code).toBe(-32601);
    expect((error as JsonRpcError).isVersionFallback).toBe(true);
    expect((error as JsonRpcError).data).toEqual([1]);
  });

  it("classifies bad answers: non-2xx, unparseable, foreign id, no result", async () => {
    const answers: Array<(id: unknown, res: ServerResponse) => void> = [
      (_id, res) => {
        res.statusCode = 502;
        res.end("<html>bad gateway</html>");
      },
      (_id, res) => res.end("not json"),
      (id, res) => {
        res.statusCode = 404;
        res.end(JSON.stringify({ jsonrpc: "2.0", id, result: {} }));
      },
      (_id, res) => res.end(JSON.stringify({ jsonrpc: "2.0", id: "someone-else", result: {} })),
      (id, res) => res.end(JSON.stringify({ jsonrpc: "2.0", id })),
    ];
    let next = 0;
    const { url } = await serve((_req, body, res) => answers[next++]!(body["id"], res));
    const t = transport(url);
    const types: string[] = [];
    for (let i = 0; i < answers.length; i++) {
      const error = await rejection(t.call("tasks/get", {}, opts()));
      expect(error).toBeInstanceOf(TransportError);
      types.push((error as TransportError).errorType);
    }
    expect(types).toEqual([
      "HTTPStatusError",
      "InvalidAgentResponse",
      "HTTPStatusError",
      "InvalidAgentResponse",
      "InvalidAgentResponse",
    ]);
  });

  it("reports a refused connection as a connection-class ConnectError", async () => {
    const { url } = await serve(() => {});
    await Promise.all(
      servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
    const error = await rejection(transport(url).call("tasks/get", {}, opts()));
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ errorType: "ConnectError", connectionClass: true });
  });

  it("rethrows the caller's abort reason, not an undici error", async () => {
    const { url } = await serve(() => {}); // never answers
    const controller = new AbortController();
    const reason = new Error("turn over");
    const pending = transport(url).call(
      "tasks/get",
      {},
      { signal: controller.signal, dialect: "0.3" },
    );
    setTimeout(() => controller.abort(reason), 20);
    expect(await rejection(pending)).toBe(reason);
  });
});

describe("HttpTransport streams", () => {
  it("yields each SSE event's result; tolerates comments, CRLF and split data", async () => {
    const { url } = await serve((_req, body, res) => {
      const id = body["id"];
      res.setHeader("content-type", "text/event-stream");
      res.write(": hello\r\n\r\n");
      const first = JSON.stringify({ jsonrpc: "2.0", id, result: { kind: "task", id: "t1" } });
      res.write(`data: ${first.slice(0, 10)}\r\ndata: ${first.slice(10)}\r\n\r\n`);
      res.write(`id: 7\ndata: ${JSON.stringify({ jsonrpc: "2.0", id, result: { n: 2 } })}\n\n`);
      res.end();
    });
    const events = await collect(transport(url).stream("message/stream", {}, opts()));
    // The first data was split across two data lines: joined with "\n", still valid JSON.
    expect(events).toEqual([{ kind: "task", id: "t1" }, { n: 2 }]);
  });

  it("reads a plain JSON error answering a stream call as that error, not an empty stream", async () => {
    const { url } = await serve((_req, body, res) => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: body["id"],
          error: { code: -32009, message: "Version not supported" },
        }),
      );
    });
    const error = await rejection(
      collect(transport(url).stream("SendStreamingMessage", {}, opts("1.0"))),
    );
    expect(error).toBeInstanceOf(JsonRpcError);
    expect((error as JsonRpcError).code).toBe(-32009);
  });

  it("reads a plain JSON result answering a stream call as one event", async () => {
    const { url } = await serve((_req, body, res) => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({ jsonrpc: "2.0", id: body["id"], result: { kind: "message", parts: [] } }),
      );
    });
    expect(await collect(transport(url).stream("message/stream", {}, opts()))).toEqual([
      { kind: "message", parts: [] },
    ]);
  });

  it("throws an error event met mid-stream, after the events before it", async () => {
    const { url } = await serve((_req, body, res) => {
      const id = body["id"];
      res.setHeader("content-type", "text/event-stream");
      res.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id, result: { n: 1 } })}\n\n`);
      res.write(
        `event: error\ndata: ${JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32001, message: "Task not found" } })}\n\n`,
      );
      res.end();
    });
    const seen: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const e of transport(url).stream("message/stream", {}, opts())) seen.push(e);
      })(),
    );
    expect(seen).toEqual([{ n: 1 }]);
    expect(error).toMatchObject({ code: -32001 });
  });

  it("refuses a stream event over maxEventChars as InvalidAgentResponse", async () => {
    const { url } = await serve((_req, _body, res) => {
      res.setHeader("content-type", "text/event-stream");
      res.end(`data: ${"x".repeat(5000)}\n\n`);
    });
    const t = transport(url, { settings: { maxEventChars: 1000 } });
    const error = await rejection(collect(t.stream("message/stream", {}, opts())));
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ errorType: "InvalidAgentResponse" });
    expect((error as Error).message).toMatch(/larger than 1000 characters \(maxEventChars\)/);
  });

  it("ends the request when the consumer stops reading", async () => {
    let closed = false;
    const { url } = await serve((_req, body, res) => {
      res.setHeader("content-type", "text/event-stream");
      res.write(
        `data: ${JSON.stringify({ jsonrpc: "2.0", id: body["id"], result: { n: 1 } })}\n\n`,
      );
      res.on("close", () => {
        closed = true;
      });
    });
    for await (const _ of transport(url).stream("message/stream", {}, opts())) break;
    await expect.poll(() => closed).toBe(true);
  });

  it("gives up on a silent stream only when a body timeout is configured", async () => {
    const { url } = await serve((_req, _body, res) => {
      res.setHeader("content-type", "text/event-stream");
      res.write(": open\n\n");
    });
    const t = transport(url, { settings: { bodyTimeoutMs: 200 } });
    const error = await rejection(collect(t.stream("message/stream", {}, opts())));
    expect(error).toMatchObject({ errorType: "ReadTimeout" });
  });
});

describe("HttpTransport card fetch", () => {
  it("builds well-known URLs explicitly, keeping the base path", () => {
    expect(wellKnown("http://h/agents/foo", "/.well-known/agent-card.json")).toBe(
      "http://h/agents/foo/.well-known/agent-card.json",
    );
    expect(wellKnown("http://h:1/", "/.well-known/agent.json")).toBe(
      "http://h:1/.well-known/agent.json",
    );
  });

  it("tries agent-card.json then agent.json under the base path, with A2A-Version: 1.0", async () => {
    const paths: string[] = [];
    const versions: unknown[] = [];
    const { url } = await serve((req, _body, res) => {
      paths.push(req.url ?? "");
      versions.push(req.headers["a2a-version"]);
      if (req.url === "/agents/foo/.well-known/agent.json") {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ name: "legacy" }));
        return;
      }
      res.statusCode = 404;
      res.end("{}");
    });
    expect(await transport(`${url}/agents/foo`).fetchCard(AbortSignal.timeout(5000))).toEqual({
      name: "legacy",
    });
    expect(paths).toEqual([
      "/agents/foo/.well-known/agent-card.json",
      "/agents/foo/.well-known/agent.json",
    ]);
    expect(versions).toEqual(["1.0", "1.0"]);
  });

  it("uses the configured card URL only, and returns null when nothing answers with JSON", async () => {
    const paths: string[] = [];
    const { url } = await serve((req, _body, res) => {
      paths.push(req.url ?? "");
      res.end(req.url === "/my/card" ? JSON.stringify({ name: "mine" }) : "<html>");
    });
    expect(
      await transport(url, { cardUrl: `${url}/my/card` }).fetchCard(AbortSignal.timeout(5000)),
    ).toEqual({
      name: "mine",
    });
    expect(await transport(url).fetchCard(AbortSignal.timeout(5000))).toBeNull();
    expect(paths).toEqual(["/my/card", "/.well-known/agent-card.json", "/.well-known/agent.json"]);
  });

  it("returns null for an agent that is not there", async () => {
    const { url } = await serve(() => {});
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
    expect(await transport(url).fetchCard(AbortSignal.timeout(5000))).toBeNull();
  });
});
