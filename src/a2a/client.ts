// The hub's A2A client: the four calls a turn needs, in whichever dialect the agent speaks,
// over any transport (HTTP, stdio, WebSocket). A -32601/-32009 answer on the current dialect
// retries that one call in the other dialect and, if that works, the client stays there.

import { randomUUID } from "node:crypto";
import { type Logger, silentLogger } from "../log/logger.ts";
import {
  type A2AOperation,
  decodeResult,
  decodeStreamEvent,
  decodeTaskResult,
  methodFor,
  sendParams,
} from "./dialect.ts";
import type { A2AResult, A2AStreamEvent, A2ATask } from "./model.ts";
import {
  type A2ADialect,
  type AgentTransport,
  JsonRpcError,
  type RpcCallOptions,
} from "./transport.ts";

interface A2AClientOptions {
  transport: AgentTransport;
  primary: A2ADialect;
  /** The dialect to try once when the current one is refused (-32601/-32009); null = none. */
  fallback: A2ADialect | null;
  /** v1.0 interfaces may name a tenant; it is echoed in every v1.0 request's params. */
  tenant?: string | null;
  logger?: Logger;
}

interface A2ACallOptions {
  signal: AbortSignal;
  /** Streams: an event was skipped because it could not be read (see RpcCallOptions). */
  onUnreadable?: (note: string) => void;
}

export class A2AClient {
  readonly transport: AgentTransport;
  readonly #dialects: A2ADialect[];
  #current: A2ADialect;
  readonly #tenant: string | null;
  readonly #logger: Logger;

  constructor(options: A2AClientOptions) {
    this.transport = options.transport;
    this.#current = options.primary;
    this.#dialects =
      options.fallback && options.fallback !== options.primary
        ? [options.primary, options.fallback]
        : [options.primary];
    this.#tenant = options.tenant || null;
    this.#logger = options.logger ?? silentLogger();
  }

  /** The dialect calls are made in now (the primary until a fallback worked). */
  get dialect(): A2ADialect {
    return this.#current;
  }

  /** A blocking send (the agent answers when the task is terminal or needs input). */
  send(message: Record<string, unknown>, options: A2ACallOptions): Promise<A2AResult> {
    // Encode once per dialect from the same input, so a retry carries the same messageId.
    const withId = ensureMessageId(message);
    return this.#unary("send", async (dialect) =>
      decodeResult(
        await this.transport.call(
          methodFor(dialect, "send"),
          this.#params(dialect, sendParams(dialect, withId, "blocking")),
          {
            signal: options.signal,
            dialect,
          },
        ),
      ),
    );
  }

  /** A streaming send: normalised events in order; unknown payloads are skipped. */
  async *stream(
    message: Record<string, unknown>,
    options: A2ACallOptions,
  ): AsyncGenerator<A2AStreamEvent> {
    const withId = ensureMessageId(message);
    let dialect = this.#current;
    const tried = new Set<A2ADialect>();
    for (;;) {
      tried.add(dialect);
      let yielded = false;
      try {
        const callOptions: RpcCallOptions = { signal: options.signal, dialect };
        if (options.onUnreadable) callOptions.onUnreadable = options.onUnreadable;
        const events = this.transport.stream(
          methodFor(dialect, "stream"),
          this.#params(dialect, sendParams(dialect, withId, "stream")),
          callOptions,
        );
        for await (const payload of events) {
          const event = decodeStreamEvent(payload);
          if (!event) {
            const keys =
              payload && typeof payload === "object" ? Object.keys(payload) : typeof payload;
            this.#logger.debug(
              { keys },
              "skipped a stream event that is none of task, message, status or artifact update",
            );
            continue;
          }
          if (!yielded) {
            yielded = true;
            this.#settle(dialect);
          }
          yield event;
        }
        if (!yielded) this.#settle(dialect);
        return;
      } catch (error) {
        const next = yielded ? null : this.#alternative(tried, error);
        if (!next) throw error;
        this.#logRetry("stream", dialect, next, error);
        dialect = next;
      }
    }
  }

  getTask(taskId: string, options: A2ACallOptions): Promise<A2ATask> {
    return this.#unary("get", async (dialect) =>
      decodeTaskResult(
        await this.transport.call(
          methodFor(dialect, "get"),
          this.#params(dialect, { id: taskId }),
          {
            signal: options.signal,
            dialect,
          },
        ),
      ),
    );
  }

  async cancelTask(taskId: string, options: A2ACallOptions): Promise<void> {
    await this.#unary("cancel", (dialect) =>
      this.transport.call(methodFor(dialect, "cancel"), this.#params(dialect, { id: taskId }), {
        signal: options.signal,
        dialect,
      }),
    );
  }

  async #unary<T>(
    operation: A2AOperation,
    attempt: (dialect: A2ADialect) => Promise<T>,
  ): Promise<T> {
    let dialect = this.#current;
    const tried = new Set<A2ADialect>();
    for (;;) {
      tried.add(dialect);
      try {
        const result = await attempt(dialect);
        this.#settle(dialect);
        return result;
      } catch (error) {
        const next = this.#alternative(tried, error);
        if (!next) throw error;
        this.#logRetry(operation, dialect, next, error);
        dialect = next;
      }
    }
  }

  /** The dialect to retry in after `error`, or null. Each dialect is tried at most once per call. */
  #alternative(tried: Set<A2ADialect>, error: unknown): A2ADialect | null {
    if (!(error instanceof JsonRpcError) || !error.isVersionFallback) return null;
    return this.#dialects.find((d) => !tried.has(d)) ?? null;
  }

  #params(dialect: A2ADialect, params: Record<string, unknown>): Record<string, unknown> {
    return dialect === "1.0" && this.#tenant ? { ...params, tenant: this.#tenant } : params;
  }

  #logRetry(operation: A2AOperation, from: A2ADialect, to: A2ADialect, error: unknown): void {
    this.#logger.info(
      { operation, from, to, code: (error as JsonRpcError).code },
      `agent refused A2A ${from}; retrying this call in A2A ${to}`,
    );
  }

  #settle(dialect: A2ADialect): void {
    if (dialect === this.#current) return;
    this.#logger.info(
      { from: this.#current, to: dialect },
      `agent speaks A2A ${dialect}; using it from now on`,
    );
    this.#current = dialect;
  }
}

function ensureMessageId(message: Record<string, unknown>): Record<string, unknown> {
  if (typeof message["messageId"] === "string" && message["messageId"] !== "") return message;
  return { ...message, messageId: randomUUID().replaceAll("-", "") };
}
