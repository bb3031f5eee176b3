// Benchmark: one 10 MiB streamed answer through relay → hub → relay. The development relay and a
// fast raw A2A agent (64 KiB chunks, v0.3 SSE) run here; the hub is a child process with its
// production settings (the relay's default 1 MiB body limit). Reports the time against reading
// the same stream straight from the agent with the hub's own A2A client, the hub's resident
// memory above idle while the answer passes (sampled every 5 ms, and the kernel's high-water
// mark), and the publish POSTs per answer. Every answer is checked complete, byte for byte.
//
//   npm run build && node bench/large-answer.ts      # or: BENCH_QUICK=1 …
//   (also a section of `npm run bench`)
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { A2AClient } from "../src/a2a/client.ts";
import { textOfParts } from "../src/a2a/model.ts";
import { HttpTransport } from "../src/agents/transports/http.ts";
import { NO_RATE_LIMITS, startDevRelay } from "../src/devrelay/index.ts";
import { silentLogger } from "../src/log/logger.ts";
import { RoomAnswer } from "../src/wire/room-answer.ts";
import { bigAnswer } from "../test/support/a2a-agents.ts";
import { startRawAgent, v03 } from "../test/support/raw-agent.ts";
import { relayTurn, startHubProcess } from "./hub-process.ts";

const ANSWER_BYTES = 10 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** Node flags for a hub on a small machine (README "Large answers"): a small young generation. */
export const LEAN_NODE_FLAGS = ["--max-semi-space-size=1", "--max-old-space-size=64"];

interface HubRun {
  direct_ms_median: number;
  through_hub_ms_median: number;
  publish_posts_per_answer: number;
  rss_mb: { idle: number; peak: number; above_idle: number };
  /** With `retained`: heap in use + buffers after a full GC every 25 ms (what the hub holds). */
  retained_mb_above_idle?: number;
  complete: boolean;
}

export interface LargeAnswerResult {
  answer_mib: number;
  runs: number;
  /** `node dist/cli/main.js start --foreground`, as a user runs it. */
  default_node_flags: HubRun;
  /** The same with LEAN_NODE_FLAGS. */
  lean_node_flags: HubRun & { flags: string[] };
  /** What the hub keeps (forced full GCs; slower, for memory only). */
  retained: HubRun;
  hub_over_direct_ratio: number;
  targets: {
    every_answer_complete: boolean;
    retained_at_most_20mb_above_idle: boolean;
    rss_default_flags_at_most_20mb_above_idle: boolean;
    rss_lean_flags_at_most_20mb_above_idle: boolean;
  };
}

export async function largeAnswerBench(options: { runs: number }): Promise<LargeAnswerResult> {
  const answer = bigAnswer(ANSWER_BYTES);
  const agent = await startRawAgent("Large", {
    async stream(_request, out) {
      const taskId = randomBytes(8).toString("hex");
      await out.result(v03.task(taskId, "submitted"));
      for (let at = 0, i = 0; at < answer.length; at += CHUNK_BYTES, i++) {
        const last = at + CHUNK_BYTES >= answer.length;
        await out.result(v03.chunk(taskId, "big", answer.slice(at, at + CHUNK_BYTES), i > 0, last));
      }
      await out.result(v03.status(taskId, "completed", true));
    },
  });
  const relay = await startDevRelay({
    port: 0,
    memory: true,
    logger: silentLogger(),
    rateLimits: NO_RATE_LIMITS,
  });
  try {
    const { key } = relay.createKey({ userId: "bench", name: "bench", scopes: ["*"] });
    const run = (nodeFlags: string[], retained: boolean) =>
      runHub({ answer, agentUrl: agent.url, relay, key, nodeFlags, retained, runs: options.runs });
    const plain = await run([], false);
    const lean = await run(LEAN_NODE_FLAGS, false);
    const held = await run(
      ["--expose-gc", "--import", join(import.meta.dirname, "retained-memory.mjs")],
      true,
    );
    const retainedAbove = held.retained_mb_above_idle ?? Number.NaN;
    return {
      answer_mib: ANSWER_BYTES / (1024 * 1024),
      runs: options.runs,
      default_node_flags: plain,
      lean_node_flags: { flags: LEAN_NODE_FLAGS, ...lean },
      retained: held,
      hub_over_direct_ratio: round(plain.through_hub_ms_median / plain.direct_ms_median, 2),
      targets: {
        every_answer_complete: plain.complete && lean.complete && held.complete,
        retained_at_most_20mb_above_idle: retainedAbove <= 20,
        rss_default_flags_at_most_20mb_above_idle: plain.rss_mb.above_idle <= 20,
        rss_lean_flags_at_most_20mb_above_idle: lean.rss_mb.above_idle <= 20,
      },
    };
  } finally {
    await agent.close();
    await relay.close();
  }
}

/** One hub child process (fresh, production settings) and `runs` large answers through it. */
async function runHub(options: {
  answer: string;
  agentUrl: string;
  relay: Awaited<ReturnType<typeof startDevRelay>>;
  key: string;
  nodeFlags: string[];
  retained: boolean;
  runs: number;
}): Promise<HubRun> {
  const { answer, relay } = options;
  const home = mkdtempSync(join(tmpdir(), "hybro-bench-large-"));
  const agentsFile = join(home, "agents.json");
  const retainedFile = join(home, "retained.json");
  writeFileSync(agentsFile, JSON.stringify({ agents: [{ name: "Large", url: options.agentUrl }] }));
  const hub = await startHubProcess({
    home,
    agentsFile,
    relayUrl: relay.url,
    key: options.key,
    nodeFlags: options.nodeFlags,
    env: options.retained ? { HYBRO_BENCH_RETAINED: retainedFile } : {},
  });
  try {
    const kb = (field: string) => hub.statusKb(field);
    const hubId = readFileSync(join(home, "data", "hub_id"), "utf8").trim();
    let localAgentId: string | undefined;
    while (!localAgentId) {
      localAgentId = relay.hubs().find((h) => h.hubId === hubId)?.agents[0]?.local_agent_id;
      if (!localAgentId) await sleep(50);
    }

    // Direct: the hub's own A2A client reading the agent's stream, decoding every event.
    const transport = new HttpTransport({ baseUrl: `${options.agentUrl}/rpc` });
    const client = new A2AClient({ transport, primary: "0.3", fallback: null });
    const direct = async () => {
      const started = performance.now();
      let length = 0;
      for await (const event of client.stream(
        { role: "user", parts: [{ text: "go" }] },
        { signal: AbortSignal.timeout(120_000) },
      )) {
        if (event.kind === "artifact-update") length += textOfParts(event.artifact.parts).length;
      }
      if (length !== answer.length) throw new Error(`direct read ${length} characters`);
      return performance.now() - started;
    };

    // Through the hub: a relay command until the turn's terminal event is published back.
    let complete = true;
    const viaHub = async () => {
      const postsBefore = relay.publishStats().posts;
      const started = performance.now();
      const { agentMessageId, events } = await relayTurn(relay, hubId, localAgentId, "go", 300_000);
      const ms = performance.now() - started;
      const room = new RoomAnswer(agentMessageId);
      for (const event of events) room.apply(event);
      if (room.state !== "completed" || room.text !== answer) complete = false;
      return { ms, posts: relay.publishStats().posts - postsBefore };
    };

    // Idle: the hub with its agent, before any large answer; sampled from here on (the first
    // answer, which also warms the JIT and the sockets, counts for memory but not for time).
    await direct();
    await sleep(500);
    const idleKb = kb("VmRSS");
    let peakKb = idleKb;
    const sampler = setInterval(() => {
      try {
        peakKb = Math.max(peakKb, kb("VmRSS"));
      } catch {
        // the hub exited; the run fails below
      }
    }, 5);
    await viaHub();
    const hubMs: number[] = [];
    const posts: number[] = [];
    const directMs: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      const one = await viaHub();
      hubMs.push(one.ms);
      posts.push(one.posts);
      directMs.push(await direct());
    }
    clearInterval(sampler);
    await transport.close();
    const result: HubRun = {
      direct_ms_median: round(median(directMs)),
      through_hub_ms_median: round(median(hubMs)),
      publish_posts_per_answer: median(posts),
      rss_mb: {
        idle: round(idleKb / 1024),
        peak: round(peakKb / 1024),
        above_idle: round((peakKb - idleKb) / 1024),
      },
      complete,
    };
    await hub.stop();
    if (options.retained) {
      const held = JSON.parse(readFileSync(retainedFile, "utf8")) as { min: number; peak: number };
      result.retained_mb_above_idle = round((held.peak - held.min) / (1024 * 1024));
    }
    return result;
  } finally {
    await hub.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const quick = process.env.BENCH_QUICK === "1";
  const result = await largeAnswerBench({ runs: quick ? 3 : 7 });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, "results", "large-answer.json"),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...result }, null, 2)}\n`,
  );
}
