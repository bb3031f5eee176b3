// Hand-made mutations of the hub's core rules: each breaks one rule on purpose and names the
// focused tests that must then fail ("killed"). A mutation whose tests still pass ("survived")
// marks a rule no test guards. Run with `npm run test:mutations` (not part of `npm test`).
//
// A `search` must occur exactly once in its file: when the code it names has moved or changed,
// the run fails loudly for that mutation instead of reporting a silent survivor. Update the
// search (and replacement) then.

export interface Edit {
  file: string;
  search: string;
  replace: string;
}

export interface Mutation {
  name: string;
  /** The rule the mutation breaks, in one line. */
  rule: string;
  edits: Edit[];
  /** Test files (repo-relative) that must fail under the mutation. */
  tests: string[];
}

export const MUTATIONS: Mutation[] = [
  {
    name: "response-seq-not-monotonic",
    rule: "every published event gets a new, growing response_seq",
    edits: [
      {
        file: "src/outbox/response-seq.ts",
        search: "this.#next += 1;",
        replace: "this.#next += 0;",
      },
    ],
    tests: ["test/relay/response-seq.test.ts"],
  },
  {
    name: "response-seq-not-persisted",
    rule: "the response_seq high-water mark is saved before numbers above it are handed out",
    edits: [
      {
        file: "src/outbox/response-seq.ts",
        search: "this.#store?.save(this.#reserved);",
        replace: "void this.#reserved;",
      },
    ],
    tests: ["test/relay/response-seq.test.ts"],
  },
  {
    name: "dedupe-off",
    rule: "a redelivered user_message (same agent_message_id) is not run twice",
    edits: [
      {
        file: "src/outbox/accepted-turns.ts",
        search: "if (this.#turns.has(agentMessageId)) return false;",
        replace: "",
      },
    ],
    tests: ["test/hub/hub.test.ts", "test/outbox/accepted-turns.test.ts"],
  },
  {
    name: "stdio-no-backoff-reset-after-stable-run",
    rule: "a stdio agent that ran stably restarts after the base delay again (the one Backoff's stable-run rule)",
    edits: [
      {
        file: "src/async/backoff.ts",
        search:
          "    if (this.#clock.now() - startedAt < stableRunMs) return false;\n    this.reset();",
        replace: "    if (this.#clock.now() - startedAt < stableRunMs) return false;",
      },
    ],
    tests: ["test/transports/stdio-backoff.test.ts", "test/transports/stdio.test.ts"],
  },
  {
    name: "event-stream-no-backoff-reset",
    rule: "a healthy command-stream session resets the reconnect backoff",
    edits: [
      {
        file: "src/relay/event-stream.ts",
        search: "if (!backoff.runEnded() && this.sessionHealthy) backoff.reset();",
        replace: "",
      },
    ],
    tests: ["test/relay/event-stream.test.ts"],
  },
  {
    name: "per-agent-counters-swapped",
    rule: "a completed turn counts as completed, a failed one as failed",
    edits: [
      {
        file: "src/hub/hub.ts",
        search: 'if (outcome.status === "completed") counts.completed++;',
        replace: 'if (outcome.status === "completed") counts.failed++;',
      },
      {
        file: "src/hub/hub.ts",
        search: "else counts.failed++;",
        replace: "else counts.completed++;",
      },
    ],
    tests: ["test/hub/hub.test.ts", "test/e2e/hub.test.ts"],
  },
  {
    name: "per-agent-counters-shared",
    rule: "each agent has its own turn counters",
    edits: [
      {
        file: "src/hub/hub.ts",
        search: "const counts = this.countsFor(agent.localAgentId);\n    const slots",
        replace: 'const counts = this.countsFor("*");\n    const slots',
      },
    ],
    tests: ["test/hub/hub.test.ts", "test/e2e/hub.test.ts"],
  },
  {
    name: "non-final-status-urgent",
    rule: "only a final task_status (not a progress one) is sent without coalescing",
    edits: [
      {
        file: "src/relay/publisher.ts",
        search: 'if (event.type === "task_status") return event.data?.final === true;',
        replace: 'if (event.type === "task_status") return true;',
      },
    ],
    tests: ["test/relay/publisher.test.ts"],
  },
  {
    name: "task-follow-poll-interval-zero",
    rule: "a turn, and recovery after a restart, wait pollIntervalMs (growing) between tasks/get polls",
    edits: [
      {
        file: "src/hub/task-follow.ts",
        search: "intervalMs: options.intervalMs,",
        replace: "intervalMs: 0,",
      },
    ],
    tests: ["test/hub/turn.test.ts", "test/hub/recovery.test.ts", "test/hub/poll-pacing.test.ts"],
  },
  {
    name: "cancel-by-task-id-off",
    rule: "cancel_task naming a running turn's task id aborts that turn",
    edits: [
      {
        file: "src/hub/hub.ts",
        search: "(t.taskId === named || t.hubTaskId === named),",
        replace: "false,",
      },
    ],
    tests: ["test/hub/hub.test.ts", "test/e2e/hub.test.ts"],
  },
  {
    name: "cancel-by-message-id-off",
    rule: "cancel_task naming a turn's agent_message_id aborts that turn",
    edits: [
      {
        file: "src/hub/hub.ts",
        search: "? this.#turns.get(command.agent_message_id)",
        replace: "? undefined",
      },
    ],
    tests: ["test/hub/hub.test.ts", "test/e2e/hub.test.ts"],
  },
  {
    name: "agent-concurrency-limit-off",
    rule: "at most maxConcurrency turns run on one agent; the rest queue in order",
    edits: [
      {
        file: "src/hub/agent-slots.ts",
        search: "while (this.#running < this.#limit && this.#head < this.#queue.length) {",
        replace: "while (this.#head < this.#queue.length) {",
      },
    ],
    tests: ["test/hub/agent-slots.test.ts", "test/hub/hub.test.ts"],
  },
  {
    name: "publish-queue-limit-off",
    rule: "the publish queue drops new events beyond publishMaxQueuedEvents",
    edits: [
      {
        file: "src/relay/publisher.ts",
        search: "if (this.queue.depth() + events.length > this.settings.publishMaxQueuedEvents) {",
        replace: "if (false) {",
      },
    ],
    tests: ["test/relay/publisher.test.ts"],
  },
  {
    name: "sse-id-validation-off",
    rule: "only 1-256 visible ASCII characters are kept as Last-Event-ID",
    edits: [
      {
        file: "src/relay/event-id.ts",
        search: "return RESUMABLE.test(id);",
        replace: "return id.length > 0;",
      },
    ],
    tests: ["test/relay/event-id.test.ts", "test/relay/event-stream.test.ts"],
  },
  {
    name: "outbox-drops-newest-first",
    rule: "a full outbox drops whole turns, oldest first",
    edits: [
      {
        file: "src/outbox/durable-queue.ts",
        search:
          "let turn = this.#oldest;\n    while (turn && !this.#fits(events, bytes)) {\n      const next = turn.newer;",
        replace:
          "let turn = this.#newest;\n    while (turn && !this.#fits(events, bytes)) {\n      const next = turn.older;",
      },
    ],
    tests: ["test/outbox/durable-queue.test.ts"],
  },
  {
    name: "privacy-redact-off",
    rule: "a redact finding is replaced by its placeholder",
    edits: [
      {
        file: "src/privacy/redact.ts",
        search:
          "out += placeholders.for(region.decisive.label, text.slice(region.start, region.end));",
        replace: "out += text.slice(start, end);",
      },
    ],
    tests: ["test/privacy/stream.test.ts", "test/privacy/policy.test.ts"],
  },
  {
    name: "privacy-block-off",
    rule: "a block finding in streamed text withholds it",
    edits: [
      {
        file: "src/privacy/stream-text.ts",
        search: 'const block = applied.find((f) => f.action === "block") ?? null;',
        replace: "const block = null;",
      },
    ],
    tests: ["test/privacy/stream.test.ts", "test/privacy/policy.test.ts"],
  },
  {
    name: "event-split-reversed",
    rule: "an event split for size keeps its pieces in order",
    edits: [
      {
        file: "src/relay/event-split.ts",
        search: "return groups.map((parts, i) =>",
        replace: "return groups.reverse().map((parts, i) =>",
      },
    ],
    tests: ["test/relay/event-split.test.ts"],
  },
  {
    name: "roster-diff-replaces-in-place-changes",
    rule: "an agents.json edit of name, description or limits keeps the agent's transport",
    edits: [
      {
        file: "src/agents/roster-diff.ts",
        search: "} else if (transportKey(current.entry) === transportKey(entry)) {",
        replace: "} else if (false) {",
      },
    ],
    tests: ["test/agents/roster-diff.test.ts", "test/agents/registry.test.ts"],
  },
  {
    name: "card-projection-keeps-everything",
    rule: "the card synced to the relay holds only the fields it needs (no security schemes)",
    edits: [
      {
        file: "src/agents/agent-card.ts",
        search: "const card: Record<string, unknown> = {\n    name: agent.name,",
        replace: "const card: Record<string, unknown> = {\n    ...raw,\n    name: agent.name,",
      },
    ],
    tests: ["test/agents/registry.test.ts"],
  },
  {
    name: "card-url-keeps-query",
    rule: "the card URL synced to the relay carries no query (tokens) or user info",
    edits: [{ file: "src/agents/agent-card.ts", search: 'parsed.search = "";', replace: "" }],
    tests: ["test/agents/registry.test.ts"],
  },
  {
    name: "key-on-argv-accepted",
    rule: "no hub command takes the API key on its command line",
    edits: [
      {
        file: "src/cli/start.ts",
        search: "if (options.apiKey !== undefined) {",
        replace: "if (false) {",
      },
    ],
    tests: ["test/ops/key-argv.test.ts"],
  },
  {
    name: "child-inherits-key",
    rule: "an agent child process never inherits HYBRO_API_KEY",
    edits: [
      {
        file: "src/agents/transports/child-env.ts",
        search: 'const HUB_SECRET_NAMES: readonly string[] = ["HYBRO_API_KEY"];',
        replace: "const HUB_SECRET_NAMES: readonly string[] = [];",
      },
    ],
    tests: ["test/transports/child-env.test.ts"],
  },
];
