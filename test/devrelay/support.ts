// Test helpers for the development relay: an HTTP caller, and a scripted hub that speaks the
// relay wire with plain HTTP + SSE (register, sync, read the command stream, publish).
import { randomBytes } from "node:crypto";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { Agent, fetch } from "undici";
import { type DevRelay, type DevRelayOptions, startDevRelay } from "../../src/devrelay/index.ts";
import type { PublishedEvent, SyncAgent } from "../../src/wire/relay.ts";

/** Relay answers and SSE payloads, inspected loosely by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: tests poke into arbitrary JSON
export type Json = any;

export const dispatcher = new Agent({
  headersTimeout: 20_000,
  bodyTimeout: 20_000,
  connections: 64,
});

export const ADMIN_KEY = `hybro_${"A1b2C3d4".repeat(5)}`;

export async function relayForTest(options: DevRelayOptions = {}): Promise<DevRelay> {
  return startDevRelay({ port: 0, adminKey: ADMIN_KEY, ...options });
}

export interface Answer<T = Json> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

/** One HTTP call to the relay; `key: null` sends no key. JSON bodies are parsed when possible. */
export async function call<T = Json>(
  relay: { url: string },
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? ADMIN_KEY : options.key;
  if (key !== null) headers["x-api-key"] ??= key;
  let body: string | Buffer | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(`${relay.url}${path}`, { method, headers, body, dispatcher });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // leave as text
  }
  return {
    status: response.status,
    headers: response.headers as unknown as Headers,
    body: parsed as T,
    text,
  };
}

export function hubIdForTest(): string {
  return randomBytes(16).toString("hex");
}

export function agentForTest(
  localAgentId: string,
  name: string,
  extra: Partial<SyncAgent> = {},
): SyncAgent {
  return {
    local_agent_id: localAgentId,
    name,
    description: `${name} agent`,
    capabilities: ["streaming"],
    agent_card: {
      name,
      description: `${name} agent`,
      url: `http://localhost:9999/${localAgentId}`,
      version: "1.0.0",
      capabilities: { streaming: true },
      defaultInputModes: ["text/plain"],
      defaultOutputModes: ["text/plain"],
      skills: [{ id: "s", name: "skill", description: "", tags: ["test"] }],
    },
    ...extra,
  };
}

/** Collects SSE messages of one response and lets a test await the next ones. */
export class SseReader {
  readonly messages: EventSourceMessage[] = [];
  readonly comments: string[] = [];
  private waiters: Array<() => void> = [];
  private readonly controller = new AbortController();
  done: Promise<void> = Promise.resolve();
  closed = false;
  status = 0;

  async open(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<void> {
    const response = await fetch(url, { ...init, dispatcher, signal: this.controller.signal });
    this.status = response.status;
    if (!response.body) throw new Error("no body");
    if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
      this.closed = true;
      throw new Error(`not an event stream: ${response.status} ${await response.text()}`);
    }
    const parser = createParser({
      onEvent: (message) => {
        this.messages.push(message);
        this.wake();
      },
      onComment: (comment) => {
        this.comments.push(comment);
        this.wake();
      },
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    this.done = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(decoder.decode(value, { stream: true }));
        }
      } catch {
        // aborted or reset: the stream is over
      } finally {
        this.closed = true;
        this.wake();
      }
    })();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** JSON data of every message so far. */
  data(): Json[] {
    return this.messages.map((message) => JSON.parse(message.data));
  }

  /** Waits until `predicate` holds over what was read (or the stream closed). */
  async until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (this.closed) throw new Error(`stream closed before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the first message whose JSON `type` is `type` after index `from`. */
  async next(type: string, from = 0): Promise<Json> {
    let found: Json;
    await this.until(() => {
      found = this.data()
        .slice(from)
        .find((item) => (item.type ?? "user_message") === type);
      return found !== undefined;
    }, `a "${type}" message`);
    return found;
  }

  close(): void {
    this.controller.abort();
  }
}

/** A hub played by the test: what the real hub does on the wire, step by step. */
export class ScriptedHub {
  readonly relay: { url: string };
  readonly key: string;
  readonly hubId: string;
  stream: SseReader | null = null;

  constructor(relay: { url: string }, key: string, hubId = hubIdForTest()) {
    this.relay = relay;
    this.key = key;
    this.hubId = hubId;
  }

  get base(): string {
    return `/api/v1/relay/hub/${this.hubId}`;
  }

  register(): Promise<Answer> {
    return call(this.relay, "POST", "/api/v1/relay/hub/register", {
      key: this.key,
      body: { hub_id: this.hubId },
    });
  }

  sync(agents: SyncAgent[], pruneMissing = true): Promise<Answer> {
    return call(this.relay, "POST", `${this.base}/agents/sync`, {
      key: this.key,
      body: { agents, prune_missing: pruneMissing },
    });
  }

  publish(roomId: string, events: PublishedEvent[]): Promise<Answer> {
    return call(this.relay, "POST", `${this.base}/publish`, {
      key: this.key,
      body: { room_id: roomId, events },
    });
  }

  async connect(lastEventId?: string): Promise<SseReader> {
    const reader = new SseReader();
    const headers: Record<string, string> = { "x-api-key": this.key, accept: "text/event-stream" };
    if (lastEventId) headers["last-event-id"] = lastEventId;
    await reader.open(`${this.relay.url}${this.base}/events`, { headers });
    this.stream = reader;
    return reader;
  }

  /** Answers one `user_message` / `user_reply` with the given events (plus nothing else). */
  async answer(
    command: Json,
    events: Array<Omit<PublishedEvent, "agent_message_id">>,
  ): Promise<void> {
    const full = events.map((event) => ({
      ...event,
      agent_message_id: command.agent_message_id,
    })) as PublishedEvent[];
    const answer = await this.publish(command.room_id, full);
    if (answer.status !== 204) throw new Error(`publish failed: ${answer.status} ${answer.text}`);
  }

  disconnect(): void {
    this.stream?.close();
  }
}

/** Events of a simple successful turn. */
export function completedTurn(
  text: string,
  userMessageId: string | null = null,
): Array<Omit<PublishedEvent, "agent_message_id">> {
  return [
    {
      type: "task_submitted",
      data: { task_id: randomBytes(16).toString("hex"), agent_name: "Echo" },
    },
    { type: "agent_response", data: { content: text, agent_id: "x" } },
    { type: "processing_status", data: { status: "completed", user_message_id: userMessageId } },
  ] as Array<Omit<PublishedEvent, "agent_message_id">>;
}

export async function eventually(
  check: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
