// A small real A2A agent on loopback for registry tests: serves a card (or none) and answers
// JSON-RPC `message/send` with a Message. It can be stopped and started again on the same port.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface CardServerOptions {
  /** The card to serve, given the server's base URL; null = 404 on the well-known paths. */
  card: ((baseUrl: string) => Record<string, unknown>) | null;
  port?: number;
}

export interface CardServer {
  readonly url: string;
  readonly port: number;
  /** Card GETs and RPC calls seen, with path and headers. */
  readonly seen: Array<{
    method: string;
    path: string;
    headers: IncomingMessage["headers"];
    rpc?: string;
  }>;
  setCard(card: ((baseUrl: string) => Record<string, unknown>) | null): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function v03Card(
  baseUrl: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: "Card Echo",
    description: "echoes what it is told",
    url: `${baseUrl}/rpc`,
    version: "1.0.0",
    protocolVersion: "0.3.0",
    capabilities: { streaming: true, pushNotifications: false },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [
      { id: "echo", name: "Echo", description: "echoes", tags: ["echo", "test"] },
      { id: "more", name: "More", description: "more", tags: ["test"] },
    ],
    ...overrides,
  };
}

export async function startCardServer(options: CardServerOptions): Promise<CardServer> {
  let card = options.card;
  let server: Server | null = null;
  let port = options.port ?? 0;
  const seen: CardServer["seen"] = [];
  const sockets = new Set<import("node:net").Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "/";
    const base = `http://127.0.0.1:${port}`;
    if (req.method === "GET") {
      seen.push({ method: "GET", path, headers: req.headers });
      if (card && path === "/.well-known/agent-card.json") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(card(base)));
        return;
      }
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      let request: {
        id?: unknown;
        method?: string;
        params?: { message?: { parts?: Array<{ text?: string }> } };
      };
      try {
        request = JSON.parse(body);
      } catch {
        res.writeHead(400).end();
        return;
      }
      seen.push({ method: "POST", path, headers: req.headers, rpc: request.method ?? "" });
      res.writeHead(200, { "content-type": "application/json" });
      if (request.method === "message/send") {
        const text = request.params?.message?.parts?.[0]?.text ?? "";
        res.end(
          JSON.stringify({
            jsonrpc: "2.0",
            id: request.id,
            result: {
              kind: "message",
              role: "agent",
              messageId: "m-1",
              parts: [{ kind: "text", text: `echo: ${text}` }],
            },
          }),
        );
        return;
      }
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: request.id ?? null,
          error: { code: -32001, message: "Task not found" },
        }),
      );
    });
  };

  const start = async () => {
    const s = createServer(handle);
    s.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = null;
    if (!s) return;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await start();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    seen,
    setCard(next) {
      card = next;
    },
    stop,
    start,
    close: stop,
  };
}

/** Polls until `check` returns a truthy value (no timing assertions: only a generous cap). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
