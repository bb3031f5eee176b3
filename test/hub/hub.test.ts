// The Hub on its own: a fake roster of in-memory agents and a sink that records what is published.
// No network, no processes: each agent's stream is a queue the test feeds, so every step
// (running, queued, cancelled, drained) is reached by waiting on an event, never on time.
import { describe, expect, it } from "vitest";
import { A2AClient } from "../../src/a2a/client.ts";
import { Hub, type Roster, type RosterAgent } from "../../src/hub/hub.ts";
import { silentLogger } from "../../src/log/logger.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { parseRelayCommand } from "../../src/wire/relay-command.ts";

/** A command as the relay link hands it on: parsed at the edge. */
const handle = (hub: Hub, raw: Record<string, unknown>): void =>
  hub.handleCommand(parseRelayCommand(raw));

type AgentTransport = A2AClient["transport"];

/** One `message/stream` call on a fake agent: the test feeds its events and ends it. */
class StreamRun {
  readonly params: Record<string, unknown>;
  readonly signal: AbortSignal;
  readonly #queue: unknown[] = [];
  #wake: (() => void) | null = null;
  #ended = false;

  constructor(params: Record<string, unknown>, signal: AbortSignal) {
    this.params = params;
    this.signal = signal;
    signal.addEventListener("abort", () => this.#wake?.(), { once: true });
  }

  get text(): string {
    const message = this.params["message"] as { parts: Array<{ text?: string }> };
    return message.parts.map((p) => p.text ?? "").join("");
  }

  push(event: unknown): void {
    this.#queue.push(event);
    this.#wake?.();
  }

  /** A status update; a final one ends the stream. `text` becomes the status message. */
  status(taskId: string, state: string, final: boolean, text?: string): void {
    const message =
      text === undefined
        ? undefined
        : {
            kind: "message",
            role: "agent",
            messageId: `s-${state}`,
            parts: [{ kind: "text", text }],
          };
    this.push({
      kind: "status-update",
      taskId,
      contextId: "ctx",
      status: { state, message },
      final,
    });
    if (final) {
      this.#ended = true;
      this.#wake?.();
    }
  }
  working(taskId: string): void {
    this.status(taskId, "working", false);
  }
  complete(taskId: string, answer = "done"): void {
    this.push({
      kind: "artifact-update",
      taskId,
      contextId: "ctx",
      artifact: { artifactId: "a1", parts: [{ kind: "text", text: answer }] },
    });
    this.status(taskId, "completed", true);
  }
  fail(taskId: string): void {
    this.status(taskId, "failed", true, "no");
  }

  async *events(): AsyncGenerator<unknown> {
    for (;;) {
      if (this.signal.aborted) throw this.signal.reason;
      const next = this.#queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
  }
}

/** An in-memory A2A agent speaking v0.3 shapes: streams are driven by the test. */
class FakeAgent {
  readonly runs: StreamRun[] = [];
  readonly cancelled: string[] = [];
  readonly #started: Array<(run: StreamRun) => void> = [];

  readonly transport: AgentTransport = {
    kind: "stdio",
    call: async (method, params) => {
      const id = (params as { id: string }).id;
      if (method === "tasks/cancel") {
        this.cancelled.push(id);
        return { id, contextId: "ctx", kind: "task", status: { state: "canceled" } };
      }
      throw new Error(`unexpected call ${method}`);
    },
    stream: (_method, params, options) => {
      const run = new StreamRun(params as Record<string, unknown>, options.signal);
      this.runs.push(run);
      for (const notify of this.#started.splice(0)) notify(run);
      return run.events();
    },
    fetchCard: async () => null,
    close: async () => {},
  };

  /** Resolves with the `count`-th stream call (1-based) once it has started. */
  started(count: number): Promise<StreamRun> {
    const have = this.runs[count - 1];
    if (have) return Promise.resolve(have);
    return new Promise((resolve) => {
      const check = () => {
        const run = this.runs[count - 1];
        if (run) resolve(run);
        else this.#started.push(check);
      };
      this.#started.push(check);
    });
  }
}

class FakeRoster implements Roster {
  readonly agents = new Map<string, RosterAgent>();
  readonly unreachable: string[] = [];
  add(localAgentId: string, fake: FakeAgent, maxConcurrency = 4): void {
    this.agents.set(localAgentId, {
      localAgentId,
      name: `agent ${localAgentId}`,
      client: new A2AClient({ transport: fake.transport, primary: "0.3", fallback: null }),
      streaming: true,
      maxConcurrency,
    });
  }
  get(localAgentId: string): RosterAgent | undefined {
    return this.agents.get(localAgentId);
  }
  reportUnreachable(localAgentId: string): void {
    this.unreachable.push(localAgentId);
  }
}

/** Records every publish; `ended(id)` resolves with a turn's terminal group. */
class RecordingSink {
  readonly events: Array<{ roomId: string; event: PublishedEvent }> = [];
  readonly #waiters: Array<() => void> = [];
  publish(roomId: string, events: PublishedEvent[]): void {
    for (const event of events) this.events.push({ roomId, event });
    for (const wake of this.#waiters.splice(0)) wake();
  }
  of(agentMessageId: string): PublishedEvent[] {
    return this.events
      .filter((e) => e.event.agent_message_id === agentMessageId)
      .map((e) => e.event);
  }
  /** Resolves once the turn has published its `processing_status`. */
  async ended(agentMessageId: string): Promise<{ status: string; errorType: string | null }> {
    for (;;) {
      const events = this.of(agentMessageId);
      const status = events.find((e) => e.type === "processing_status");
      if (status && status.type === "processing_status") {
        const error = events.find((e) => e.type === "agent_error");
        return {
          status: String(status.data.status),
          errorType: error && error.type === "agent_error" ? String(error.data.error_type) : null,
        };
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

function setup(settings: { maxConcurrency?: number } = {}) {
  const roster = new FakeRoster();
  const a = new FakeAgent();
  const b = new FakeAgent();
  roster.add("agent-a", a, settings.maxConcurrency);
  roster.add("agent-b", b, settings.maxConcurrency);
  const sink = new RecordingSink();
  const hub = new Hub({ roster, sink, logger: silentLogger() });
  return { hub, roster, sink, a, b };
}

let seq = 0;
function userMessage(localAgentId: string, text: string, agentMessageId = `amsg-${++seq}`) {
  return {
    type: "user_message",
    room_id: "room-1",
    local_agent_id: localAgentId,
    agent_message_id: agentMessageId,
    user_message_id: `umsg-${seq}`,
    message: {
      kind: "message",
      role: "user",
      messageId: `m-${seq}`,
      parts: [{ kind: "text", text }],
    },
  };
}

/** Waits until the hub has learned the running turn's agent task id (it reached the sink). */
async function taskIdPublished(sink: RecordingSink, agentMessageId: string, taskId: string) {
  for (;;) {
    if (sink.of(agentMessageId).some((e) => JSON.stringify(e).includes(taskId))) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("Hub cancel_task", () => {
  it("cancels a running turn named by its agent_message_id", async () => {
    const { hub, sink, a } = setup();
    const command = userMessage("agent-a", "long job");
    handle(hub, command);
    const run = await a.started(1);
    run.working("task-1");
    await taskIdPublished(sink, command.agent_message_id, "task-1");

    handle(hub, {
      type: "cancel_task",
      local_agent_id: "agent-a",
      task_id: "",
      agent_message_id: command.agent_message_id,
    });
    // The abort reaches the agent's stream at once (no waiting for the turn to notice).
    expect(run.signal.aborted).toBe(true);
    expect(await sink.ended(command.agent_message_id)).toEqual({
      status: "canceled",
      errorType: "Canceled",
    });
    // The agent is told to stop its task too.
    expect(a.cancelled).toEqual(["task-1"]);
    expect(hub.countsFor("agent-a")).toMatchObject({ running: 0, queued: 0, failed: 1 });
  });

  it("cancels a running turn named only by the agent's task id", async () => {
    const { hub, sink, a } = setup();
    const other = userMessage("agent-a", "other job");
    const command = userMessage("agent-a", "long job");
    handle(hub, other);
    handle(hub, command);
    const first = await a.started(1);
    const second = await a.started(2);
    const [otherRun, run] = first.text === "other job" ? [first, second] : [second, first];
    otherRun.working("task-other");
    run.working("task-7");
    await taskIdPublished(sink, command.agent_message_id, "task-7");

    handle(hub, { type: "cancel_task", local_agent_id: "agent-a", task_id: "task-7" });
    // The running turn itself is aborted (not merely a tasks/cancel sent past it).
    expect(run.signal.aborted).toBe(true);
    expect(otherRun.signal.aborted).toBe(false);
    expect(await sink.ended(command.agent_message_id)).toEqual({
      status: "canceled",
      errorType: "Canceled",
    });
    otherRun.complete("task-other");
    expect((await sink.ended(other.agent_message_id)).status).toBe("completed");
  });

  it("cancels a running turn named by the hub's task id (what its first events carried)", async () => {
    const { hub, sink, a } = setup();
    const command = userMessage("agent-a", "long job");
    handle(hub, command);
    const run = await a.started(1);
    const submitted = sink.of(command.agent_message_id).find((e) => e.type === "task_submitted");
    const hubTaskId = String(submitted?.data.task_id);
    expect(hubTaskId).toMatch(/\S/);

    handle(hub, { type: "cancel_task", local_agent_id: "agent-a", task_id: hubTaskId });
    expect(run.signal.aborted).toBe(true);
    expect((await sink.ended(command.agent_message_id)).errorType).toBe("Canceled");
  });

  it("does not cancel another agent's turn with the same task id", async () => {
    const { hub, sink, a, b } = setup();
    const onB = userMessage("agent-b", "b job");
    handle(hub, onB);
    const runB = await b.started(1);
    runB.working("task-same");
    await taskIdPublished(sink, onB.agent_message_id, "task-same");

    handle(hub, { type: "cancel_task", local_agent_id: "agent-a", task_id: "task-same" });
    expect(runB.signal.aborted).toBe(false);
    // No turn of agent-a names it: the cancel goes to agent-a's own task, if any.
    await new Promise((resolve) => setImmediate(resolve));
    expect(a.cancelled).toEqual(["task-same"]);
    runB.complete("task-same");
    expect((await sink.ended(onB.agent_message_id)).status).toBe("completed");
  });

  it("cancels a queued turn before it starts, leaving the running one alone", async () => {
    const { hub, sink, a } = setup({ maxConcurrency: 1 });
    const running = userMessage("agent-a", "first");
    const queued = userMessage("agent-a", "second");
    handle(hub, running);
    handle(hub, queued);
    const run = await a.started(1);
    expect(hub.countsFor("agent-a")).toMatchObject({ running: 1, queued: 1 });

    handle(hub, {
      type: "cancel_task",
      local_agent_id: "agent-a",
      task_id: "",
      agent_message_id: queued.agent_message_id,
    });
    expect(await sink.ended(queued.agent_message_id)).toEqual({
      status: "failed",
      errorType: "Canceled",
    });
    const queuedEvents = sink.of(queued.agent_message_id);
    expect(JSON.stringify(queuedEvents)).toContain("before it started");
    expect(run.signal.aborted).toBe(false);
    expect(hub.countsFor("agent-a")).toMatchObject({ running: 1, queued: 0, failed: 1 });

    run.working("task-1");
    run.complete("task-1");
    expect((await sink.ended(running.agent_message_id)).status).toBe("completed");
    // The cancelled turn never reached the agent.
    expect(a.runs).toHaveLength(1);
    expect(hub.countsFor("agent-a")).toMatchObject({ running: 0, queued: 0, completed: 1 });
  });
});

describe("Hub per-agent counters and limits", () => {
  it("counts running, queued and each outcome for the agent that ran the turn", async () => {
    const { hub, sink, a, b } = setup({ maxConcurrency: 1 });
    const a1 = userMessage("agent-a", "a1");
    const a2 = userMessage("agent-a", "a2");
    const a3 = userMessage("agent-a", "a3");
    const b1 = userMessage("agent-b", "b1");
    for (const c of [a1, a2, a3, b1]) handle(hub, c);
    const runA1 = await a.started(1);
    const runB1 = await b.started(1);
    expect(hub.countsFor("agent-a")).toEqual({
      running: 1,
      queued: 2,
      completed: 0,
      failed: 0,
      inputRequired: 0,
    });
    expect(hub.countsFor("agent-b")).toEqual({
      running: 1,
      queued: 0,
      completed: 0,
      failed: 0,
      inputRequired: 0,
    });
    expect(hub.activeTurns).toBe(4);

    runA1.working("t-a1");
    runA1.complete("t-a1");
    const runA2 = await a.started(2);
    expect(runA2.text).toBe("a2"); // FIFO per agent
    runA2.working("t-a2");
    runA2.fail("t-a2");
    runB1.working("t-b1");
    runB1.fail("t-b1");
    const runA3 = await a.started(3);
    runA3.working("t-a3");
    runA3.status("t-a3", "input-required", true, "which?");
    for (const c of [a1, a2, a3, b1]) await sink.ended(c.agent_message_id);

    expect(hub.countsFor("agent-a")).toEqual({
      running: 0,
      queued: 0,
      completed: 1,
      failed: 1,
      inputRequired: 1,
    });
    expect(hub.countsFor("agent-b")).toEqual({
      running: 0,
      queued: 0,
      completed: 0,
      failed: 1,
      inputRequired: 0,
    });
    expect(hub.activeTurns).toBe(0);
  });

  it("answers a turn for an agent not in the roster with AgentNotFound, and a duplicate not at all", async () => {
    const { hub, sink } = setup();
    const command = userMessage("agent-gone", "hello");
    handle(hub, command);
    expect(await sink.ended(command.agent_message_id)).toEqual({
      status: "failed",
      errorType: "AgentNotFound",
    });
    const published = sink.events.length;
    handle(hub, command);
    expect(sink.events.length).toBe(published);
  });
});

describe("Hub drain", () => {
  it("lets running turns finish within the grace period and refuses new ones", async () => {
    const { hub, sink, a } = setup();
    const command = userMessage("agent-a", "finishing");
    handle(hub, command);
    const run = await a.started(1);
    const drained = hub.drain(600_000);
    const late = userMessage("agent-a", "too late");
    handle(hub, late);
    expect(await sink.ended(late.agent_message_id)).toEqual({
      status: "failed",
      errorType: "HubShutdown",
    });
    run.working("t1");
    run.complete("t1");
    expect(await drained).toMatchObject({ cancelled: 0, unsettled: 0 });
    expect((await sink.ended(command.agent_message_id)).status).toBe("completed");
    expect(a.runs).toHaveLength(1);
  });

  it("cancels running and queued turns after the grace period, each with its terminal group", async () => {
    const { hub, sink, a } = setup({ maxConcurrency: 1 });
    const running = userMessage("agent-a", "never ends");
    const queued = userMessage("agent-a", "waiting");
    handle(hub, running);
    handle(hub, queued);
    const run = await a.started(1);
    run.working("t-run");
    await taskIdPublished(sink, running.agent_message_id, "t-run");

    // The agent never finishes, so only the grace period can end these turns.
    expect(await hub.drain(1)).toMatchObject({ cancelled: 2, unsettled: 0 });
    expect(run.signal.aborted).toBe(true);
    expect(await sink.ended(running.agent_message_id)).toEqual({
      status: "failed",
      errorType: "HubShutdown",
    });
    expect(await sink.ended(queued.agent_message_id)).toEqual({
      status: "failed",
      errorType: "HubShutdown",
    });
    expect(JSON.stringify(sink.of(queued.agent_message_id))).toContain(
      "before this turn could start",
    );
    expect(a.runs).toHaveLength(1);
    expect(hub.activeTurns).toBe(0);
    expect(hub.countsFor("agent-a")).toMatchObject({ running: 0, queued: 0, failed: 2 });
  });
});
