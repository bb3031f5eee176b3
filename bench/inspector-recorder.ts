// The local inspector's recorder alone, in one process (no sockets, no other process): the same
// turns run through the real turn machinery (runTurn + mapping + response_seq stamping) once on
// the null observer (inspector off) and once on a Recorder with the default privacy policy's
// redactor (inspector on). CPU time (process.cpuUsage) rather than wall time, so a loaded machine
// moves it less; figures are medians of alternating rounds. Also the heap the recorder keeps
// after a forced GC with its 200 turns, and one 1,000-chunk streamed turn's timeline.
//
//   node --expose-gc bench/inspector-recorder.ts      (ROUNDS=5 ECHO_TURNS=4000 by default)
import type { A2AMessage, A2AStreamEvent } from "../src/a2a/model.ts";
import { runTurn } from "../src/hub/turn.ts";
import { Recorder } from "../src/inspector/recorder.ts";
import { policyRedactor } from "../src/inspector/redactor.ts";
import { silentLogger } from "../src/log/logger.ts";
import { type AgentCalls, type HubObserver, NULL_OBSERVER } from "../src/observe/observer.ts";
import { ResponseSequence, stampEvent } from "../src/outbox/response-seq.ts";
import { compilePolicy } from "../src/privacy/policy.ts";
import { percentile, round } from "./stats.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ECHO_TURNS = Number(process.env.ECHO_TURNS ?? 4_000);
const CHUNKS = 1_000;
const maybeGc = (globalThis as { gc?: () => void }).gc;
if (!maybeGc) throw new Error("run with node --expose-gc");
const gc: () => void = maybeGc;

function answer(text: string): A2AMessage {
  const wire = {
    kind: "message",
    role: "agent",
    messageId: `m-${text}`,
    parts: [{ kind: "text", text }],
  };
  return {
    kind: "message",
    messageId: wire.messageId,
    role: "agent",
    contextId: null,
    taskId: null,
    parts: [{ text }],
    metadata: null,
    raw: wire,
    wire,
  } as unknown as A2AMessage;
}

function chunk(i: number, last: boolean): A2AStreamEvent {
  const text = `chunk ${i} of the answer, `;
  const wire = {
    kind: "artifact-update",
    taskId: "task-1",
    contextId: "ctx-1",
    artifact: { artifactId: "a", parts: [{ kind: "text", text }] },
    append: i > 0,
    lastChunk: last,
  };
  return {
    kind: "artifact-update",
    taskId: "task-1",
    contextId: "ctx-1",
    artifact: { artifactId: "a", name: null, description: null, metadata: null, parts: [{ text }] },
    append: i > 0,
    lastChunk: last,
    raw: wire,
    wire,
  } as unknown as A2AStreamEvent;
}

const logger = silentLogger();
const STREAM = Array.from({ length: CHUNKS }, (_, i) => chunk(i, i === CHUNKS - 1));

function client(): AgentCalls {
  return {
    async send(message) {
      const text =
        ((message as { parts?: unknown[] }).parts?.[0] as { text?: string } | undefined)?.text ??
        "";
      return answer(`echo: ${text}`);
    },
    async *stream() {
      yield* STREAM;
    },
    async getTask() {
      throw new Error("not used");
    },
    async cancelTask() {},
  };
}

/** One turn as the hub runs it: command, agent call, publish (stamped), acknowledgement. */
async function turn(observer: HubObserver, id: string, streaming: boolean): Promise<void> {
  const sequence = new ResponseSequence();
  const roomId = `room-${id}`;
  const message = {
    kind: "message",
    role: "user",
    messageId: `u-${id}`,
    parts: [{ kind: "text", text: `hello from turn ${id}, a short question` }],
  };
  observer.command({
    type: "user_message",
    room_id: roomId,
    local_agent_id: "local-1",
    agent_message_id: id,
    user_message_id: `u-${id}`,
    message,
  });
  const observed = { agentMessageId: id, localAgentId: "local-1", agentName: "Echo" };
  await runTurn(
    {
      agentMessageId: id,
      localAgentId: "local-1",
      agentName: "Echo",
      userMessageId: `u-${id}`,
      hubTaskId: `hub-${id}`,
      message: message as never,
      streaming,
    },
    observer.turnClient(observed, client()),
    (events) => {
      const stamped = events.map((event) => stampEvent(event, sequence));
      observer.queued(
        roomId,
        stamped.map((event) => [event]),
      );
      observer.acked(roomId, stamped);
    },
    { signal: new AbortController().signal, logger },
  );
}

let serial = 0;
async function cpuMsPerTurn(observer: () => HubObserver, turns: number, streaming: boolean) {
  const target = observer();
  const before = process.cpuUsage();
  for (let i = 0; i < turns; i++) await turn(target, `t-${serial++}`, streaming);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / turns;
}

const redactingRecorder = () => {
  const policy = compilePolicy([]);
  return new Recorder({ redactorFor: () => policyRedactor(policy) });
};

async function main() {
  // Warm up both paths.
  await cpuMsPerTurn(() => NULL_OBSERVER, 500, false);
  await cpuMsPerTurn(redactingRecorder, 500, false);
  const echoOff: number[] = [];
  const echoOn: number[] = [];
  const streamOff: number[] = [];
  const streamOn: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    gc();
    echoOff.push(await cpuMsPerTurn(() => NULL_OBSERVER, ECHO_TURNS, false));
    gc();
    echoOn.push(await cpuMsPerTurn(redactingRecorder, ECHO_TURNS, false));
    gc();
    streamOff.push(await cpuMsPerTurn(() => NULL_OBSERVER, 5, true));
    gc();
    streamOn.push(await cpuMsPerTurn(redactingRecorder, 5, true));
  }
  // What a recorder keeps: 200 echo turns and one 1,000-chunk turn, heap after a forced GC.
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const kept = redactingRecorder();
  for (let i = 0; i < 199; i++) await turn(kept, `k-${i}`, false);
  await turn(kept, "k-stream", true);
  gc();
  const heapKept = process.memoryUsage().heapUsed - heapBefore;
  const streamed = kept.turn("k-stream");
  const m = (values: number[]) =>
    round(
      percentile(
        [...values].sort((a, b) => a - b),
        50,
      ),
      4,
    );
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    rounds: ROUNDS,
    echo_turn_cpu_ms: {
      off: m(echoOff),
      on: m(echoOn),
      added: m(echoOn.map((on, i) => on - (echoOff[i] as number))),
    },
    stream_1000_chunk_turn_cpu_ms: {
      off: m(streamOff),
      on: m(streamOn),
      added: m(streamOn.map((on, i) => on - (streamOff[i] as number))),
    },
    kept: {
      turns: kept.size,
      content_bytes: kept.bytes,
      heap_mib_after_gc: round(heapKept / 1024 / 1024, 2),
      stream_turn_timeline_entries: streamed?.timeline.length ?? null,
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

await main();
