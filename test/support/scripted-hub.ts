// A "scripted hub" for tests: plays the hub's part against a real development relay with plain
// HTTP + SSE — registers, syncs one agent, reads the command stream and answers each
// `user_message`/`user_reply` by publishing relay events as a script says. No daemon, no agent.
import { randomBytes } from "node:crypto";
import { createParser } from "eventsource-parser";
import { Agent, request } from "undici";
import { localAgentIdForUrl } from "../../src/wire/agent-id.ts";
import type {
  CancelTaskCommand,
  PublishedEvent,
  RelayCommand,
  SyncAgent,
  SyncResponse,
  UserMessageCommand,
  UserReplyCommand,
} from "../../src/wire/relay.ts";

export const DEFAULT_COMMAND_WAIT_MS = 10_000;

/** One turn the relay asked for, with helpers that publish its events in order. */
export interface ScriptedTurn {
  command: UserMessageCommand | UserReplyCommand;
  /** The user's text (all text parts joined, or `reply_text`). */
  text: string;
  /** `message.contextId` (or the reply's `context_id`) as the hub received it. */
  contextId: string | null;
  /** The agent's task id this turn reports in `task_status`/`task_interactive` (made up here). */
  taskId: string;
  /** Aborted when a `cancel_task` for this turn arrives, or the hub closes. */
  signal: AbortSignal;
  /** Resolves with the `cancel_task` for this turn. */
  cancelled: Promise<CancelTaskCommand>;
  /** Publishes events as given; each gets the turn's task id (unless it names one) and a response_seq. */
  publish(...events: Array<Unstamped<PublishedEvent>>): Promise<void>;
  submitted(): Promise<void>;
  status(state: string, statusText?: string): Promise<void>;
  /** A streamed chunk (`artifact_update`, append). */
  chunk(text: string, last?: boolean): Promise<void>;
  respond(content: string): Promise<void>;
  complete(): Promise<void>;
  fail(error: string, errorType?: string): Promise<void>;
  askInput(statusText: string): Promise<void>;
}

export type TurnScript = (turn: ScriptedTurn) => Promise<void>;

/** An event before the hub stamps it: `data.task_id` may be left out. */
type Unstamped<E> = E extends { data: infer D }
  ? Omit<E, "data"> & { data: Omit<D, "task_id"> & { task_id?: string } }
  : never;

/** Non-streaming agent: answers `echo: <text> [context <contextId>]` in one `agent_response`. */
export const echoScript: TurnScript = async (turn) => {
  await turn.submitted();
  await turn.respond(`echo: ${turn.text} [context ${turn.contextId}]`);
  await turn.complete();
};

/** Streaming agent: one `artifact_update` per word of `echo: <text>`, then completed. */
export const streamingEchoScript: TurnScript = async (turn) => {
  await turn.submitted();
  await turn.status("working");
  const words = `echo: ${turn.text}`.split(" ");
  for (const [i, word] of words.entries()) {
    await turn.chunk(i === 0 ? word : ` ${word}`, i === words.length - 1);
  }
  await turn.complete();
};

/** Reports its task id, streams one chunk, then waits for `cancel_task` and ends as canceled. */
export const waitForCancelScript: TurnScript = async (turn) => {
  await turn.submitted();
  await turn.status("working");
  await turn.chunk("first chunk");
  await turn.cancelled;
  await turn.fail("canceled by the caller", "Canceled");
};

export interface ScriptedHubOptions {
  /** The relay base URL, e.g. `http://127.0.0.1:8787`. */
  relayUrl: string;
  /** A key with the `relay:hub` scope. */
  apiKey: string;
  script?: TurnScript;
  /** The synced agent (card fields); defaults to an "Echo Agent" with an `echo` skill. */
  agent?: { name?: string; description?: string; url?: string; tags?: string[] };
  hubId?: string;
}

export interface ScriptedHub {
  hubId: string;
  localAgentId: string;
  /** The gateway's id for the synced agent. */
  agentId: string;
  /** Every command received, in order (heartbeats left out). */
  commands: RelayCommand[];
  /** Resolves with the first command (past or future) of this type that `predicate` accepts. */
  waitForCommand<T extends RelayCommand["type"] & string>(
    type: T,
    predicate?: (command: Extract<RelayCommand, { type?: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<RelayCommand, { type?: T }>>;
  /** Errors a turn script threw (the test should assert this is empty). */
  scriptErrors: unknown[];
  close(): Promise<void>;
}

function textOf(message: Record<string, unknown>): string {
  const parts = Array.isArray(message.parts) ? message.parts : [];
  return parts
    .map((part) =>
      typeof part === "object" &&
      part !== null &&
      typeof (part as { text?: unknown }).text === "string"
        ? (part as { text: string }).text
        : "",
    )
    .join("");
}

export async function startScriptedHub(options: ScriptedHubOptions): Promise<ScriptedHub> {
  const base = `${options.relayUrl.replace(/\/+$/, "")}/api/v1/relay/hub`;
  const hubId = options.hubId ?? randomBytes(16).toString("hex");
  let nextResponseSeq = 0;
  const script = options.script ?? echoScript;
  const dispatcher = new Agent({ headersTimeout: 10_000, bodyTimeout: 0 });
  const headers = { "x-api-key": options.apiKey, "content-type": "application/json" };
  const closing = new AbortController();

  async function post(path: string, body: unknown): Promise<unknown> {
    const res = await request(`${base}${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      dispatcher,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) {
      throw new Error(`scripted hub: POST ${path} → ${res.statusCode} ${text}`);
    }
    return text === "" ? null : JSON.parse(text);
  }

  await post("/register", { hub_id: hubId });
  const agentUrl = options.agent?.url ?? `http://localhost:9/${hubId.slice(0, 8)}`;
  const localAgentId = localAgentIdForUrl(agentUrl);
  const name = options.agent?.name ?? "Echo Agent";
  const description = options.agent?.description ?? "Echoes what you say, for testing";
  const tags = options.agent?.tags ?? ["echo", "testing"];
  const syncAgent: SyncAgent = {
    local_agent_id: localAgentId,
    name,
    description,
    capabilities: ["streaming", ...tags],
    agent_card: {
      name,
      description,
      url: agentUrl,
      version: "1.0.0",
      protocolVersion: "0.3.0",
      capabilities: { streaming: true },
      defaultInputModes: ["text/plain"],
      defaultOutputModes: ["text/plain"],
      skills: [{ id: "echo", name: "echo", description, tags }],
    },
  };
  const synced = (await post(`/${hubId}/agents/sync`, {
    agents: [syncAgent],
    prune_missing: true,
  })) as SyncResponse;
  const agentId = synced.synced[0]?.agent_id;
  if (!agentId) throw new Error("scripted hub: the relay synced no agent");

  const commands: RelayCommand[] = [];
  const waiters = new Set<(command: RelayCommand) => void>();
  const cancelWaiters = new Map<string, (command: CancelTaskCommand) => void>();
  const running = new Set<Promise<void>>();
  const scriptErrors: unknown[] = [];
  let ready!: () => void;
  const connected = new Promise<void>((resolve) => {
    ready = resolve;
  });

  function startTurn(command: UserMessageCommand | UserReplyCommand): void {
    const taskId = `task-${command.agent_message_id}`;
    const cancel = new AbortController();
    const cancelled = new Promise<CancelTaskCommand>((resolve, reject) => {
      cancelWaiters.set(command.agent_message_id, (c) => {
        cancel.abort();
        resolve(c);
      });
      // A script waiting for a cancel that never comes must not hold close() up.
      closing.signal.addEventListener("abort", () => reject(new Error("scripted hub closed")), {
        once: true,
      });
    });
    cancelled.catch(() => {});
    const isReply = command.type === "user_reply";
    const contextId = isReply
      ? (command.context_id ?? null)
      : (((command as UserMessageCommand).message.contextId as string | undefined) ?? null);
    const text = isReply ? command.reply_text : textOf((command as UserMessageCommand).message);
    const userMessageId = isReply
      ? null
      : ((command as UserMessageCommand).user_message_id ?? null);
    const amid = command.agent_message_id;
    // As a hub does: each event's relay key (task_id, response_seq) is fixed here, once.
    const publish = async (...events: Array<Unstamped<PublishedEvent>>) => {
      const stamped = events.map((event) => ({
        ...event,
        data: { task_id: taskId, ...event.data, response_seq: nextResponseSeq++ },
      }));
      await post(`/${hubId}/publish`, { room_id: command.room_id, events: stamped });
    };
    const turn: ScriptedTurn = {
      command,
      text,
      contextId,
      taskId,
      signal: AbortSignal.any([cancel.signal, closing.signal]),
      cancelled,
      publish,
      submitted: () =>
        publish({
          type: "task_submitted",
          agent_message_id: amid,
          data: { task_id: taskId, agent_name: name },
        }),
      status: (state, statusText = "") =>
        publish({
          type: "task_status",
          agent_message_id: amid,
          data: {
            state,
            status_text: statusText,
            final: false,
            task_id: taskId,
            context_id: contextId,
          },
        }),
      chunk: (chunkText, last = false) =>
        publish({
          type: "artifact_update",
          agent_message_id: amid,
          data: {
            artifacts: [
              { artifactId: `${amid}-stream`, parts: [{ kind: "text", text: chunkText }] },
            ],
            append: true,
            last_chunk: last,
          },
        }),
      respond: (content) =>
        publish({
          type: "agent_response",
          agent_message_id: amid,
          data: { content, agent_id: localAgentId },
        }),
      complete: () =>
        publish({
          type: "processing_status",
          agent_message_id: amid,
          data: { status: "completed", user_message_id: userMessageId },
        }),
      fail: (error, errorType = "AgentTaskFailed") =>
        publish(
          {
            type: "agent_error",
            agent_message_id: amid,
            data: { error, error_type: errorType, state: "failed" },
          },
          {
            type: "processing_status",
            agent_message_id: amid,
            data: { status: "failed", user_message_id: userMessageId },
          },
        ),
      askInput: (statusText) =>
        publish(
          {
            type: "task_interactive",
            agent_message_id: amid,
            data: {
              state: "input-required",
              task_id: taskId,
              context_id: contextId,
              status: {
                state: "input-required",
                message: {
                  kind: "message",
                  role: "agent",
                  messageId: `${amid}-question`,
                  parts: [{ kind: "text", text: statusText }],
                },
              },
            },
          },
          {
            type: "processing_status",
            agent_message_id: amid,
            data: { status: "input_required", user_message_id: userMessageId },
          },
        ),
    };
    const run = script(turn)
      .catch((error: unknown) => {
        if (!closing.signal.aborted) scriptErrors.push(error);
      })
      .finally(() => {
        cancelWaiters.delete(amid);
        running.delete(run);
      });
    running.add(run);
  }

  function onCommand(command: RelayCommand): void {
    const type = command.type ?? "user_message";
    if (type === "heartbeat") return;
    commands.push(command);
    for (const waiter of waiters) waiter(command);
    if (type === "connection_ready") ready();
    else if (type === "user_message" || type === "user_reply") {
      startTurn(command as UserMessageCommand | UserReplyCommand);
    } else if (type === "cancel_task") {
      const cancelCommand = command as CancelTaskCommand;
      const amid = cancelCommand.agent_message_id ?? "";
      cancelWaiters.get(amid)?.(cancelCommand);
    }
  }

  const stream = await request(`${base}/${hubId}/events`, {
    method: "GET",
    headers: { "x-api-key": options.apiKey, accept: "text/event-stream" },
    dispatcher,
    signal: closing.signal,
  });
  if (stream.statusCode !== 200) {
    throw new Error(`scripted hub: events → ${stream.statusCode} ${await stream.body.text()}`);
  }
  const parser = createParser({
    onEvent: (event) => {
      try {
        onCommand(JSON.parse(event.data) as RelayCommand);
      } catch (error) {
        scriptErrors.push(error);
      }
    },
  });
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream.body)
        parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch {
      // Closed by close() or by the relay shutting down.
    }
  })();
  await connected;

  return {
    hubId,
    localAgentId,
    agentId,
    commands,
    scriptErrors,
    waitForCommand(type, predicate = () => true, timeoutMs = DEFAULT_COMMAND_WAIT_MS) {
      type Wanted = Extract<RelayCommand, { type?: typeof type }>;
      const matches = (command: RelayCommand): command is Wanted =>
        (command.type ?? "user_message") === type && predicate(command as Wanted);
      const seen = commands.find(matches);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`scripted hub: no "${type}" command within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (command: RelayCommand) => {
          if (!matches(command)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(command);
        };
        waiters.add(waiter);
      });
    },
    async close() {
      closing.abort();
      stream.body.destroy();
      await reading;
      await Promise.allSettled([...running]);
      await dispatcher.destroy();
    },
  };
}
