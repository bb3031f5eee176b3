// The JSON-RPC 2.0 client end shared by the stdio and WebSocket transports: ids, the pending
// calls, `stream/event` routing, `$/cancelRequest`, per-call timeouts. It moves text messages
// through a `send` function and is fed with `receive`; how the bytes move (lines on a pipe,
// frames on a socket) is the transport's business. It knows nothing of A2A dialects.

import {
  jsonRpcErrorOf,
  jsonRpcErrorResponse,
  jsonRpcNotification,
  jsonRpcRequest,
} from "../../a2a/jsonrpc.ts";
import { isRecord } from "../../a2a/model.ts";
import { type JsonRpcError, TransportError } from "../../a2a/transport.ts";
import type { Logger } from "../../log/logger.ts";
import { withDefaults } from "../../system/settings.ts";

export interface RpcPeerSettings {
  /** How long a unary call waits for its response, and a stream for its next event; 0 = no limit. */
  callTimeoutMs: number;
  /** Events one stream may hold for a consumer that is not reading; past it the stream fails. */
  streamBufferMaxEvents: number;
}

export const DEFAULT_RPC_PEER_SETTINGS: RpcPeerSettings = {
  // A backstop only: the turn's own deadline (its AbortSignal) normally ends a call first.
  callTimeoutMs: 600_000,
  streamBufferMaxEvents: 10_000,
};

interface RpcPeerOptions {
  /** The agent's name, for log lines and error messages. */
  name: string;
  logger: Logger;
  /** Sends one serialized message; throws a TransportError when the channel is not open. */
  send: (message: string) => void;
  settings?: Partial<RpcPeerSettings>;
}

interface PeerCallOptions {
  signal: AbortSignal;
  /** Overrides `callTimeoutMs` for this call. */
  timeoutMs?: number;
}

type Outcome = { ok: true; result: unknown } | { ok: false; error: JsonRpcError };

/** One request waiting for its answer: a unary call or an open stream. */
interface PendingRequest {
  readonly method: string;
  answer(outcome: Outcome): void;
  event(event: unknown): void;
  fail(error: unknown): void;
}

/** Ids of requests we gave up on (aborted, timed out): their late answers are expected. */
const ABANDONED_IDS_KEPT = 1024;
const LOG_PREVIEW_CHARS = 200;

export class RpcPeer {
  readonly #name: string;
  readonly #log: Logger;
  readonly #send: (message: string) => void;
  readonly #settings: RpcPeerSettings;
  readonly #pending = new Map<number, PendingRequest>();
  readonly #abandoned = new Set<number>();
  #nextId = 1;

  constructor(options: RpcPeerOptions) {
    this.#name = options.name;
    this.#log = options.logger;
    this.#send = options.send;
    this.#settings = withDefaults(DEFAULT_RPC_PEER_SETTINGS, options.settings);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** One unary call; resolves with `result`, rejects with JsonRpcError, TransportError or the abort reason. */
  call(method: string, params: unknown, options: PeerCallOptions): Promise<unknown> {
    const { signal } = options;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        this.#pending.delete(id);
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        settle();
        this.#abandon(id);
        reject(signal.reason);
      };
      this.#pending.set(id, {
        method,
        answer: (outcome) => {
          settle();
          if (outcome.ok) resolve(outcome.result);
          else reject(outcome.error);
        },
        event: () => {
          this.#log.debug({ id, method }, "stream/event for a unary call; ignored");
        },
        fail: (error) => {
          settle();
          reject(error);
        },
      });
      signal.addEventListener("abort", onAbort, { once: true });
      const timeoutMs = options.timeoutMs ?? this.#settings.callTimeoutMs;
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          settle();
          this.#abandon(id);
          reject(this.#timeoutError(method, timeoutMs, "an answer"));
        }, timeoutMs);
        timer.unref();
      }
      try {
        this.#send(jsonRpcRequest(id, method, params));
      } catch (error) {
        settle();
        reject(error);
      }
    });
  }

  /**
   * A streaming call: yields each `stream/event` notification's `event` in order, then the
   * final response's `result` when it is not null and not a repeat of the last event (the
   * agent may end a stream with its last event, with null, or with a closing Task/Message;
   * only the last is new). An `error` response rejects with JsonRpcError after the events
   * that came before it. Leaving the loop early or aborting sends `$/cancelRequest`.
   */
  async *stream(
    method: string,
    params: unknown,
    options: PeerCallOptions,
  ): AsyncGenerator<unknown> {
    const { signal } = options;
    signal.throwIfAborted();
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs ?? this.#settings.callTimeoutMs;
    const maxBuffered = this.#settings.streamBufferMaxEvents;
    let queue: unknown[] = [];
    let head = 0;
    let finished = false;
    let failure: { error: unknown } | null = null;
    let lastEvent: { event: unknown } | null = null;
    let wake: (() => void) | null = null;
    let timer: NodeJS.Timeout | undefined;

    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const settle = () => {
      this.#pending.delete(id);
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
    const end = (error: { error: unknown } | null, dropQueued: boolean) => {
      if (finished) return;
      finished = true;
      failure = error;
      if (dropQueued) {
        queue = [];
        head = 0;
      }
      settle();
      notify();
    };
    const onAbort = () => {
      if (finished) return;
      this.#abandon(id);
      end({ error: signal.reason }, true);
    };
    const armTimer = () => {
      if (timeoutMs <= 0) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (finished) return;
        this.#abandon(id);
        end({ error: this.#timeoutError(method, timeoutMs, "its next stream event") }, true);
      }, timeoutMs);
      timer.unref();
    };

    this.#pending.set(id, {
      method,
      event: (event) => {
        if (finished) return;
        if (queue.length - head >= maxBuffered) {
          this.#abandon(id);
          const message = `stream from agent "${this.#name}" (${method}) has ${maxBuffered} unread events (streamBufferMaxEvents); the consumer is too slow, stream cancelled`;
          end({ error: new TransportError("StreamOverflow", message) }, true);
          return;
        }
        queue.push(event);
        lastEvent = { event };
        armTimer();
        notify();
      },
      answer: (outcome) => {
        if (finished) return;
        if (!outcome.ok) {
          end({ error: outcome.error }, false);
          return;
        }
        const result = outcome.result;
        if (result != null && !(lastEvent && sameJson(result, lastEvent.event))) queue.push(result);
        end(null, false);
      },
      // The channel closed: what arrived before still counts, then the error.
      fail: (error) => end({ error }, false),
    });
    signal.addEventListener("abort", onAbort, { once: true });
    armTimer();
    try {
      this.#send(jsonRpcRequest(id, method, params));
    } catch (error) {
      settle();
      throw error;
    }

    try {
      while (true) {
        if (head < queue.length) {
          const event = queue[head];
          queue[head++] = undefined;
          if (head >= 1024 && head * 2 >= queue.length) {
            queue = queue.slice(head);
            head = 0;
          }
          yield event;
          continue;
        }
        if (failure) throw (failure as { error: unknown }).error;
        if (finished) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      if (!finished) {
        // The consumer left the loop early: tell the agent to stop.
        finished = true;
        settle();
        this.#abandon(id);
      }
    }
  }

  /** Sends a notification (no answer expected). Throws when the channel is not open. */
  notify(method: string, params: unknown): void {
    this.#send(jsonRpcNotification(method, params));
  }

  /** Feeds one received message (a stdio line or a WebSocket text frame). Never throws. */
  receive(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.#log.warn(
        { line: preview(text) },
        `agent "${this.#name}" wrote a line that is not JSON; skipped (only JSON-RPC messages belong on its stdout/socket, logs go to stderr)`,
      );
      return;
    }
    if (Array.isArray(message)) {
      for (const item of message) this.#dispatch(item, text);
      return;
    }
    this.#dispatch(message, text);
  }

  /** Ends one pending request with `error` (e.g. its answer was too long). False if unknown. */
  fail(id: number | string, error: unknown): boolean {
    const pending = this.#lookup(id);
    if (!pending) return false;
    pending.fail(error);
    return true;
  }

  /** Ends every pending request with `error`: the channel is gone. */
  failAll(error: unknown): void {
    for (const pending of [...this.#pending.values()]) pending.fail(error);
  }

  #dispatch(message: unknown, text: string): void {
    if (!isRecord(message)) {
      this.#log.warn(
        { line: preview(text) },
        `agent "${this.#name}" sent JSON that is not a JSON-RPC object; skipped`,
      );
      return;
    }
    if (typeof message.method === "string") {
      if (message.id !== undefined && message.id !== null) {
        // The agent asked us something; we serve no methods.
        this.#log.debug({ method: message.method }, "agent sent a request; answered -32601");
        this.#trySend(
          jsonRpcErrorResponse(message.id, -32601, `method not found: ${message.method}`),
        );
        return;
      }
      this.#notification(message.method, message.params);
      return;
    }
    if ("id" in message && ("result" in message || "error" in message)) {
      this.#response(message);
      return;
    }
    this.#log.warn(
      { line: preview(text) },
      `agent "${this.#name}" sent a message that is neither a response nor a notification; skipped`,
    );
  }

  #notification(method: string, params: unknown): void {
    if (method !== "stream/event") {
      this.#log.debug({ method }, "agent sent a notification the hub does not use; ignored");
      return;
    }
    if (!isRecord(params) || !("event" in params)) {
      this.#log.warn(
        `agent "${this.#name}" sent stream/event without params.requestId/params.event; skipped`,
      );
      return;
    }
    const pending = this.#lookupOrLog(params.requestId, "stream/event");
    pending?.event(params.event);
  }

  #response(message: Record<string, unknown>): void {
    if (message.id === null) {
      this.#log.warn(
        { error: message.error },
        `agent "${this.#name}" reported an error not tied to a request (id null); the hub may have sent it something it could not parse`,
      );
      return;
    }
    const pending = this.#lookupOrLog(message.id, "response");
    if (!pending) return;
    const error = jsonRpcErrorOf(message);
    if (error) {
      pending.answer({ ok: false, error });
    } else {
      pending.answer({ ok: true, result: message.result ?? null });
    }
  }

  #lookup(id: unknown): PendingRequest | undefined {
    const key = typeof id === "string" && /^\d+$/.test(id) ? Number(id) : id;
    return typeof key === "number" ? this.#pending.get(key) : undefined;
  }

  #lookupOrLog(id: unknown, what: string): PendingRequest | undefined {
    const pending = this.#lookup(id);
    if (pending) return pending;
    const key = typeof id === "string" ? Number(id) : id;
    if (typeof key === "number" && this.#abandoned.has(key)) {
      this.#log.debug({ id }, `late ${what} for a request the hub gave up on; ignored`);
    } else {
      this.#log.warn(
        { id },
        `agent "${this.#name}" sent a ${what} for unknown request id ${JSON.stringify(id)}; ignored`,
      );
    }
    return undefined;
  }

  /** Forgets a request the agent may still be working on, and tells it so. */
  #abandon(id: number): void {
    this.#abandoned.add(id);
    if (this.#abandoned.size > ABANDONED_IDS_KEPT) {
      const oldest = this.#abandoned.values().next();
      if (!oldest.done) this.#abandoned.delete(oldest.value);
    }
    this.#trySend(jsonRpcNotification("$/cancelRequest", { id }));
  }

  #trySend(message: string): void {
    try {
      this.#send(message);
    } catch (error) {
      this.#log.debug({ err: error }, "could not send to agent (channel closed)");
    }
  }

  #timeoutError(method: string, timeoutMs: number, what: string): TransportError {
    return new TransportError(
      "ReadTimeout",
      `agent "${this.#name}" sent no ${what} to ${method} within ${timeoutMs} ms (callTimeoutMs / timeoutMs); the request was cancelled`,
    );
  }
}

/** A line shortened for a log message. */
export function preview(text: string, maxChars: number = LOG_PREVIEW_CHARS): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}… (${text.length} chars)`;
}

/** Structural JSON equality, key order ignored. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra).filter((k) => ra[k] !== undefined);
  if (keys.length !== Object.keys(rb).filter((k) => rb[k] !== undefined).length) return false;
  return keys.every((k) => Object.hasOwn(rb, k) && sameJson(ra[k], rb[k]));
}
