// Benchmark of the privacy guard alone (no hub, no network): the policy's cost per published
// event with every detector on, for 4 KiB and 256 KiB events, the added cost per chunk of a
// 1,000-chunk stream, and the audit line's cost. Prints one JSON object; figures are medians and
// percentiles of one run on a shared machine (compare ratios, not absolutes).
//
//   npm run bench:privacy          # BENCH_QUICK=1 for a shorter run
//
// Run with --expose-gc (the npm script does) so each measurement starts without the garbage of
// the one before.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { TurnMapper } from "../src/hub/mapping.ts";
import { AuditLog } from "../src/privacy/audit-log.ts";
import { compilePolicy } from "../src/privacy/policy.ts";
import { TurnGuard } from "../src/privacy/turn-guard.ts";
import type { PublishedEvent } from "../src/wire/relay.ts";
import { summary as summaryOf } from "./stats.ts";

const quick = process.env.BENCH_QUICK === "1";
const SMALL_EVENTS = quick ? 2_000 : 10_000;
const LARGE_EVENTS = quick ? 50 : 200;
const STREAMS = quick ? 10 : 40;

const summary = (samples: number[]) => summaryOf(samples, 4);

// Every detector on and changing text (so every hold-back rule runs too), two custom rules with
// keywords and patterns, an allow-list, the hub's key.
const hubKey = `hybro_${"k3Y".repeat(12)}`;
const policy = compilePolicy(
  [
    {
      secrets: "redact",
      personal: "redact",
      custom: [
        {
          name: "codename",
          keywords: ["project titan", "bluebird"],
          patterns: ["PROJ-\\d{4}"],
          action: "redact",
        },
        {
          name: "customer",
          keywords: ["acme corp"],
          patterns: ["cust-[0-9a-f]{8}"],
          action: "log",
        },
      ],
      allow: ["noreply@example.com"],
      allowPatterns: [".*@test\\.example"],
    },
  ],
  { hubApiKey: hubKey },
);

// Prose, code and numbers as agents write them; one e-mail address and one key per ~4 KiB.
const paragraph =
  "The build failed because the cache key changed between runs; see step 3 of the pipeline. " +
  "In `src/server.ts` the handler returns 200 before the body is read, so retries never happen. " +
  "Version 1.2.3.4 was released on 2024-10-12 at 10:30 and fixed 17 issues (see #4521). " +
  "```ts\nconst total = items.reduce((sum, item) => sum + item.price * item.count, 0);\n``` " +
  "Next steps: rerun with --verbose, compare the hashes (3f786850e387550fdab836ed7e6dc881de23001b) and report back. ";
const findingsBlock = `Contact ann@example.com about it; the token in the log was ghp_${"Ab3dE5".repeat(6)} (rotate it). `;

function textOf(bytes: number): string {
  let text = "";
  while (text.length < bytes)
    text += text.length % 4096 < paragraph.length ? findingsBlock + paragraph : paragraph;
  return text.slice(0, bytes);
}

function responseEvent(content: string): PublishedEvent {
  return {
    type: "agent_response",
    agent_message_id: "amsg-bench",
    data: { content, agent_id: "local-1", task_id: "task-bench" },
  };
}

function perEvent(content: string, count: number) {
  const event = responseEvent(content);
  for (let i = 0; i < Math.min(2_000, count); i++) new TurnGuard(policy).inspect(event); // warm up
  globalThis.gc?.();
  const samples: number[] = [];
  let detections = 0;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const guard = new TurnGuard(policy);
    const step = guard.inspect(event);
    samples.push(performance.now() - started);
    detections = step.publish[0]?.detections.reduce((n, d) => n + d.count, 0) ?? 0;
  }
  return { ...summary(samples), event_bytes: Buffer.byteLength(JSON.stringify(event)), detections };
}

/** The mapping's events for a 1,000-chunk stream of LLM-sized pieces (3–12 characters). */
function streamEvents(): PublishedEvent[] {
  const text = textOf(8 * 1024);
  const mapper = new TurnMapper({
    agentMessageId: "amsg-stream",
    userMessageId: "u",
    hubTaskId: "hubtask",
    localAgentId: "local-1",
  });
  const events: PublishedEvent[] = [];
  let at = 0;
  for (let i = 0; i < 1_000; i++) {
    const size = 3 + ((i * 7) % 10);
    const piece = text.slice(at % text.length, (at % text.length) + size);
    at += size;
    const raw = {
      kind: "message",
      role: "agent",
      messageId: `m${i}`,
      parts: [{ kind: "text", text: piece }],
    };
    events.push(
      ...mapper.onStreamEvent({
        kind: "message",
        role: "agent",
        messageId: `m${i}`,
        parts: [{ kind: "text", text: piece }],
        taskId: "t",
        contextId: "c",
        raw,
        wire: raw,
      }),
    );
  }
  events.push(...mapper.terminal());
  return events;
}

function stream() {
  const events = streamEvents();
  const samples: number[] = [];
  const totals: number[] = [];
  let published = 0;
  for (let round = 0; round < STREAMS + 3; round++) {
    const guard = new TurnGuard(policy);
    const started = performance.now();
    let count = 0;
    for (const event of events) {
      const t = performance.now();
      count += guard.inspect(event).publish.length;
      if (round >= 3) samples.push(performance.now() - t);
    }
    if (round >= 3) totals.push(performance.now() - started);
    published = count;
  }
  return {
    chunks: 1_000,
    events_in: events.length,
    events_out: published,
    added_ms_per_chunk: summary(samples),
    added_ms_per_stream: summary(totals),
  };
}

function audit() {
  const dir = mkdtempSync(join(tmpdir(), "hybro-bench-audit-"));
  const log = new AuditLog(join(dir, "audit.jsonl"));
  const event = responseEvent(textOf(4096));
  const detections = [
    { kind: "email" as const, rule: "email", action: "redact" as const, count: 1 },
  ];
  const turn = { agent: "Bench", room: "room-1", turn: "amsg-1" };
  const samples: number[] = [];
  for (let i = 0; i < SMALL_EVENTS; i++) {
    const started = performance.now();
    log.published(turn, event, detections);
    samples.push(performance.now() - started);
  }
  log.close();
  rmSync(dir, { recursive: true, force: true });
  return summary(samples);
}

const small = perEvent(textOf(4 * 1024), SMALL_EVENTS);
const smallClean = perEvent(paragraph.repeat(12).slice(0, 4 * 1024), SMALL_EVENTS);
const large = perEvent(textOf(256 * 1024), LARGE_EVENTS);
const streamed = stream();
const result = {
  date: new Date().toISOString(),
  node: process.version,
  quick,
  policy_ms_per_event: {
    "4KiB_with_findings": small,
    "4KiB_clean": smallClean,
    "256KiB_with_findings": large,
  },
  stream_1000_chunks: streamed,
  audit_line_ms_4KiB_event: audit(),
  targets: { p99_4KiB_at_most_0_2ms: small.p99 <= 0.2 },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
writeFileSync(
  join(import.meta.dirname, "results", "privacy-latest.json"),
  `${JSON.stringify(result, null, 2)}\n`,
);
