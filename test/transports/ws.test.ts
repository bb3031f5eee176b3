// WsTransport against real WebSocket servers on loopback.
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { JsonRpcError } from "../../src/a2a/transport.ts";
import { WsTransport, type WsTransportOptions } from "../../src/agents/transports/ws.ts";
import { capturingLogger, collect, v03Message } from "./support.ts";

type Message = { id?: number; method?: string; params?: Record<string, unknown> };

interface TestServer {
  port: number;
  url: string;
  received: Message[];
  upgrades: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** A small socket agent: echo, streams of three words, a hang, an error mid-stream. */
async function startServer(options: { port?: number; autoPong?: boolean } = {}) {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: options.port ?? 0,
    autoPong: options.autoPong ?? true,
  });
  await once(wss, "listening");
  const sockets = new Set<WebSocket>();
  const received: Message[] = [];
  const upgrades: IncomingHttpHeaders[] = [];
  wss.on("connection", (socket, request) => {
    sockets.add(socket);
    upgrades.push(request.headers);
    socket.on("close", () => sockets.delete(socket));
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as Message;
      received.push(message);
      const { id, method, params } = message;
      const reply = (m: object) => socket.send(JSON.stringify({ jsonrpc: "2.0", ...m }));
      const event = (e: object) =>
        reply({ method: "stream/event", params: { requestId: id, event: e } });
      switch (method) {
        case "agent/getCard":
          return reply({ id, result: { name: "Socket echo", capabilities: { streaming: true } } });
        case "message/send": {
          const parts =
            (params?.message as { parts?: { text: string }[] } | undefined)?.parts ?? [];
          return reply({ id, result: `echo: ${parts.map((p) => p.text).join("")}` });
        }
        case "message/stream":
          for (const word of ["a", "b", "c"]) event({ word });
          return reply({ id, result: { word: "c" } }); // repeats the last event
        case "test/closing-result":
          event({ word: "a" });
          return reply({ id, result: { closing: true } });
        case "test/error-mid-stream":
          event({ word: "a" });
          return reply({ id, error: { code: -32001, message: "task not found" } });
        default:
          return; // test/hang and notifications: no answer
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;
  const server: TestServer = {
    port,
    url: `ws://127.0.0.1:${port}/a2a`,
    received,
    upgrades,
    close: async () => {
      for (const socket of sockets) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  return server;
}

const servers: TestServer[] = [];
const transports: WsTransport[] = [];
const httpServers: Server[] = [];

async function server(options?: { port?: number; autoPong?: boolean }): Promise<TestServer> {
  const s = await startServer(options);
  servers.push(s);
  return s;
}

function transport(options: Partial<WsTransportOptions> & { url: string }): WsTransport {
  const t = new WsTransport({
    name: "Socket agent",
    ...options,
    settings: {
      reconnectBaseDelayMs: 20,
      reconnectMaxDelayMs: 100,
      connectTimeoutMs: 2_000,
      ...options.settings,
    },
  });
  transports.push(t);
  return t;
}

const opts = () => ({ signal: new AbortController().signal, dialect: "0.3" as const });

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const h of httpServers.splice(0)) {
    h.closeAllConnections();
    await new Promise((resolve) => h.close(resolve));
  }
});

describe("WsTransport", () => {
  it("connects lazily with the entry's headers and serves the card over the socket", async () => {
    const s = await server();
    const t = transport({ url: s.url, headers: { "x-agent-token": "agent-own-token" } });
    expect(s.upgrades).toHaveLength(0);
    expect(await t.fetchCard(new AbortController().signal)).toEqual({
      name: "Socket echo",
      capabilities: { streaming: true },
    });
    expect(s.upgrades[0]?.["x-agent-token"]).toBe("agent-own-token");
    expect(s.received[0]).toEqual({ jsonrpc: "2.0", id: 1, method: "agent/getCard" });
    expect(t.health()).toEqual({ healthy: true, restarts: 0, lastExit: null, pid: null });
  });

  it("answers blocking calls and streams events in order", async () => {
    const s = await server();
    const t = transport({ url: s.url });
    expect(await t.call("message/send", v03Message("hi"), opts())).toBe("echo: hi");
    // A final result equal to the last event is not yielded twice…
    expect(await collect(t.stream("message/stream", v03Message("x"), opts()))).toEqual([
      { word: "a" },
      { word: "b" },
      { word: "c" },
    ]);
    // …a different one is the stream's last event.
    expect(await collect(t.stream("test/closing-result", {}, opts()))).toEqual([
      { word: "a" },
      { closing: true },
    ]);
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const event of t.stream("test/error-mid-stream", {}, opts())) seen.push(event);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ word: "a" }]);
    expect(error).toBeInstanceOf(JsonRpcError);
    expect(error).toMatchObject({ code: -32001 });
  });

  it("aborting a stream sends $/cancelRequest over the socket", async () => {
    const s = await server();
    const t = transport({ url: s.url });
    const controller = new AbortController();
    const done = collect(t.stream("test/hang", {}, { signal: controller.signal, dialect: "0.3" }));
    await vi.waitFor(() => expect(s.received.some((m) => m.method === "test/hang")).toBe(true));
    controller.abort();
    await expect(done).rejects.toMatchObject({ name: "AbortError" });
    const id = s.received.find((m) => m.method === "test/hang")?.id;
    await vi.waitFor(() =>
      expect(s.received).toContainEqual({
        jsonrpc: "2.0",
        method: "$/cancelRequest",
        params: { id },
      }),
    );
  });

  it("fails calls in flight when the server goes away, and works again once it is back", async () => {
    const s = await server();
    const t = transport({ url: s.url });
    await t.start();
    const inFlight = t.call("test/hang", {}, opts());
    await vi.waitFor(() => expect(s.received.some((m) => m.method === "test/hang")).toBe(true));
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    await expect(inFlight).rejects.toMatchObject({
      errorType: "AgentExited",
      connectionClass: true,
    });
    // While it is down, calls fail at once as a connection error.
    await vi.waitFor(() => expect(t.health().lastExit).toMatch(/could not connect/));
    await expect(t.call("message/send", v03Message("x"), opts())).rejects.toMatchObject({
      errorType: "ConnectError",
      connectionClass: true,
    });
    await server({ port: s.port });
    await vi.waitFor(
      async () =>
        expect(await t.call("message/send", v03Message("back"), opts())).toBe("echo: back"),
      { timeout: 5_000, interval: 50 },
    );
    expect(t.health().healthy).toBe(true);
    expect(t.health().restarts).toBeGreaterThanOrEqual(1);
  });

  it("drops a connection whose peer stops answering pings", async () => {
    const { logger, lines } = capturingLogger();
    const s = await server({ autoPong: false });
    const t = transport({ url: s.url, logger, settings: { pingIntervalMs: 100 } });
    const hanging = t.call("test/hang", {}, opts());
    await expect(hanging).rejects.toMatchObject({
      errorType: "AgentExited",
      connectionClass: true,
    });
    expect(lines.some((l) => l.msg.includes("sent no pong"))).toBe(true);
  });

  it("reports an agent that cannot be reached as ConnectError, then unhealthy", async () => {
    const s = await server();
    const url = s.url;
    await s.close();
    servers.splice(0);
    const changes: boolean[] = [];
    const t = transport({
      url,
      settings: { unhealthyAfterFailures: 2 },
      onHealthChange: (h) => changes.push(h.healthy),
    });
    await expect(t.fetchCard(new AbortController().signal)).rejects.toMatchObject({
      errorType: "ConnectError",
    });
    await vi.waitFor(() => expect(t.health().healthy).toBe(false));
    expect(changes).toEqual([false]);
  });

  it("takes the card from cardUrl when one is given", async () => {
    const s = await server();
    const seenHeaders: IncomingHttpHeaders[] = [];
    const http = createServer((req, res) => {
      seenHeaders.push(req.headers);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ name: "Card over HTTP", capabilities: { streaming: false } }));
    });
    httpServers.push(http);
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    const { port } = http.address() as AddressInfo;
    const t = transport({
      url: s.url,
      cardUrl: `http://127.0.0.1:${port}/card.json`,
      headers: { authorization: "Bearer agent-own" },
    });
    expect(await t.fetchCard(new AbortController().signal)).toMatchObject({
      name: "Card over HTTP",
    });
    expect(seenHeaders[0]?.authorization).toBe("Bearer agent-own");
    expect(s.received).toHaveLength(0);
  });

  it("close() ends the connection and later calls fail", async () => {
    const s = await server();
    const t = transport({ url: s.url });
    await t.start();
    await t.close();
    await expect(t.call("message/send", v03Message("x"), opts())).rejects.toMatchObject({
      errorType: "AgentExited",
    });
    expect(t.health().healthy).toBe(false);
  });
});
