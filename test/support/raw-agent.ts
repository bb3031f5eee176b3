// A hand-written A2A v0.3 agent on node:http for what no SDK produces: SSE framings some servers
// use (a 0x1E before each JSON text, CRLF lines, comments, `data:` split over lines), streams
// that end early or say nothing readable, and fast large answers. It serves a v0.3 card and
// answers JSON-RPC at `/rpc` with whatever the test's script writes.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RawRpc {
  id: string | number;
  method: string;
  params: Record<string, unknown>;
}

/** Writes SSE events for one stream call; `frame` formats one JSON-RPC result (see framings). */
export interface StreamWriter {
  /** One event whose data is the JSON-RPC envelope of `result`, framed as the agent frames it. */
  result(result: unknown): Promise<void>;
  /** Anything, as is. */
  raw(text: string): Promise<void>;
  end(): void;
}

export type Framing = (json: string) => string;

/** How servers frame one JSON text in an SSE event. */
export const FRAMINGS: Record<string, Framing> = {
  plain: (json) => `data: ${json}\n\n`,
  recordSeparator: (json) => `data: \u001e${json}\n\n`,
  crlfWithComments: (json) =>
    `: keep-alive\r\nevent: message\r\nid: ${randomUUID()}\r\ndata: ${json}\r\n\r\n`,
  multiLine: (json) =>
    `${JSON.stringify(JSON.parse(json), null, 2)
      .split("\n")
      .map((line) => `data: ${line}`)
      .join("\n")}\n\n`,
};

export interface RawAgentScript {
  /** `message/stream` calls; the card says `streaming: true` when this is given. */
  stream?: (request: RawRpc, out: StreamWriter) => Promise<void> | void;
  /** Any other call (`message/send`, `tasks/get`, …): the JSON-RPC `result`, or an Error. */
  call?: (request: RawRpc) => unknown;
  framing?: Framing;
  /** Awaited before the card is served (a busy agent answers it late, or never). */
  cardDelay?: () => Promise<void>;
  /** Fields laid over the served card; one set to `undefined` is left out (a framework's card). */
  card?: Record<string, unknown>;
}

export interface RawAgent {
  url: string;
  name: string;
  /** Every call's method, in order. */
  calls: string[];
  /** Card requests received (answered or not). */
  readonly cardRequests: number;
  close(): Promise<void>;
}

/** Starts a raw agent named `name` on 127.0.0.1 (port 0). */
export async function startRawAgent(name: string, script: RawAgentScript): Promise<RawAgent> {
  const calls: string[] = [];
  const framing = script.framing ?? FRAMINGS.plain!;
  let url = "";
  let cards = 0;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "GET" && req.url?.startsWith("/.well-known/agent")) {
      cards++;
      await script.cardDelay?.();
      if (res.destroyed) return;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          protocolVersion: "0.3.0",
          name,
          description: `raw test agent ${name}`,
          url: `${url}/rpc`,
          preferredTransport: "JSONRPC",
          version: "1.0.0",
          capabilities: { streaming: script.stream !== undefined },
          defaultInputModes: ["text/plain"],
          defaultOutputModes: ["text/plain"],
          skills: [{ id: "raw", name: "raw", description: "raw", tags: ["raw"] }],
          ...script.card,
        }),
      );
      return;
    }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", async () => {
      const request = JSON.parse(body) as RawRpc;
      calls.push(request.method);
      const envelope = (result: unknown) =>
        JSON.stringify({ jsonrpc: "2.0", id: request.id, result });
      if (request.method === "message/stream" && script.stream) {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        const write = (text: string) =>
          new Promise<void>((resolve) => {
            if (res.write(text)) resolve();
            else res.once("drain", () => resolve());
          });
        await script.stream(request, {
          result: (result) => write(framing(envelope(result))),
          raw: write,
          end: () => res.end(),
        });
        if (!res.writableEnded) res.end();
        return;
      }
      res.setHeader("content-type", "application/json");
      const result = script.call?.(request);
      if (result instanceof Error || result === undefined) {
        res.end(
          JSON.stringify({
            jsonrpc: "2.0",
            id: request.id,
            error: { code: -32601, message: result?.message ?? `no ${request.method} here` },
          }),
        );
        return;
      }
      res.end(envelope(result));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    name,
    calls,
    get cardRequests() {
      return cards;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** v0.3 shapes, for scripts. */
export const v03 = {
  task: (id: string, state: string, extra: Record<string, unknown> = {}) => ({
    kind: "task",
    id,
    contextId: "ctx-raw",
    status: { state },
    ...extra,
  }),
  status: (taskId: string, state: string, final: boolean, text?: string) => ({
    kind: "status-update",
    taskId,
    contextId: "ctx-raw",
    status: {
      state,
      ...(text
        ? {
            message: {
              kind: "message",
              role: "agent",
              messageId: randomUUID(),
              parts: [{ kind: "text", text }],
            },
          }
        : {}),
    },
    final,
  }),
  chunk: (
    taskId: string,
    artifactId: string,
    text: string,
    append: boolean,
    lastChunk = false,
  ) => ({
    kind: "artifact-update",
    taskId,
    contextId: "ctx-raw",
    artifact: { artifactId, parts: [{ kind: "text", text }] },
    append,
    lastChunk,
  }),
  message: (text: string) => ({
    kind: "message",
    role: "agent",
    messageId: randomUUID(),
    parts: [{ kind: "text", text }],
  }),
};
