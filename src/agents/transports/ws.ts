// An agent reached over a WebSocket: the same JSON-RPC messages as stdio, one per text frame
// (local-agents.md section 2). The hub is the client: it connects on first use, keeps the
// connection up afterwards (reconnecting with capped backoff and jitter), and pings to notice
// a dead peer long before TCP would.

import type WebSocket from "ws";
import type { RawData } from "ws";
import { TransportError } from "../../a2a/transport.ts";
import { Backoff } from "../../async/backoff.ts";
import { type Clock, systemClock, type Timer } from "../../async/clock.ts";
import { Deferred, untilSettled } from "../../async/deferred.ts";
import { onFirstUse } from "../../system/on-first-use.ts";
import { withDefaults } from "../../system/settings.ts";
import { Agent, request } from "../../system/undici.ts";
import { cardAnswerProblem, readCardText } from "./card-body.ts";
import { isCard } from "./local-card.ts";
import { PeerTransport, type PeerTransportOptions } from "./peer-transport.ts";
import { DEFAULT_RPC_PEER_SETTINGS, type RpcPeerSettings } from "./rpc-peer.ts";
import type { TransportHealth } from "./supervision.ts";

const wsLibrary = onFirstUse<typeof WebSocket>("ws");

export interface WsSettings extends RpcPeerSettings {
  /** Opening handshake limit (TCP + HTTP upgrade). */
  connectTimeoutMs: number;
  /** How long `agent/getCard` (or the GET of `cardUrl`) may take before the entry's card is used. */
  cardRequestTimeoutMs: number;
  /** Delay before the n-th consecutive reconnect: base·2^n, capped, with jitter. */
  reconnectBaseDelayMs: number;
  reconnectMaxDelayMs: number;
  /** A connection that lived this long reconnects at once when it drops, backoff reset. */
  stableConnectionMs: number;
  /** A ping each interval; no pong (or other frame) by the next one ends the connection. */
  pingIntervalMs: number;
  /** Largest frame accepted; a bigger one closes the connection (ws `maxPayload`). */
  maxMessageBytes: number;
  /** close(): how long to wait for the closing handshake before dropping the socket. */
  closeGraceMs: number;
  /** Consecutive failed connects after which the agent is reported unhealthy. */
  unhealthyAfterFailures: number;
}

const DEFAULT_WS_SETTINGS: WsSettings = {
  ...DEFAULT_RPC_PEER_SETTINGS,
  connectTimeoutMs: 10_000,
  cardRequestTimeoutMs: 5_000,
  reconnectBaseDelayMs: 500,
  reconnectMaxDelayMs: 30_000,
  stableConnectionMs: 10_000,
  pingIntervalMs: 15_000,
  maxMessageBytes: 16 * 1024 * 1024,
  closeGraceMs: 1_000,
  unhealthyAfterFailures: 3,
};

export interface WsTransportOptions extends PeerTransportOptions {
  /** `ws://` or `wss://`. */
  url: string;
  /** Sent with the upgrade request (and the GET of `cardUrl`), e.g. the agent's own token. */
  headers?: Record<string, string>;
  /** An HTTP(S) URL serving the card; tried before `agent/getCard`. */
  cardUrl?: string;
  settings?: Partial<WsSettings>;
}

type Phase = "idle" | "connecting" | "open" | "waiting" | "closed";

export class WsTransport extends PeerTransport {
  readonly kind = "ws" as const;
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #cardUrl: string | undefined;
  readonly #settings: WsSettings;
  readonly #clock: Clock;
  readonly #backoff: Backoff;

  #phase: Phase = "idle";
  #socket: WebSocket | null = null;
  #socketClosed: Deferred<void> | null = null;
  /** Settles when the current connect attempt opens or fails. */
  #up = new Deferred<void>();
  #reconnectTimer: Timer | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #reconnects = 0;
  #lastExit: string | null = null;
  #http: Agent | null = null;

  constructor(options: WsTransportOptions) {
    const settings = withDefaults(DEFAULT_WS_SETTINGS, options.settings);
    super(options, "ws", settings);
    this.#url = options.url;
    this.#headers = options.headers ?? {};
    this.#cardUrl = options.cardUrl;
    this.#settings = settings;
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff(
      {
        baseDelayMs: settings.reconnectBaseDelayMs,
        maxDelayMs: settings.reconnectMaxDelayMs,
        jitter: "equal",
        stableRunMs: settings.stableConnectionMs,
      },
      { clock: this.#clock, random: options.random },
    );
  }

  /**
   * The card from `cardUrl`, else from `agent/getCard` over the socket, else the entry's card,
   * else one built from the name. Rejects when the agent cannot be reached at all.
   */
  override async fetchCard(signal: AbortSignal): Promise<Record<string, unknown>> {
    const why: string[] = [];
    if (this.#cardUrl) {
      try {
        return await this.#fetchCardUrl(signal);
      } catch (error) {
        if (signal.aborted) throw error;
        why.push(`${this.#cardUrl}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return this.cardOverRpc(signal, why);
  }

  override health(): TransportHealth {
    return {
      healthy: this.isHealthy(),
      restarts: this.#reconnects,
      lastExit: this.#lastExit,
      pid: null,
    };
  }

  /** Connects if not connected yet; resolves once the socket is open. */
  protected override async ensureReady(signal: AbortSignal): Promise<void> {
    while (true) {
      signal.throwIfAborted();
      switch (this.#phase) {
        case "open":
          return;
        case "closed":
          throw this.stoppedError();
        case "idle":
          this.#connect();
          break;
        case "waiting":
          // Like a refused HTTP connection: fail now, the background reconnect goes on.
          throw new TransportError(
            "ConnectError",
            `agent "${this.name}" at ${this.#url} is not reachable (${this.#lastExit}); reconnecting in the background`,
            { connectionClass: true },
          );
        case "connecting":
          break;
      }
      await untilSettled(this.#up.promise, signal);
    }
  }

  #connect(): void {
    this.#phase = "connecting";
    if (this.#up.settled) this.#up = new Deferred<void>();
    let socket: WebSocket;
    try {
      socket = new (wsLibrary())(this.#url, {
        headers: this.#headers,
        handshakeTimeout: this.#settings.connectTimeoutMs,
        maxPayload: this.#settings.maxMessageBytes,
        perMessageDeflate: false,
      });
    } catch (error) {
      // A malformed URL throws synchronously; retrying will not fix it, but it is reported.
      this.#lastExit = error instanceof Error ? error.message : String(error);
      this.#onDown(false);
      return;
    }
    const closed = new Deferred<void>();
    this.#socket = socket;
    this.#socketClosed = closed;
    let opened = false;
    let alive = true;
    let lastError: Error | null = null;

    socket.on("open", () => {
      if (this.#socket !== socket) return;
      opened = true;
      this.#backoff.runStarted();
      this.#failures = 0;
      if (this.#phase === "connecting") this.#phase = "open";
      this.log.info(`connected to agent "${this.name}" at ${this.#url}`);
      this.#pingTimer = setInterval(() => {
        if (!alive) {
          this.log.warn(
            `agent "${this.name}" sent no pong within ${this.#settings.pingIntervalMs} ms (pingIntervalMs); dropping the connection`,
          );
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      }, this.#settings.pingIntervalMs);
      this.#pingTimer.unref();
      this.#up.resolve();
      this.healthMaybeChanged();
    });
    socket.on("message", (data: RawData) => {
      alive = true;
      this.peer.receive(rawText(data));
    });
    socket.on("pong", () => {
      alive = true;
    });
    socket.on("error", (error: Error) => {
      lastError = error;
    });
    socket.on("close", (code: number, reason: Buffer) => {
      closed.resolve();
      if (this.#socket !== socket) return;
      this.#socket = null;
      clearInterval(this.#pingTimer);
      const why = reason.length > 0 ? `: ${reason.toString("utf8")}` : "";
      this.#lastExit = opened
        ? `connection closed (code ${code}${why})`
        : `could not connect (${(lastError as Error | null)?.message ?? `code ${code}`})`;
      this.#onDown(opened);
    });
  }

  /** The socket is gone (or never opened): end its calls and plan the next attempt. */
  #onDown(wasOpen: boolean): void {
    const stopping = this.#phase === "closed";
    const failure = new TransportError(
      wasOpen ? "AgentExited" : "ConnectError",
      stopping
        ? `agent "${this.name}" was stopped while answering`
        : `agent "${this.name}" at ${this.#url}: ${this.#lastExit}`,
      { connectionClass: true },
    );
    if (!this.#up.settled) this.#up.reject(failure);
    this.peer.failAll(failure);
    if (stopping) return;

    let delayMs: number;
    if (wasOpen && this.#backoff.runEnded()) {
      delayMs = 0; // a connection that was stable reconnects at once
    } else {
      if (!wasOpen) this.#failures++;
      delayMs = this.#backoff.nextDelayMs();
    }
    if (this.#failures === this.#settings.unhealthyAfterFailures) {
      this.log.error(
        `agent "${this.name}" at ${this.#url} is unreachable (${this.#failures} failed connects; last: ${this.#lastExit}); marked unhealthy, still retrying every ≤ ${Math.round(this.#settings.reconnectMaxDelayMs / 1000)} s`,
      );
    } else if (this.#failures < this.#settings.unhealthyAfterFailures) {
      this.log.warn(`agent "${this.name}": ${this.#lastExit}; reconnecting in ${delayMs} ms`);
    }
    this.#phase = "waiting";
    this.#reconnectTimer = this.#clock.timer(delayMs, () => {
      this.#reconnectTimer = undefined;
      if (this.#phase !== "waiting") return;
      this.#reconnects++;
      this.#connect();
    });
    this.healthMaybeChanged();
  }

  protected override write(message: string): void {
    const socket = this.#socket;
    if (this.#phase !== "open" || !socket || socket.readyState !== socket.OPEN) {
      throw new TransportError("ConnectError", `agent "${this.name}" is not connected`, {
        connectionClass: true,
      });
    }
    socket.send(message);
  }

  async #fetchCardUrl(signal: AbortSignal): Promise<Record<string, unknown>> {
    const timeoutMs = this.#settings.cardRequestTimeoutMs;
    this.#http ??= new Agent({
      connectTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const response = await request(this.#cardUrl as string, {
      dispatcher: this.#http,
      headers: { accept: "application/json", ...this.#headers },
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    const problem = cardAnswerProblem(response);
    if (problem !== null) {
      await response.body.dump();
      throw new Error(problem);
    }
    const body: unknown = JSON.parse(await readCardText(response, this.#cardUrl as string));
    if (!isCard(body)) throw new Error("the body is not a JSON object");
    return body;
  }

  protected override async stop(): Promise<void> {
    this.#phase = "closed";
    this.#reconnectTimer?.cancel();
    clearInterval(this.#pingTimer);
    if (!this.#up.settled) this.#up.reject(this.stoppedError());
    const socket = this.#socket;
    const closed = this.#socketClosed;
    if (socket && closed) {
      if (socket.readyState === socket.OPEN) socket.close(1000, "hub stopping");
      else socket.terminate();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#settings.closeGraceMs);
      });
      await Promise.race([closed.promise, grace]);
      clearTimeout(timer);
      if (!closed.settled) socket.terminate();
    }
    this.#socket = null;
    this.peer.failAll(this.stoppedError());
    await this.#http?.close();
    this.healthMaybeChanged();
  }

  protected override isHealthy(): boolean {
    return this.#phase !== "closed" && this.#failures < this.#settings.unhealthyAfterFailures;
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}
