// What the stdio and WebSocket transports share once their channel is up: JSON-RPC through an
// RpcPeer (every call waits for the channel first), the card from `agent/getCard` with the
// entry's or a built card as fallback, health-change reporting and an idempotent close. A
// subclass supplies only how the channel comes up (`ensureReady`), how a message goes out
// (`write`), how it stops (`stop`) and what healthy means for it.

import { type AgentTransport, type RpcCallOptions, TransportError } from "../../a2a/transport.ts";
import type { Random } from "../../async/backoff.ts";
import type { Clock } from "../../async/clock.ts";
import { type Logger, silentLogger } from "../../log/logger.ts";
import { agentLogger, fallbackCard, isCard } from "./local-card.ts";
import { RpcPeer, type RpcPeerSettings } from "./rpc-peer.ts";
import type { TransportHealth } from "./supervision.ts";

export interface PeerTransportOptions {
  name: string;
  /** The entry's inline card, used when the agent serves none. */
  card?: Record<string, unknown>;
  description?: string;
  logger?: Logger;
  /** Called whenever `health().healthy` changes (e.g. to update the roster). */
  onHealthChange?: (health: TransportHealth) => void;
  /** Restart/reconnect delays, stable runs and stop graces run on it (tests fake it). */
  clock?: Clock;
  /** Jitter of the restart/reconnect delays. */
  random?: Random;
}

interface PeerTransportSettings extends RpcPeerSettings {
  /** How long `agent/getCard` may take before the entry's / a built card is used. */
  cardRequestTimeoutMs: number;
}

export abstract class PeerTransport implements AgentTransport {
  abstract readonly kind: "stdio" | "ws";
  readonly name: string;
  protected readonly log: Logger;
  protected readonly peer: RpcPeer;
  readonly #card: Record<string, unknown> | undefined;
  readonly #description: string | undefined;
  readonly #cardRequestTimeoutMs: number;
  readonly #onHealthChange: ((health: TransportHealth) => void) | undefined;
  #lastHealthy = true;
  #cardNoteLogged = false;
  #closing: Promise<void> | null = null;

  constructor(
    options: PeerTransportOptions,
    kind: "stdio" | "ws",
    settings: PeerTransportSettings,
  ) {
    this.name = options.name;
    this.#card = options.card;
    this.#description = options.description;
    this.#cardRequestTimeoutMs = settings.cardRequestTimeoutMs;
    this.#onHealthChange = options.onHealthChange;
    this.log = agentLogger(options.logger ?? silentLogger(), options.name, kind);
    this.peer = new RpcPeer({
      name: options.name,
      logger: this.log,
      send: (message) => this.write(message),
      settings,
    });
  }

  /** Brings the channel up (spawn / connect) if it is not yet; resolves once it is. */
  async start(signal: AbortSignal = new AbortController().signal): Promise<void> {
    await this.ensureReady(signal);
  }

  async call(method: string, params: unknown, options: RpcCallOptions): Promise<unknown> {
    await this.ensureReady(options.signal);
    return this.peer.call(method, params, { signal: options.signal });
  }

  async *stream(method: string, params: unknown, options: RpcCallOptions): AsyncGenerator<unknown> {
    await this.ensureReady(options.signal);
    yield* this.peer.stream(method, params, { signal: options.signal });
  }

  /**
   * The card from `agent/getCard`; when the agent answers none within `cardRequestTimeoutMs` (or
   * an error), the entry's card, else one built from the name. Rejects only when the channel
   * cannot come up (TransportError, connectionClass) or the signal aborts.
   */
  fetchCard(signal: AbortSignal): Promise<Record<string, unknown>> {
    return this.cardOverRpc(signal, []);
  }

  abstract health(): TransportHealth;

  /** Stops the transport (see the subclass's `stop`). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.stop();
    return this.#closing;
  }

  /** Resolves once messages can be written; rejects when they cannot (or the signal aborts). */
  protected abstract ensureReady(signal: AbortSignal): Promise<void>;
  /** Sends one JSON-RPC message; throws a TransportError when the channel is not up. */
  protected abstract write(message: string): void;
  protected abstract stop(): Promise<void>;
  protected abstract isHealthy(): boolean;

  /** `fetchCard` after the sources tried before `agent/getCard`; `why` says why they gave none. */
  protected async cardOverRpc(
    signal: AbortSignal,
    why: string[],
  ): Promise<Record<string, unknown>> {
    await this.ensureReady(signal);
    try {
      const result = await this.peer.call("agent/getCard", undefined, {
        signal,
        timeoutMs: this.#cardRequestTimeoutMs,
      });
      if (isCard(result)) return result;
      why.push("its agent/getCard result is not an object");
    } catch (error) {
      if (signal.aborted) throw error;
      if (error instanceof TransportError && error.connectionClass) throw error;
      why.push(error instanceof Error ? error.message : String(error));
    }
    if (!this.#cardNoteLogged) {
      this.#cardNoteLogged = true;
      this.log.info(
        `agent "${this.name}" serves no card (${why.join("; ")}); using ${this.#card ? "the card from agents.json" : "a card built from its name (not streaming)"}`,
      );
    }
    return fallbackCard(this.name, this.#card, this.#description);
  }

  protected healthMaybeChanged(): void {
    const healthy = this.isHealthy();
    if (healthy === this.#lastHealthy) return;
    this.#lastHealthy = healthy;
    try {
      this.#onHealthChange?.(this.health());
    } catch (error) {
      this.log.error({ err: error }, "onHealthChange listener threw");
    }
  }

  protected stoppedError(): TransportError {
    return new TransportError("AgentExited", `agent "${this.name}" is stopped`, {
      connectionClass: true,
    });
  }
}
