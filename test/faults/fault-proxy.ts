// A fault-injecting HTTP proxy for the fault suite, on node:http: it sits between the hub and
// the relay (or an agent) and, per request, forwards, answers by itself (5xx, 429 with
// Retry-After), resets the connection, forwards and then loses the answer (the upstream acted
// on it, the caller never hears), or delays. It can cut every open connection at once and
// stall the event streams (bytes swallowed, the connection left open: a dead path).
import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type RequestKind =
  | "events"
  | "publish"
  | "heartbeat"
  | "sync"
  | "register"
  | "agent"
  | "other";

export interface ProxyRequest {
  method: string;
  path: string;
  kind: RequestKind;
  /** How many requests of this kind came before this one. */
  n: number;
}

export type ProxyAction =
  /** Pass it on; optionally wait before forwarding, before answering, or per stream chunk. */
  | { do: "forward"; delayMs?: number; responseDelayMs?: number; streamDelayMs?: number }
  /** Answer without asking upstream. */
  | { do: "respond"; status: number; headers?: Record<string, string>; body?: string }
  /** Close the connection without an answer (upstream never sees the request). */
  | { do: "reset" }
  /** Upstream gets and handles the request; the caller's connection is then reset. */
  | { do: "forward-then-reset" }
  /** Upstream gets and handles the request; the caller gets this status instead. */
  | { do: "forward-then-respond"; status: number; headers?: Record<string, string> };

export type ProxyScript = (request: ProxyRequest) => ProxyAction;

export interface ProxyCounts {
  requests: number;
  forwarded: number;
  responded: number;
  resets: number;
  connectionsCut: number;
  lostAnswers: number;
  streamsCut: number;
  streamsStalled: number;
}

export class FaultProxy {
  url = "";
  /** Where requests go, e.g. the relay's URL; may change (a restarted relay). */
  target: string;
  script: ProxyScript = () => ({ do: "forward" });
  readonly counts: ProxyCounts = {
    requests: 0,
    forwarded: 0,
    responded: 0,
    resets: 0,
    connectionsCut: 0,
    lostAnswers: 0,
    streamsCut: 0,
    streamsStalled: 0,
  };
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #streams = new Set<{ stalled: boolean; res: ServerResponse }>();
  readonly #seen = new Map<RequestKind, number>();
  readonly #kindOf: (path: string) => RequestKind;

  private constructor(target: string, kindOf: (path: string) => RequestKind) {
    this.target = target;
    this.#kindOf = kindOf;
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  static async start(target: string, kindOf = relayRequestKind): Promise<FaultProxy> {
    const proxy = new FaultProxy(target, kindOf);
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    proxy.url = `http://127.0.0.1:${(proxy.#server.address() as AddressInfo).port}`;
    return proxy;
  }

  /** Cuts every open connection (streams, requests in flight, idle keep-alives). */
  dropAll(): number {
    const count = this.#sockets.size;
    this.counts.connectionsCut += count;
    this.counts.streamsCut += this.#streams.size;
    for (const socket of this.#sockets) socket.destroy();
    return count;
  }

  /** Cuts only the open event streams (their sockets), leaving other calls alone. */
  cutStreams(): number {
    let count = 0;
    for (const stream of this.#streams) {
      stream.res.socket?.destroy();
      count++;
    }
    this.counts.streamsCut += count;
    return count;
  }

  /** The open event streams stop passing bytes (the connections stay open). */
  stallStreams(): number {
    let count = 0;
    for (const stream of this.#streams) {
      if (!stream.stalled) {
        stream.stalled = true;
        count++;
      }
    }
    this.counts.streamsStalled += count;
    return count;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.dropAll();
    await closed;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? "/";
    const kind = this.#kindOf(path);
    const n = this.#seen.get(kind) ?? 0;
    this.#seen.set(kind, n + 1);
    this.counts.requests++;
    let action: ProxyAction;
    try {
      action = this.script({ method: req.method ?? "GET", path, kind, n });
    } catch {
      action = { do: "forward" };
    }
    switch (action.do) {
      case "reset":
        this.counts.resets++;
        req.socket.destroy();
        return;
      case "respond":
        this.counts.responded++;
        req.resume();
        req.on("end", () => {
          res.writeHead(action.status, {
            "content-type": "application/json",
            ...action.headers,
          });
          res.end(action.body ?? JSON.stringify({ detail: { error: "proxy", message: "fault" } }));
        });
        return;
      default:
        this.#forward(req, res, kind, action);
    }
  }

  #forward(
    req: IncomingMessage,
    res: ServerResponse,
    kind: RequestKind,
    action: Exclude<ProxyAction, { do: "respond" } | { do: "reset" }>,
  ): void {
    const delayMs = action.do === "forward" ? (action.delayMs ?? 0) : 0;
    // Read the body first, so a delay does not hold the caller's socket half-written.
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", () => undefined);
    req.on("end", () => {
      const go = () => this.#sendUpstream(req, res, kind, action, Buffer.concat(chunks));
      if (delayMs > 0) setTimeout(go, delayMs);
      else go();
    });
  }

  #sendUpstream(
    req: IncomingMessage,
    res: ServerResponse,
    kind: RequestKind,
    action: Exclude<ProxyAction, { do: "respond" } | { do: "reset" }>,
    body: Buffer,
  ): void {
    if (req.socket.destroyed) return;
    this.counts.forwarded++;
    const target = new URL(this.target);
    const headers: Record<string, string | string[] | undefined> = {
      ...req.headers,
      host: target.host,
      "content-length": String(body.length),
    };
    delete headers["transfer-encoding"];
    if (body.length === 0 && req.method === "GET") delete headers["content-length"];
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers,
        agent: false,
      },
      (answer) => {
        if (action.do === "forward-then-reset") {
          this.counts.lostAnswers++;
          answer.resume();
          answer.on("end", () => req.socket.destroy());
          return;
        }
        if (action.do === "forward-then-respond") {
          this.counts.lostAnswers++;
          answer.resume();
          answer.on("end", () => {
            res.writeHead(action.status, { "content-type": "application/json", ...action.headers });
            res.end(JSON.stringify({ detail: { error: "proxy", message: "fault after forward" } }));
          });
          return;
        }
        const isStream = String(answer.headers["content-type"] ?? "").includes("event-stream");
        if (isStream) {
          this.#pipeStream(answer, res, action.streamDelayMs ?? 0);
          return;
        }
        const parts: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => parts.push(chunk));
        answer.on("error", () => res.destroy());
        answer.on("end", () => {
          const reply = () => {
            if (res.destroyed) return;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(parts));
          };
          const wait = action.responseDelayMs ?? 0;
          if (wait > 0) setTimeout(reply, wait);
          else reply();
        });
      },
    );
    upstream.on("error", (error) => {
      // Upstream down (a relay restarting): what a load balancer in front of it would say.
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ detail: { error: "bad_gateway", message: String(error) } }));
    });
    res.on("close", () => {
      if (kind === "events") upstream.destroy();
    });
    upstream.end(body);
  }

  #pipeStream(answer: IncomingMessage, res: ServerResponse, delayMs: number): void {
    const stream = { stalled: false, res };
    this.#streams.add(stream);
    res.writeHead(answer.statusCode ?? 200, answer.headers);
    res.flushHeaders();
    const write = (chunk: Buffer) => {
      if (!stream.stalled && !res.destroyed) res.write(chunk);
    };
    answer.on("data", (chunk: Buffer) => {
      if (delayMs > 0) setTimeout(() => write(chunk), delayMs);
      else write(chunk);
    });
    answer.on("end", () => {
      if (delayMs > 0) setTimeout(() => res.end(), delayMs);
      else res.end();
    });
    answer.on("error", () => res.destroy());
    res.on("close", () => {
      this.#streams.delete(stream);
      answer.destroy();
    });
  }
}

/** Which relay call a path is. */
export function relayRequestKind(path: string): RequestKind {
  if (path.endsWith("/events")) return "events";
  if (path.endsWith("/publish")) return "publish";
  if (path.endsWith("/heartbeat")) return "heartbeat";
  if (path.endsWith("/agents/sync")) return "sync";
  if (path.endsWith("/register")) return "register";
  return "other";
}
