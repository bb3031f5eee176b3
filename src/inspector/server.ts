// The inspector's HTTP server (node:http, loopback only): the web app's files, a small JSON API
// over the recorder and the views, live updates over SSE, and the replay endpoint. Every request
// passes access.ts first. Nothing here logs a URL (it carries the token).
import { readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname } from "node:path";
import type { LocalAnswer } from "../hub/replay.ts";
import type { Logger } from "../log/logger.ts";
import { createServer } from "../system/http-server.ts";
import { withDefaults } from "../system/settings.ts";
import {
  type AccessRules,
  accessRules,
  checkRequest,
  type InspectAddress,
  inspectorUrl,
  isLoopback,
} from "./access.ts";
import type { Recorder, ReplayRecord } from "./recorder.ts";
import { replayMessage } from "./replay-message.ts";
import { agentsView, type InspectorSources, relayView } from "./views.ts";

/** Runs a message on a local agent, locally (never through the relay), and collects the answer. */
type Replayer = (
  localAgentId: string,
  message: Record<string, unknown>,
  signal: AbortSignal,
) => Promise<LocalAnswer>;

export interface InspectorServerSettings {
  /** How often live turn changes are pushed (batched). */
  turnsPushMs: number;
  /** How often the agents and relay views are pushed (when they changed). */
  statePushMs: number;
  /** An SSE comment this often keeps idle connections open through proxies and timeouts. */
  keepAliveMs: number;
  /** Replays running at once. */
  maxReplays: number;
  /** One replay's limit. */
  replayTimeoutMs: number;
}

const DEFAULT_INSPECTOR_SERVER_SETTINGS: InspectorServerSettings = {
  turnsPushMs: 250,
  statePushMs: 1_000,
  keepAliveMs: 15_000,
  maxReplays: 2,
  replayTimeoutMs: 120_000,
};

interface InspectorServerOptions {
  address: InspectAddress;
  token: string;
  recorder: Recorder;
  sources: InspectorSources;
  replay: Replayer | null;
  logger: Logger;
  settings?: Partial<InspectorServerSettings>;
}

/**
 * The web app's files, read once: src/inspector/web, and dist/inspector/web in the package. The
 * path goes up a level because the bin's bundle runs this module from dist/cli/.
 */
const WEB_FOLDER = new URL("../inspector/web/", import.meta.url);
const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

function loadWebFiles(): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(WEB_FOLDER)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) files.set(`/${name}`, { body: readFileSync(new URL(name, WEB_FOLDER)), type });
  }
  const index = files.get("/index.html");
  if (!index) throw new Error(`the inspector's web files are missing (${WEB_FOLDER.pathname})`);
  files.set("/", index);
  return files;
}

const COMMON_HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin",
};
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export class InspectorServer {
  readonly #options: InspectorServerOptions;
  readonly #settings: InspectorServerSettings;
  readonly #server: Server;
  readonly #files = loadWebFiles();
  readonly #clients = new Set<ServerResponse>();
  readonly #replays = new Set<AbortController>();
  #rules: AccessRules | null = null;
  #address: InspectAddress | null = null;
  #timers: NodeJS.Timeout[] = [];
  #lastState = "";

  constructor(options: InspectorServerOptions) {
    this.#options = options;
    this.#settings = withDefaults(DEFAULT_INSPECTOR_SERVER_SETTINGS, options.settings);
    this.#server = createServer((request, response) => this.#handle(request, response));
  }

  /** Listens; resolves with the page's URL (it holds the token: print it, never log it). */
  async listen(): Promise<string> {
    const { host, port } = this.#options.address;
    if (!isLoopback(host))
      throw new Error(`${host} is not a loopback address; the inspector serves on loopback only`);
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const bound = this.#server.address() as AddressInfo;
    this.#address = { host: bound.address, port: bound.port };
    this.#rules = accessRules(this.#address, this.#options.token);
    return inspectorUrl(this.#address, this.#options.token);
  }

  /** Where it listens (after listen()). */
  get address(): InspectAddress | null {
    return this.#address;
  }

  async close(): Promise<void> {
    this.#stopPushing();
    for (const replay of this.#replays) replay.abort(new Error("the inspector is closing"));
    for (const client of this.#clients) client.end();
    this.#clients.clear();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const rules = this.#rules;
    if (!rules) {
      response.writeHead(503).end();
      return;
    }
    const verdict = checkRequest(
      { host: request.headers.host, origin: request.headers.origin, url: request.url ?? "/" },
      rules,
    );
    if (verdict.ok === false) {
      response.writeHead(verdict.status, {
        ...COMMON_HEADERS,
        "content-type": "text/plain; charset=utf-8",
      });
      response.end(`${verdict.reason}\n`);
      return;
    }
    if (verdict.ok === "redirect") {
      response.writeHead(308, { ...COMMON_HEADERS, location: verdict.location }).end();
      return;
    }
    try {
      this.#route(request, response, verdict.path);
    } catch (error) {
      this.#options.logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        "inspector: a request failed",
      );
      if (!response.headersSent) this.#json(response, 500, { error: "internal error" });
      else response.end();
    }
  }

  #route(request: IncomingMessage, response: ServerResponse, path: string): void {
    const method = request.method ?? "GET";
    const replay = /^\/api\/turns\/([^/]+)\/replay$/.exec(path);
    if (replay) {
      if (method !== "POST") {
        this.#json(response, 405, { error: "use POST" });
        return;
      }
      void this.#replay(request, response, decodeURIComponent(replay[1] as string));
      return;
    }
    if (method !== "GET" && method !== "HEAD") {
      this.#json(response, 405, { error: "use GET" });
      return;
    }
    const { recorder, sources } = this.#options;
    if (path === "/api/turns") {
      this.#json(response, 200, { turns: recorder.turns() });
      return;
    }
    const turn = /^\/api\/turns\/([^/]+)$/.exec(path);
    if (turn) {
      const detail = recorder.turn(decodeURIComponent(turn[1] as string));
      if (!detail) {
        this.#json(response, 404, { error: "no such turn (kept are the last ones only)" });
        return;
      }
      this.#json(response, 200, detail);
      return;
    }
    if (path === "/api/agents") {
      this.#json(response, 200, { agents: agentsView(sources) });
      return;
    }
    if (path === "/api/relay") {
      this.#json(response, 200, relayView(sources, recorder.link));
      return;
    }
    if (path === "/api/events") {
      this.#subscribe(request, response);
      return;
    }
    const file = this.#files.get(path);
    if (!file) {
      this.#json(response, 404, { error: "not found" });
      return;
    }
    response.writeHead(200, {
      ...COMMON_HEADERS,
      "content-type": file.type,
      ...(file.type.startsWith("text/html") ? { "content-security-policy": PAGE_POLICY } : {}),
    });
    response.end(method === "HEAD" ? undefined : file.body);
  }

  #json(response: ServerResponse, status: number, body: unknown): void {
    response.writeHead(status, {
      ...COMMON_HEADERS,
      "content-type": "application/json; charset=utf-8",
    });
    response.end(JSON.stringify(body));
  }

  async #replay(request: IncomingMessage, response: ServerResponse, id: string): Promise<void> {
    request.resume(); // no body needed
    const { recorder } = this.#options;
    const run = this.#options.replay;
    if (!run) {
      this.#json(response, 503, { error: "replay is not available in this hub" });
      return;
    }
    const source = recorder.replaySource(id);
    const message = source && replayMessage(source.command);
    if (!source || !message) {
      this.#json(response, 409, {
        error: "this turn cannot be replayed (its message was not kept, or it has none)",
      });
      return;
    }
    if (this.#replays.size >= this.#settings.maxReplays) {
      return this.#json(response, 429, { error: "other replays are running; try again shortly" });
    }
    const controller = new AbortController();
    this.#replays.add(controller);
    const onClose = () => {
      if (!response.writableFinished) controller.abort(new Error("the page went away"));
    };
    response.on("close", onClose);
    const timer = setTimeout(
      () => controller.abort(new Error("replay took too long")),
      this.#settings.replayTimeoutMs,
    );
    const started = Date.now();
    let record: ReplayRecord;
    try {
      const answer = await run(source.localAgentId, message, controller.signal);
      record = { at: started, ...answer };
    } catch (error) {
      record = {
        at: started,
        durationMs: Date.now() - started,
        status: "failed",
        text: "",
        error: {
          type: error instanceof Error ? error.name : "Error",
          message: error instanceof Error ? error.message : String(error),
        },
      };
    } finally {
      clearTimeout(timer);
      this.#replays.delete(controller);
      response.off("close", onClose);
    }
    const kept = recorder.replayed(id, record) ?? record;
    if (!response.destroyed) this.#json(response, 200, kept);
  }

  #subscribe(request: IncomingMessage, response: ServerResponse): void {
    response.writeHead(200, {
      ...COMMON_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
    });
    const { recorder, sources } = this.#options;
    if (this.#clients.size === 0) {
      recorder.watch();
      recorder.takeChanges(); // the snapshot below has everything so far
      this.#startPushing();
    }
    this.#clients.add(response);
    send(response, "snapshot", {
      turns: recorder.turns(),
      agents: agentsView(sources),
      relay: relayView(sources, recorder.link),
    });
    request.on("close", () => {
      this.#clients.delete(response);
      if (this.#clients.size === 0) {
        this.#stopPushing();
        recorder.unwatch();
      }
    });
  }

  #startPushing(): void {
    const { recorder, sources } = this.#options;
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(() => {
        try {
          run();
        } catch (error) {
          this.#options.logger.warn(
            { err: error instanceof Error ? error.message : String(error) },
            "inspector: a live update failed",
          );
        }
      }, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#settings.turnsPushMs, () => {
      const changes = recorder.takeChanges();
      if (changes.turns.length > 0 || changes.evicted.length > 0) this.#broadcast("turns", changes);
    });
    every(this.#settings.statePushMs, () => {
      const state = { agents: agentsView(sources), relay: relayView(sources, recorder.link) };
      const text = JSON.stringify(state);
      if (text === this.#lastState) return;
      this.#lastState = text;
      this.#broadcast("state", state);
    });
    every(this.#settings.keepAliveMs, () => {
      for (const client of this.#clients) client.write(": keep-alive\n\n");
    });
  }

  #stopPushing(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    this.#lastState = "";
  }

  #broadcast(event: string, data: unknown): void {
    const frame = frameOf(event, data);
    for (const client of this.#clients) client.write(frame);
  }
}

function frameOf(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function send(response: ServerResponse, event: string, data: unknown): void {
  response.write(frameOf(event, data));
}
