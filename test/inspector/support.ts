// Helpers for the inspector tests: a fake clock, a scripted agent client, relay commands, and a
// turn run through the real turn machinery (runTurn + mapping) with the recorder's hooks called
// where the hub and the publisher call them.
import type { A2AMessage, A2AStreamEvent, A2ATask } from "../../src/a2a/model.ts";
import { runTurn } from "../../src/hub/turn.ts";
import { createInspector } from "../../src/inspector/index.ts";
import type { Recorder } from "../../src/inspector/recorder.ts";
import type { InspectorServerSettings } from "../../src/inspector/server.ts";
import { silentLogger } from "../../src/log/logger.ts";
import type { AgentCalls } from "../../src/observe/observer.ts";
import { ResponseSequence, stampEvent } from "../../src/outbox/response-seq.ts";
import type { Policy } from "../../src/privacy/policy.ts";
import { TurnGuard } from "../../src/privacy/turn-guard.ts";
import type { PublishedEvent, UserMessageCommand } from "../../src/wire/relay.ts";
import { startTestAgent } from "../support/a2a-agents.ts";
import { startStack } from "../support/stack.ts";

export function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

export function userMessage(id: string, text: string, agent = "local-1"): UserMessageCommand {
  return {
    type: "user_message",
    room_id: `room-${id}`,
    local_agent_id: agent,
    agent_message_id: id,
    user_message_id: `u-${id}`,
    message: {
      kind: "message",
      role: "user",
      messageId: `m-${id}`,
      parts: [{ kind: "text", text }],
    },
  };
}

export function agentMessage(text: string): A2AMessage {
  const wire = { kind: "message", role: "agent", messageId: "am", parts: [{ kind: "text", text }] };
  return {
    kind: "message",
    role: "agent",
    messageId: "am",
    parts: [{ text }],
    taskId: null,
    contextId: null,
    raw: wire,
    wire,
  };
}

export function completedTask(id: string, text: string): A2ATask {
  const wire = {
    kind: "task",
    id,
    contextId: "ctx",
    status: { state: "completed" },
    artifacts: [{ artifactId: "a1", parts: [{ kind: "text", text }] }],
  };
  return {
    kind: "task",
    id,
    contextId: "ctx",
    status: { state: "completed", message: null, timestamp: null },
    artifacts: [
      { artifactId: "a1", name: null, description: null, metadata: null, parts: [{ text }] },
    ],
    raw: wire,
    wire,
  };
}

/** A client whose send answers `answer` and whose stream yields `events`, in order. */
export function scriptedClient(options: {
  answer?: A2AMessage | A2ATask;
  events?: A2AStreamEvent[];
  fail?: Error;
}): AgentCalls {
  return {
    async send() {
      if (options.fail) throw options.fail;
      return options.answer ?? agentMessage("hello");
    },
    async *stream() {
      for (const event of options.events ?? []) yield event;
      if (options.fail) throw options.fail;
    },
    async getTask(taskId) {
      return completedTask(taskId, "polled");
    },
    async cancelTask() {},
  };
}

/** Stamps events as the publisher does (response_seq) and tells the recorder they are queued. */
export function publisherFor(recorder: Recorder, sequence = new ResponseSequence()) {
  const queued: PublishedEvent[] = [];
  return {
    queued,
    publish(roomId: string, events: PublishedEvent[]) {
      const stamped = events.map((event) => stampEvent(event, sequence));
      queued.push(...stamped);
      recorder.queued(
        roomId,
        stamped.map((event) => [event]),
      );
      return stamped;
    },
  };
}

/** One whole turn: command, agent call on `client`, events queued, then all acknowledged. */
export async function recordTurn(
  recorder: Recorder,
  command: UserMessageCommand,
  client: AgentCalls,
  options: { streaming?: boolean; ack?: boolean; publisher?: ReturnType<typeof publisherFor> } = {},
): Promise<PublishedEvent[]> {
  const publisher = options.publisher ?? publisherFor(recorder);
  recorder.command(command);
  const observed = {
    agentMessageId: command.agent_message_id,
    localAgentId: command.local_agent_id,
    agentName: "Echo",
  };
  const published: PublishedEvent[] = [];
  await runTurn(
    {
      agentMessageId: command.agent_message_id,
      localAgentId: command.local_agent_id,
      agentName: "Echo",
      userMessageId: command.user_message_id ?? null,
      hubTaskId: `hub-${command.agent_message_id}`,
      message: command.message,
      streaming: options.streaming ?? false,
    },
    recorder.turnClient(observed, client),
    (events) => {
      published.push(...publisher.publish(command.room_id, events));
    },
    { signal: new AbortController().signal },
  );
  if (options.ack !== false) recorder.acked(command.room_id, published);
  return published;
}

/**
 * A turn whose events go through the real privacy guard before they are queued, with the guard's
 * report given to the recorder, as the hub does on its publish path (src/privacy/outbound.ts).
 * Then all acknowledged.
 */
export async function recordGuardedTurn(
  recorder: Recorder,
  command: UserMessageCommand,
  client: AgentCalls,
  policy: Policy,
): Promise<PublishedEvent[]> {
  const guard = new TurnGuard(policy);
  const publisher = publisherFor(recorder);
  const published: PublishedEvent[] = [];
  recorder.command(command);
  const id = command.agent_message_id;
  await runTurn(
    {
      agentMessageId: id,
      localAgentId: command.local_agent_id,
      agentName: "Echo",
      userMessageId: command.user_message_id ?? null,
      hubTaskId: `hub-${id}`,
      message: command.message,
      streaming: false,
    },
    recorder.turnClient(
      { agentMessageId: id, localAgentId: command.local_agent_id, agentName: "Echo" },
      client,
    ),
    (events) => {
      for (const event of events) {
        const step = guard.inspect(event);
        recorder.guarded(id, step);
        published.push(
          ...publisher.publish(
            command.room_id,
            step.publish.map((p) => p.event),
          ),
        );
      }
    },
    { signal: new AbortController().signal },
  );
  recorder.acked(command.room_id, published);
  return published;
}

/** An echo agent (A2A 1.0, streaming) behind a real hub and the development relay, inspected. */
export async function inspectedEcho(server: Partial<InspectorServerSettings>) {
  const agent = await startTestAgent({
    dialect: "1.0",
    streaming: true,
    behaviour: "echo",
    name: "Echo",
  });
  const inspector = createInspector({
    address: { host: "127.0.0.1", port: 0 },
    logger: silentLogger(),
    server,
  });
  const stack = await startStack({
    agents: [{ name: "Echo", url: agent.url }],
    observer: inspector.recorder,
  });
  const url = await inspector.attach(stack.daemon);
  return { agent, inspector, stack, url };
}
