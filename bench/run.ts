// Benchmark: development relay + the real hub (a child process, production settings) + echo
// agents built on @a2a-js/sdk, all on loopback. Prints one JSON object, then the large-answer
// section (bench/large-answer.ts); figures are medians and percentiles of one run (these
// machines are shared: compare ratios, not absolutes).
//
//   npm run bench                 # full run
//   BENCH_QUICK=1 npm run bench
//   npm run bench -- --inspect    # the hub with its local inspector on (and a live page open)
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, fetch } from "undici";
import { NO_RATE_LIMITS, startDevRelay } from "../src/devrelay/index.ts";
import { silentLogger } from "../src/log/logger.ts";
import type { PublishedEvent } from "../src/wire/relay.ts";
import { connectTestClient, startTestAgent } from "../test/support/a2a-agents.ts";
import { relayTurn, startHubProcess } from "./hub-process.ts";
import { largeAnswerBench } from "./large-answer.ts";
import { round, summary } from "./stats.ts";

const quick = process.env.BENCH_QUICK === "1";
/** The hub runs with `--inspect` and a reader holds the inspector's live stream open. */
const inspect = process.argv.includes("--inspect");
const SEQUENTIAL_TURNS = quick ? 100 : 500;
const CONCURRENT_TURNS = quick ? 640 : 3_200;
const CONCURRENCY = 64;

function userMessage(text: string) {
  return {
    kind: "message",
    role: "user",
    messageId: randomBytes(8).toString("hex"),
    parts: [{ kind: "text", text }],
  };
}

async function main() {
  const logger = silentLogger();
  const relay = await startDevRelay({
    port: 0,
    memory: true,
    logger,
    rateLimits: NO_RATE_LIMITS,
  });
  const { key } = relay.createKey({ userId: "bench", name: "bench", scopes: ["*"] });
  const echo = await startTestAgent({
    dialect: "1.0",
    streaming: false,
    behaviour: "echo",
    name: "BenchEcho",
  });
  const slow = await startTestAgent({
    dialect: "1.0",
    streaming: false,
    behaviour: "slow",
    name: "Bench200",
    delayMs: 200,
  });
  const chunks = await startTestAgent({
    dialect: "1.0",
    streaming: true,
    behaviour: "chunks",
    name: "Bench1000",
    chunkCount: 1_000,
  });

  const home = mkdtempSync(join(tmpdir(), "hybro-bench-"));
  const agentsFile = join(home, "agents.json");
  writeFileSync(
    agentsFile,
    JSON.stringify({
      agents: [
        { name: "BenchEcho", url: echo.url, maxConcurrency: CONCURRENCY },
        { name: "Bench200", url: slow.url, maxConcurrency: CONCURRENCY },
        { name: "Bench1000", url: chunks.url },
        // The stdio echo agent, blocking like BenchEcho so the two transports compare fairly.
        {
          name: "BenchStdio",
          command: process.execPath,
          args: [join(import.meta.dirname, "../examples/echo-stdio-agent.mjs")],
          env: { ECHO_NAME: "BenchStdio" },
          streaming: false,
          maxConcurrency: CONCURRENCY,
        },
      ],
    }),
  );
  const hubProcess = await startHubProcess({
    home,
    agentsFile,
    relayUrl: relay.url,
    key,
    args: inspect ? ["--inspect", "127.0.0.1:0"] : [],
    // BENCH_HUB_NODE_FLAGS: Node flags for the hub alone (e.g. `--cpu-prof --cpu-prof-dir=DIR`).
    nodeFlags: process.env.BENCH_HUB_NODE_FLAGS?.split(" ").filter(Boolean),
  });
  const hub = hubProcess.child;
  const kb = (field: string) => hubProcess.statusKb(field);
  const idleRssMb = round(kb("VmRSS") / 1024, 1);
  // With --inspect: a page's live stream, read (and dropped) for the whole run.
  const inspectorUrl = /^inspector: (\S+)$/m.exec(hubProcess.readyOutput)?.[1] ?? null;
  if (inspect && !inspectorUrl) throw new Error("the hub printed no inspector URL");
  const live = new AbortController();
  let liveBytes = 0;
  if (inspectorUrl) {
    const stream = await fetch(`${inspectorUrl}api/events`, { signal: live.signal });
    void (async () => {
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
        liveBytes += chunk.byteLength;
      }
    })().catch(() => {});
  }
  // utime + stime of the hub process, in seconds (clock ticks of 100 Hz on Linux).
  const hubCpuS = () => {
    const fields = readFileSync(`/proc/${hub.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };

  const dispatcher = new Agent({ connections: 256, headersTimeout: 0, bodyTimeout: 0 });
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${relay.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key },
      body: JSON.stringify(body),
      dispatcher,
    });
    return (await response.json()) as Record<string, unknown>;
  };
  const agentIdOf = async (name: string) => {
    for (;;) {
      const found = (await post("/api/v1/gateway/agents/discover", { query: name, limit: 50 })) as {
        agents: Array<{ agent_id: string; agent_card: { name: string } }>;
      };
      const agent = found.agents.find((a) => a.agent_card.name === name);
      if (agent) return agent.agent_id;
      await sleep(50);
    }
  };
  const gatewaySend = (agentId: string, text: string) =>
    post(`/api/v1/gateway/agents/${agentId}/message/send`, { message: userMessage(text) });

  const echoId = await agentIdOf("BenchEcho");
  const slowId = await agentIdOf("Bench200");
  const chunksId = await agentIdOf("Bench1000");
  const hubId = readFileSync(join(home, "data", "hub_id"), "utf8").trim();
  const localIdOf = (name: string) =>
    relay
      .hubs()
      .find((h) => h.hubId === hubId)!
      .agents.find((a) => a.name === name)!.local_agent_id;

  // Warm up every path (JIT, connection pools).
  for (let i = 0; i < 50; i++) await gatewaySend(echoId, `warm ${i}`);

  // 1. Direct: the same A2A client code the hub uses, straight to the agent.
  const { client } = await connectTestClient(echo);
  const direct: number[] = [];
  for (let i = 0; i < SEQUENTIAL_TURNS; i++) {
    const started = performance.now();
    await client.send(userMessage(`direct ${i}`), { signal: AbortSignal.timeout(10_000) });
    direct.push(performance.now() - started);
  }

  // 2. Through the hub: a relay command on the hub's stream until the turn's terminal event is
  //    published back (SSE delivery + hub + agent + publish POST), no gateway HTTP in between.
  const hubTurn = async (localAgentId: string, text: string) => {
    const { events } = await relayTurn(relay, hubId, localAgentId, text, 60_000);
    if (events.at(-1)?.type !== "processing_status") throw new Error("turn without terminal event");
  };
  const sequentialThroughHub = async (localAgentId: string) => {
    const samples: number[] = [];
    for (let i = 0; i < SEQUENTIAL_TURNS; i++) {
      const started = performance.now();
      await hubTurn(localAgentId, `via hub ${i}`);
      samples.push(performance.now() - started);
    }
    return samples;
  };
  const echoLocalId = localIdOf("BenchEcho");
  const stdioLocalId = localIdOf("BenchStdio");
  const viaHub = await sequentialThroughHub(echoLocalId);
  const viaHubStdio = await sequentialThroughHub(stdioLocalId);

  // 3. Turns/s through the whole gateway path at concurrency 1 and 64.
  const throughput = async (concurrency: number, total: number) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const i = next++;
          const reply = (await gatewaySend(echoId, `t ${i}`)) as {
            result?: { status?: { state?: string } };
          };
          if (reply.result?.status?.state !== "completed")
            throw new Error(`turn ${i} did not complete`);
        }
      }),
    );
    return round(total / ((performance.now() - started) / 1000), 1);
  };
  const turnsPerS1 = await throughput(1, SEQUENTIAL_TURNS);
  const cpuBefore = hubCpuS();
  const turnsPerS64 = await throughput(CONCURRENCY, CONCURRENT_TURNS);
  const hubCpuMsPerTurn = round(((hubCpuS() - cpuBefore) * 1000) / CONCURRENT_TURNS);

  // 3b. The hub's own path at concurrency 64 (relay commands, no gateway HTTP per turn).
  const hubPathThroughput = async (localAgentId: string, concurrency: number, total: number) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const i = next++;
          await hubTurn(localAgentId, `tp ${i}`);
        }
      }),
    );
    return round(total / ((performance.now() - started) / 1000), 1);
  };
  const hubPathTurnsPerS64 = await hubPathThroughput(echoLocalId, CONCURRENCY, CONCURRENT_TURNS);
  const stdioTurnsPerS64 = await hubPathThroughput(stdioLocalId, CONCURRENCY, CONCURRENT_TURNS);

  // 4. 64 concurrent turns to an agent that takes 200 ms.
  const slowStarted = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, (_, i) => gatewaySend(slowId, `slow ${i}`)),
  );
  const slow64Ms = round(performance.now() - slowStarted, 1);

  // 5. POSTs for one 1,000-chunk stream.
  const postsBefore = relay.publishStats().posts;
  const streamed = (await gatewaySend(chunksId, "stream 1000")) as {
    result?: { metadata?: { agent_message_id?: string } };
  };
  const postsPerStream = relay.publishStats().posts - postsBefore;
  const streamEvents: PublishedEvent[] = relay.eventsFor(
    String(streamed.result?.metadata?.agent_message_id),
  );

  // 6. The hub's memory (read below; with --inspect: with the last 200 turns kept by the inspector).
  const turnsKept = inspectorUrl
    ? ((await (await fetch(`${inspectorUrl}api/turns`)).json()) as { turns: unknown[] }).turns
        .length
    : null;

  const d = summary(direct);
  const h = summary(viaHub);
  const hs = summary(viaHubStdio);
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    quick,
    inspector: inspect
      ? { on: true, turns_kept: turnsKept, live_stream_bytes_read: liveBytes }
      : { on: false },
    direct_ms: d,
    through_hub_ms: h,
    hub_added_latency_ms: { p50: round(h.p50 - d.p50), p99: round(h.p99 - d.p99) },
    // Same hub path, the stdio echo agent instead of the HTTP one (issue 5: stdio >= HTTP).
    through_hub_stdio_agent_ms: hs,
    stdio_minus_http_through_hub_ms: { p50: round(hs.p50 - h.p50), p99: round(hs.p99 - h.p99) },
    turns_per_s: {
      gateway_concurrency_1: turnsPerS1,
      gateway_concurrency_64: turnsPerS64,
      hub_path_concurrency_64: hubPathTurnsPerS64,
      hub_path_concurrency_64_stdio_agent: stdioTurnsPerS64,
    },
    hub_cpu_ms_per_turn: hubCpuMsPerTurn,
    slow_agent_64_concurrent_200ms_total_ms: slow64Ms,
    posts_per_1000_chunk_stream: postsPerStream,
    events_in_1000_chunk_stream: streamEvents.length,
    hub_rss_mb: {
      idle: idleRssMb,
      after_load: round(kb("VmRSS") / 1024, 1),
      peak: round(kb("VmHWM") / 1024, 1),
    },
    targets: {
      added_latency_p50_under_2ms: h.p50 - d.p50 < 2,
      added_latency_p99_under_10ms: h.p99 - d.p99 < 10,
      slow_64_under_500ms: slow64Ms < 500,
      posts_per_stream_at_most_50: postsPerStream <= 50,
      stdio_at_least_as_fast_as_http: stdioTurnsPerS64 >= hubPathTurnsPerS64 && hs.p50 <= h.p50,
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  writeFileSync(
    join(import.meta.dirname, "results", inspect ? "latest-inspect.json" : "latest.json"),
    `${JSON.stringify(result, null, 2)}\n`,
  );

  live.abort();
  await hubProcess.stop();
  await dispatcher.close();
  await Promise.all([echo.close(), slow.close(), chunks.close()]);
  await relay.close();
  rmSync(home, { recursive: true, force: true });

  // 7. One 10 MiB streamed answer through relay → hub → relay (its own hubs; see the file); not
  // with --inspect, whose question is the hub's own path.
  if (inspect || process.env.BENCH_SKIP_LARGE === "1") return;
  const largeAnswer = await largeAnswerBench({ runs: quick ? 3 : 5 });
  process.stdout.write(`${JSON.stringify({ large_answer: largeAnswer }, null, 2)}\n`);
  writeFileSync(
    join(import.meta.dirname, "results", "large-answer.json"),
    `${JSON.stringify({ date: result.date, node: process.version, ...largeAnswer }, null, 2)}\n`,
  );
}

await main();
