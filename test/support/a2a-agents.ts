// Real A2A agents for tests and the benchmark, built on the official SDKs: `@a2a-js/sdk` 1.x
// (v1.0, optionally with its v0.3 compat layer) and `a2a-sdk-v03` (the 0.3 SDK, pure v0.3).
// One behaviour script drives both; each adapter publishes it in its SDK's own event model.

import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AgentCard as V1AgentCard,
  TaskArtifactUpdateEvent as V1ArtifactUpdate,
  TaskStatusUpdateEvent as V1StatusUpdate,
  Task as V1Task,
} from "@a2a-js/sdk";
import { duplicateInterfacesForLegacy } from "@a2a-js/sdk/compat/v0_3";
import {
  AgentEvent,
  type ExecutionEventBus as V1Bus,
  type AgentExecutor as V1Executor,
  type RequestContext as V1RequestContext,
  DefaultRequestHandler as V1RequestHandler,
  InMemoryTaskStore as V1TaskStore,
} from "@a2a-js/sdk/server";
import {
  UserBuilder as V1UserBuilder,
  agentCardHandler as v1CardHandler,
  jsonRpcHandler as v1JsonRpcHandler,
} from "@a2a-js/sdk/server/express";
import type { AgentCard as V03AgentCard, Part as V03Part } from "a2a-sdk-v03";
import {
  type ExecutionEventBus as V03Bus,
  type AgentExecutor as V03Executor,
  type RequestContext as V03RequestContext,
  DefaultRequestHandler as V03RequestHandler,
  InMemoryTaskStore as V03TaskStore,
} from "a2a-sdk-v03/server";
import {
  UserBuilder as V03UserBuilder,
  agentCardHandler as v03CardHandler,
  jsonRpcHandler as v03JsonRpcHandler,
} from "a2a-sdk-v03/server/express";
import express from "express";
import { analyseCard, type CardInfo } from "../../src/a2a/card.ts";
import { A2AClient } from "../../src/a2a/client.ts";
import { HttpTransport } from "../../src/agents/transports/http.ts";

export type TestAgentBehaviour =
  | "echo"
  | "chunks"
  | "input-required"
  | "fail"
  | "slow"
  /** Two named artifacts (code with its trailing newline; data and a file) and a closing status message. */
  | "structured"
  /** Streams chunks, then the whole text again with `append: false` (replace). */
  | "replace"
  /** `answerBytes` of text in `chunkBytes` chunks (one artifact). */
  | "big"
  /** Asks with a text and a data part (tool, arguments, expected schema) and interaction metadata. */
  | "question-data"
  | "reject";

export interface TestAgentOptions {
  dialect: "1.0" | "0.3" | "dual";
  streaming: boolean;
  behaviour: TestAgentBehaviour;
  name?: string;
  /** chunks: how many artifact chunks (default 5). */
  chunkCount?: number;
  /** slow: how long to work before answering (default 30 s); chunks: pause between chunks. */
  delayMs?: number;
  /** Answer a blocking send at once with the running task (as some agents do): clients must poll. */
  ignoreBlocking?: boolean;
  /** big: total answer size and chunk size (characters; default 1 MiB in 64 KiB chunks). */
  answerBytes?: number;
  chunkBytes?: number;
  /** Replace the card the agent serves (e.g. a v1 card in front of a v0.3-only server). */
  card?: (card: Record<string, unknown>, rpcUrl: string) => Record<string, unknown>;
}

export interface TestAgent {
  /** Base URL (the card is at `/.well-known/agent-card.json` under it). */
  url: string;
  cardUrl: string;
  /** The JSON-RPC endpoint named in the card. */
  rpcUrl: string;
  close(): Promise<void>;
  /** Task ids the agent was asked to cancel (and did). */
  cancels: string[];
  /** `params.message` of every send/stream request, as it arrived on the wire. */
  received: unknown[];
  /** Every JSON-RPC call: method and the `A2A-Version` header it carried. */
  calls: Array<{ method: string; version: string | null }>;
}

type State =
  | "submitted"
  | "working"
  | "input-required"
  | "completed"
  | "failed"
  | "canceled"
  | "rejected";
/** A part in neither dialect: text, data, or a file with inline bytes. */
export type ScriptPart =
  | { text: string }
  | { data: Record<string, unknown> }
  | { file: { name: string; mimeType: string; bytes: string } };
type Step =
  | {
      kind: "status";
      state: State;
      text?: string;
      parts?: ScriptPart[];
      metadata?: Record<string, unknown>;
    }
  | {
      kind: "artifact";
      artifactId: string;
      name?: string;
      text: string;
      parts?: ScriptPart[];
      append: boolean;
      lastChunk: boolean;
    };

/** The structured answer: what "structured" sends, for tests to compare with. */
export const STRUCTURED = {
  code: "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
  data: { rows: 3, ok: true },
  file: {
    name: "notes.txt",
    mimeType: "text/plain",
    bytes: Buffer.from("notes\n").toString("base64"),
  },
  closing: "Generated files: fib.py, report",
};
/** The artifacts the room holds for "structured" (the closing message is the hub's `<id>-status`). */
export function structuredArtifacts(agentMessageId: string) {
  return [
    { artifactId: "code", name: "fib.py", parts: [{ kind: "text", text: STRUCTURED.code }] },
    {
      artifactId: "report",
      name: "report",
      parts: [
        { kind: "data", data: STRUCTURED.data },
        { kind: "text", text: "see the file" },
        { kind: "file", file: STRUCTURED.file },
      ],
    },
    {
      artifactId: `${agentMessageId}-status`,
      name: "status",
      parts: [{ kind: "text", text: STRUCTURED.closing }],
    },
  ];
}
export const QUESTION_DATA = {
  text: "Run this tool?",
  data: { tool: "delete_file", args: { path: "/tmp/x" }, schema: { type: "boolean" } },
  metadata: { "hybro.ai/a2a/interaction": { kind: "confirm" } },
};

/** The big answer "big" streams: `bytes` characters, the same for every call. */
export function bigAnswer(bytes: number): string {
  const line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ é€𝄞\n";
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
}

const QUESTION = "What is your name?";

/** The behaviour, in dialect-free steps. `followUp` is a message to a task waiting for input. */
async function* script(
  options: TestAgentOptions,
  text: string,
  followUp: boolean,
  signal: AbortSignal,
): AsyncGenerator<Step> {
  switch (options.behaviour) {
    case "echo":
      yield { kind: "status", state: "working" };
      yield art("answer", `echo: ${text}`);
      yield { kind: "status", state: "completed" };
      return;
    case "chunks": {
      const count = options.chunkCount ?? 5;
      yield { kind: "status", state: "working" };
      for (let i = 0; i < count; i++) {
        if (options.delayMs && i > 0) await sleep(options.delayMs, signal);
        if (signal.aborted) return;
        yield {
          kind: "artifact",
          artifactId: "answer",
          text: `chunk ${i} `,
          append: i > 0,
          lastChunk: i === count - 1,
        };
      }
      yield { kind: "status", state: "completed" };
      return;
    }
    case "input-required":
      if (!followUp) {
        yield { kind: "status", state: "input-required", text: QUESTION };
        return;
      }
      yield { kind: "status", state: "working" };
      yield art("answer", `hello, ${text}`);
      yield { kind: "status", state: "completed" };
      return;
    case "fail":
      yield { kind: "status", state: "working" };
      yield { kind: "status", state: "failed", text: `agent failed on purpose: ${text}` };
      return;
    case "slow":
      yield { kind: "status", state: "working" };
      await sleep(options.delayMs ?? 30_000, signal);
      if (signal.aborted) return;
      yield art("answer", `slow: ${text}`);
      yield { kind: "status", state: "completed" };
      return;
    case "structured":
      yield { kind: "status", state: "working" };
      yield {
        kind: "artifact",
        artifactId: "code",
        name: "fib.py",
        text: STRUCTURED.code,
        append: false,
        lastChunk: true,
      };
      yield {
        kind: "artifact",
        artifactId: "report",
        name: "report",
        text: "",
        parts: [{ data: STRUCTURED.data }, { text: "see the file" }, { file: STRUCTURED.file }],
        append: false,
        lastChunk: true,
      };
      yield { kind: "status", state: "completed", text: STRUCTURED.closing };
      return;
    case "replace": {
      yield { kind: "status", state: "working" };
      const words = ["Par", "tial ", "answer"];
      for (const [i, word] of words.entries()) {
        yield {
          kind: "artifact",
          artifactId: "answer",
          text: word,
          append: i > 0,
          lastChunk: false,
        };
      }
      yield art("answer", "The whole answer, replaced.");
      yield { kind: "status", state: "completed" };
      return;
    }
    case "big": {
      const answer = bigAnswer(options.answerBytes ?? 1024 * 1024);
      const size = options.chunkBytes ?? 64 * 1024;
      yield { kind: "status", state: "working" };
      for (let at = 0, i = 0; at < answer.length; at += size, i++) {
        if (signal.aborted) return;
        yield {
          kind: "artifact",
          artifactId: "big",
          name: "big.txt",
          text: answer.slice(at, at + size),
          append: i > 0,
          lastChunk: at + size >= answer.length,
        };
      }
      yield { kind: "status", state: "completed" };
      return;
    }
    case "question-data":
      if (!followUp) {
        yield {
          kind: "status",
          state: "input-required",
          parts: [{ text: QUESTION_DATA.text }, { data: QUESTION_DATA.data }],
          metadata: QUESTION_DATA.metadata,
        };
        return;
      }
      yield { kind: "status", state: "working" };
      yield art("answer", `confirmed: ${text}`);
      yield { kind: "status", state: "completed" };
      return;
    case "reject":
      yield { kind: "status", state: "rejected", text: "I do not do that." };
      return;
  }
}

/** A step's parts (its text alone when it names none). */
function stepParts(step: { text?: string; parts?: ScriptPart[] }): ScriptPart[] {
  if (step.parts) return step.parts;
  return step.text !== undefined && step.text !== "" ? [{ text: step.text }] : [];
}

function v1Part(part: ScriptPart): Record<string, unknown> {
  if ("text" in part) return { text: part.text };
  if ("data" in part) return { data: part.data };
  return { raw: part.file.bytes, filename: part.file.name, mediaType: part.file.mimeType };
}

function v03Part(part: ScriptPart): Record<string, unknown> {
  if ("text" in part) return { kind: "text", text: part.text };
  if ("data" in part) return { kind: "data", data: part.data };
  return { kind: "file", file: { ...part.file } };
}

function art(artifactId: string, text: string): Step {
  return { kind: "artifact", artifactId, text, append: false, lastChunk: true };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

const TERMINAL_OR_INTERRUPTED = new Set<State>([
  "input-required",
  "completed",
  "failed",
  "canceled",
  "rejected",
]);

// ---------------------------------------------------------------------------------------------
// v1.0 adapter (@a2a-js/sdk 1.x; its events are ts-proto objects, built here from v1 JSON)

function v1State(state: State): string {
  return `TASK_STATE_${state.toUpperCase().replace("-", "_")}`;
}

function v1Message(
  parts: ScriptPart[],
  taskId: string,
  contextId: string,
  metadata?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    role: "ROLE_AGENT",
    messageId: randomUUID(),
    taskId,
    contextId,
    parts: parts.map(v1Part),
    ...(metadata ? { metadata } : {}),
  };
}

class V1ScriptExecutor implements V1Executor {
  readonly #options: TestAgentOptions;
  readonly #cancels: string[];
  readonly #running = new Map<string, AbortController>();

  constructor(options: TestAgentOptions, cancels: string[]) {
    this.#options = options;
    this.#cancels = cancels;
  }

  async execute(ctx: V1RequestContext, bus: V1Bus): Promise<void> {
    const { taskId, contextId } = ctx;
    const text = ctx.userMessage.parts
      .map((p) => (p.content?.$case === "text" ? p.content.value : ""))
      .join("");
    const followUp = ctx.task !== undefined;
    const abort = new AbortController();
    this.#running.set(taskId, abort);
    try {
      bus.publish(
        AgentEvent.task(
          V1Task.fromJSON({
            id: taskId,
            contextId,
            status: { state: v1State(followUp ? "working" : "submitted") },
          }),
        ),
      );
      for await (const step of script(this.#options, text, followUp, abort.signal)) {
        if (abort.signal.aborted) return;
        if (step.kind === "artifact") {
          bus.publish(
            AgentEvent.artifactUpdate(
              V1ArtifactUpdate.fromJSON({
                taskId,
                contextId,
                artifact: {
                  artifactId: step.artifactId,
                  ...(step.name ? { name: step.name } : {}),
                  parts: stepParts(step).map(v1Part),
                },
                append: step.append,
                lastChunk: step.lastChunk,
              }),
            ),
          );
        } else {
          bus.publish(
            AgentEvent.statusUpdate(
              V1StatusUpdate.fromJSON({
                taskId,
                contextId,
                status: {
                  state: v1State(step.state),
                  message:
                    stepParts(step).length > 0
                      ? v1Message(stepParts(step), taskId, contextId, step.metadata)
                      : undefined,
                  timestamp: new Date().toISOString(),
                },
              }),
            ),
          );
        }
      }
    } finally {
      this.#running.delete(taskId);
    }
  }

  async cancelTask(taskId: string, bus: V1Bus): Promise<void> {
    this.#cancels.push(taskId);
    this.#running.get(taskId)?.abort();
    bus.publish(
      AgentEvent.statusUpdate(
        V1StatusUpdate.fromJSON({
          taskId,
          status: { state: v1State("canceled"), timestamp: new Date().toISOString() },
        }),
      ),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// v0.3 adapter (a2a-sdk-v03; plain `kind`-tagged JSON, `final` on status updates)

class V03ScriptExecutor implements V03Executor {
  readonly #options: TestAgentOptions;
  readonly #cancels: string[];
  readonly #running = new Map<string, { abort: AbortController; contextId: string }>();

  constructor(options: TestAgentOptions, cancels: string[]) {
    this.#options = options;
    this.#cancels = cancels;
  }

  async execute(ctx: V03RequestContext, bus: V03Bus): Promise<void> {
    const { taskId, contextId } = ctx;
    const text = ctx.userMessage.parts.map((p) => (p.kind === "text" ? p.text : "")).join("");
    const followUp = ctx.task !== undefined;
    const abort = new AbortController();
    this.#running.set(taskId, { abort, contextId });
    try {
      bus.publish({
        kind: "task",
        id: taskId,
        contextId,
        status: { state: followUp ? "working" : "submitted" },
        history: [ctx.userMessage],
      });
      for await (const step of script(this.#options, text, followUp, abort.signal)) {
        if (abort.signal.aborted) return;
        if (step.kind === "artifact") {
          bus.publish({
            kind: "artifact-update",
            taskId,
            contextId,
            artifact: {
              artifactId: step.artifactId,
              ...(step.name ? { name: step.name } : {}),
              parts: stepParts(step).map(v03Part) as unknown as V03Part[],
            },
            append: step.append,
            lastChunk: step.lastChunk,
          });
        } else {
          bus.publish({
            kind: "status-update",
            taskId,
            contextId,
            status: {
              state: step.state,
              ...(stepParts(step).length > 0
                ? {
                    message: {
                      kind: "message",
                      role: "agent",
                      messageId: randomUUID(),
                      taskId,
                      contextId,
                      parts: stepParts(step).map(v03Part) as unknown as V03Part[],
                      ...(step.metadata ? { metadata: step.metadata } : {}),
                    },
                  }
                : {}),
              timestamp: new Date().toISOString(),
            },
            final: TERMINAL_OR_INTERRUPTED.has(step.state),
          });
        }
      }
    } finally {
      this.#running.delete(taskId);
      bus.finished();
    }
  }

  async cancelTask(taskId: string, bus: V03Bus): Promise<void> {
    this.#cancels.push(taskId);
    const running = this.#running.get(taskId);
    running?.abort.abort();
    bus.publish({
      kind: "status-update",
      taskId,
      contextId: running?.contextId ?? "",
      status: { state: "canceled", timestamp: new Date().toISOString() },
      final: true,
    });
  }
}

// ---------------------------------------------------------------------------------------------

const RPC_PATH = "/rpc";

/** Starts one agent on 127.0.0.1 (port 0). Cheap: one express app and one HTTP server. */
export async function startTestAgent(options: TestAgentOptions): Promise<TestAgent> {
  const app = express();
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, "127.0.0.1", (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  server.keepAliveTimeout = 5_000;
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const rpcUrl = `${url}${RPC_PATH}`;
  const cancels: string[] = [];
  const received: unknown[] = [];
  const calls: Array<{ method: string; version: string | null }> = [];
  const name = options.name ?? `test-${options.behaviour}-${options.dialect}`;
  const skills = [
    {
      id: options.behaviour,
      name: options.behaviour,
      description: `behaves as ${options.behaviour}`,
      tags: ["test", options.behaviour],
    },
  ];

  // Record what arrives before the SDK sees it (the SDK skips re-parsing a parsed body).
  app.use(RPC_PATH, express.json({ limit: "4mb" }), (req, _res, next) => {
    const body = req.body as { method?: unknown; params?: { message?: unknown } } | undefined;
    if (body && typeof body.method === "string") {
      calls.push({ method: body.method, version: req.header("a2a-version") ?? null });
      if (/^(SendMessage|SendStreamingMessage|message\/send|message\/stream)$/.test(body.method)) {
        received.push(body.params?.message);
      }
      if (
        options.ignoreBlocking &&
        body.params &&
        /^(SendMessage|message\/send)$/.test(body.method)
      ) {
        (body.params as Record<string, unknown>)["configuration"] = {
          blocking: false,
          returnImmediately: true,
        };
      }
    }
    next();
  });

  if (options.dialect === "0.3") {
    let card: Record<string, unknown> = {
      protocolVersion: "0.3.0",
      name,
      description: `A ${options.behaviour} test agent (v0.3)`,
      url: rpcUrl,
      preferredTransport: "JSONRPC",
      version: "1.0.0",
      capabilities: { streaming: options.streaming, pushNotifications: false },
      defaultInputModes: ["text/plain"],
      defaultOutputModes: ["text/plain"],
      skills,
    };
    if (options.card) card = options.card(card, rpcUrl);
    const handler = new V03RequestHandler(
      card as unknown as V03AgentCard,
      new V03TaskStore(),
      new V03ScriptExecutor(options, cancels),
    );
    const served = card;
    app.use(
      "/.well-known/agent-card.json",
      v03CardHandler({ agentCardProvider: async () => served as unknown as V03AgentCard }),
    );
    app.use(
      RPC_PATH,
      v03JsonRpcHandler({ requestHandler: handler, userBuilder: V03UserBuilder.noAuthentication }),
    );
  } else {
    const dual = options.dialect === "dual";
    const primary = [{ url: rpcUrl, protocolBinding: "JSONRPC", protocolVersion: "1.0" }];
    const cardJson: Record<string, unknown> = {
      name,
      description: `A ${options.behaviour} test agent (v1.0${dual ? " + v0.3" : ""})`,
      supportedInterfaces: dual
        ? duplicateInterfacesForLegacy(
            primary.map((i) => ({ ...i, tenant: "" })),
            ["JSONRPC"],
          )
        : primary,
      version: "1.0.0",
      capabilities: { streaming: options.streaming, pushNotifications: false },
      defaultInputModes: ["text/plain"],
      defaultOutputModes: ["text/plain"],
      skills,
    };
    const sdkCard = V1AgentCard.fromJSON(cardJson);
    const handler = new V1RequestHandler(
      sdkCard,
      new V1TaskStore(),
      new V1ScriptExecutor(options, cancels),
    );
    const legacyCompat = { enabled: dual };
    if (options.card) {
      const custom = options.card(V1AgentCard.toJSON(sdkCard) as Record<string, unknown>, rpcUrl);
      app.get("/.well-known/agent-card.json", (_req, res) => {
        res.json(custom);
      });
    } else {
      app.use(
        "/.well-known/agent-card.json",
        v1CardHandler({ agentCardProvider: handler, legacyCompat }),
      );
    }
    app.use(
      RPC_PATH,
      v1JsonRpcHandler({
        requestHandler: handler,
        userBuilder: V1UserBuilder.noAuthentication,
        legacyCompat,
      }),
    );
  }

  let closed: Promise<void> | null = null;
  return {
    url,
    cardUrl: `${url}/.well-known/agent-card.json`,
    rpcUrl,
    cancels,
    received,
    calls,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A client wired the way the registry wires one: card → analysis → endpoints → dialects.

export interface ConnectedClient {
  client: A2AClient;
  transport: HttpTransport;
  card: CardInfo;
}

export async function connectTestClient(
  agent: Pick<TestAgent, "url">,
  options: { fallback?: boolean } = {},
): Promise<ConnectedClient> {
  const transport = new HttpTransport({ baseUrl: agent.url });
  const raw = await transport.fetchCard(AbortSignal.timeout(5_000));
  const analysis = analyseCard(raw, { baseUrl: agent.url });
  if (!analysis.ok) {
    await transport.close();
    throw new Error(analysis.error);
  }
  const card = analysis.card;
  const fallback = options.fallback === false ? null : card.fallback;
  transport.useEndpoints({
    [card.primary.dialect]: card.primary.url,
    ...(fallback ? { [fallback.dialect]: fallback.url } : {}),
  });
  const client = new A2AClient({
    transport,
    primary: card.primary.dialect,
    fallback: fallback?.dialect ?? null,
    tenant: card.primary.tenant ?? null,
  });
  return { client, transport, card };
}
