#!/usr/bin/env node
// A complete stdio agent for hybro-hub, in plain Node (no dependencies). Copy it to start your own.
//
// The convention (README "Writing a stdio agent"): one JSON-RPC 2.0 message per line on
// stdin/stdout, logs on stderr only. It answers every message with "echo: <text>", in both
// A2A dialects:
//   v0.3: agent/getCard, message/send, message/stream, tasks/get, tasks/cancel
//   v1.0: SendMessage, SendStreamingMessage, GetTask, CancelTask
//   both: the $/cancelRequest notification (stop a request that has no task yet)
// Streams send each event as a `stream/event` notification and end with a response (result null).
// It exits when stdin closes (the hub stopped, or died).
//
// Options (environment, set them in the agents.json entry's "env"):
//   ECHO_DELAY_MS  pause between streamed words, also applied per word to blocking answers (0)
//   ECHO_NAME      the name on its card ("Echo (stdio)")
//   ECHO_A2A       card shape: "0.3" (default) or "1.0"
//
// agents.json:  { "name": "Echo", "command": "node", "args": ["examples/echo-stdio-agent.mjs"] }

import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";

const DELAY_MS = Number(process.env.ECHO_DELAY_MS ?? 0) || 0;
const NAME = process.env.ECHO_NAME || "Echo (stdio)";
const CARD_DIALECT = process.env.ECHO_A2A === "1.0" ? "1.0" : "0.3";

// ---- Wire: one JSON object per line -------------------------------------------------------

function send(message) {
  // JSON.stringify never emits a raw newline, so one message is exactly one line.
  process.stdout.write(`${JSON.stringify(message)}\n`);
}
const respond = (id, result) => send({ jsonrpc: "2.0", id, result });
const fail = (id, code, message) => send({ jsonrpc: "2.0", id, error: { code, message } });
const streamEvent = (requestId, event) =>
  send({ jsonrpc: "2.0", method: "stream/event", params: { requestId, event } });
const log = (...words) => process.stderr.write(`[echo] ${words.join(" ")}\n`);

// ---- Tasks, kept in one neutral shape and rendered per dialect ----------------------------

/** @type {Map<string, {id: string, contextId: string, state: string, text: string, answer: string, abort: AbortController}>} */
const tasks = new Map();
/** JSON-RPC request id -> task id, for $/cancelRequest. */
const requests = new Map();
const TERMINAL = new Set(["completed", "canceled", "failed", "rejected"]);

function v03Task(task) {
  return {
    kind: "task",
    id: task.id,
    contextId: task.contextId,
    status: { state: task.state, timestamp: new Date().toISOString() },
    artifacts: task.state === "completed" ? [v03Artifact(task, task.answer)] : [],
  };
}
function v03Artifact(task, text) {
  return { artifactId: `${task.id}-answer`, name: "echo", parts: [{ kind: "text", text }] };
}
function v1Task(task) {
  return {
    id: task.id,
    contextId: task.contextId,
    status: {
      state: `TASK_STATE_${task.state.toUpperCase().replace("-", "_")}`,
      timestamp: new Date().toISOString(),
    },
    artifacts: task.state === "completed" ? [v1Artifact(task, task.answer)] : [],
  };
}
function v1Artifact(task, text) {
  return { artifactId: `${task.id}-answer`, name: "echo", parts: [{ text }] };
}

/** The text parts of an incoming message, v0.3 (`{kind:"text", text}`) or v1 (`{text}`). */
function textOf(message) {
  const parts = Array.isArray(message?.parts) ? message.parts : [];
  return parts
    .filter((p) => typeof p?.text === "string")
    .map((p) => p.text)
    .join("\n");
}

function newTask(params) {
  const message = params?.message ?? {};
  const text = textOf(message);
  const task = {
    id: randomUUID(),
    contextId: message.contextId || randomUUID(),
    state: "submitted",
    text,
    answer: `echo: ${text}`,
    abort: new AbortController(),
  };
  tasks.set(task.id, task);
  if (tasks.size > 1000) tasks.delete(tasks.keys().next().value); // keep memory bounded
  return task;
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });

/** The answer word by word ("echo: ", "hello ", "world"), each with its trailing space. */
const words = (text) => text.match(/\S+\s*/g) ?? [text];

// ---- Methods -------------------------------------------------------------------------------

function card() {
  const common = {
    name: NAME,
    description: "Answers every message with 'echo: <text>'; streams word by word.",
    version: "1.0.0",
    capabilities: { streaming: true, pushNotifications: false },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [{ id: "echo", name: "Echo", description: "Repeats your message", tags: ["echo"] }],
  };
  if (CARD_DIALECT === "1.0") {
    return {
      ...common,
      supportedInterfaces: [{ url: "stdio:", protocolBinding: "JSONRPC", protocolVersion: "1.0" }],
    };
  }
  return { ...common, protocolVersion: "0.3.0", url: "stdio:", preferredTransport: "JSONRPC" };
}

/** message/send and SendMessage: blocking unless the caller asks for an immediate return. */
async function sendMessage(id, params, v1) {
  const task = newTask(params);
  requests.set(id, task.id);
  const config = params?.configuration ?? {};
  const returnNow = v1 ? config.returnImmediately === true : config.blocking === false;
  const work = (async () => {
    task.state = "working";
    for (const _ of words(task.answer)) await sleep(DELAY_MS, task.abort.signal);
    if (task.state === "working") task.state = "completed";
  })();
  if (!returnNow) await work;
  requests.delete(id);
  const rendered = v1 ? v1Task(task) : v03Task(task);
  respond(id, v1 ? { task: rendered } : rendered);
}

/** message/stream and SendStreamingMessage: Task, working, the answer in chunks, completed. */
async function streamMessage(id, params, v1) {
  const task = newTask(params);
  requests.set(id, task.id);
  const { signal } = task.abort;
  const ids = { taskId: task.id, contextId: task.contextId };
  const status = (state) =>
    v1
      ? { statusUpdate: { ...ids, status: v1Task({ ...task, state }).status } }
      : { kind: "status-update", ...ids, status: { state }, final: TERMINAL.has(state) };

  streamEvent(id, v1 ? { task: v1Task(task) } : v03Task(task));
  task.state = "working";
  streamEvent(id, status("working"));
  const chunks = words(task.answer);
  for (const [i, chunk] of chunks.entries()) {
    await sleep(DELAY_MS, signal);
    if (signal.aborted) break;
    const last = i === chunks.length - 1;
    const artifact = v1 ? v1Artifact(task, chunk) : v03Artifact(task, chunk);
    const update = { ...ids, artifact, append: i > 0, lastChunk: last };
    streamEvent(id, v1 ? { artifactUpdate: update } : { kind: "artifact-update", ...update });
  }
  if (task.state === "working") task.state = "completed";
  streamEvent(id, status(task.state));
  requests.delete(id);
  respond(id, null); // the stream is over; the result may also repeat the last event
}

function getTask(id, params, v1) {
  const task = tasks.get(params?.id);
  if (!task) return fail(id, -32001, `task not found: ${params?.id}`);
  respond(id, v1 ? v1Task(task) : v03Task(task));
}

function cancelTask(id, params, v1) {
  const task = tasks.get(params?.id);
  if (!task) return fail(id, -32001, `task not found: ${params?.id}`);
  if (TERMINAL.has(task.state)) return fail(id, -32002, `task is ${task.state}`);
  task.state = "canceled";
  task.abort.abort();
  respond(id, v1 ? v1Task(task) : v03Task(task));
}

/** $/cancelRequest: the hub gave up on request `params.id`; stop its work, send nothing back. */
function cancelRequest(params) {
  const task = tasks.get(requests.get(params?.id));
  if (task && !TERMINAL.has(task.state)) {
    task.state = "canceled";
    task.abort.abort();
  }
  log(`request ${params?.id} cancelled by the hub`);
}

const methods = {
  "agent/getCard": (id) => respond(id, card()),
  "message/send": (id, p) => sendMessage(id, p, false),
  "message/stream": (id, p) => streamMessage(id, p, false),
  "tasks/get": (id, p) => getTask(id, p, false),
  "tasks/cancel": (id, p) => cancelTask(id, p, false),
  SendMessage: (id, p) => sendMessage(id, p, true),
  SendStreamingMessage: (id, p) => streamMessage(id, p, true),
  GetTask: (id, p) => getTask(id, p, true),
  CancelTask: (id, p) => cancelTask(id, p, true),
};

// ---- Main loop: one line in, dispatch, never crash on bad input ---------------------------

const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
lines.on("line", (line) => {
  if (line.trim() === "") return;
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    return send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } });
  }
  const { id, method, params } = message ?? {};
  if (method === "$/cancelRequest") return cancelRequest(params);
  if (id === undefined || id === null) return; // another notification: nothing to do
  const handler = methods[method];
  if (!handler) return fail(id, -32601, `method not found: ${method}`);
  Promise.resolve()
    .then(() => handler(id, params))
    .catch((error) => fail(id, -32603, String(error?.message ?? error)));
});
// stdin closed: the hub is stopping (or gone). Stop all work and exit, so no orphan is left.
lines.on("close", () => {
  for (const task of tasks.values()) {
    if (!TERMINAL.has(task.state)) task.state = "canceled";
    task.abort.abort();
  }
  setImmediate(() => process.exit(0));
});
// The hub is gone and the pipe broke: nobody is listening any more.
process.stdout.on("error", () => process.exit(0));
log(`ready (pid ${process.pid})`);
