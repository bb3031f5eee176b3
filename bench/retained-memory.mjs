// Preloaded into the hub by bench/large-answer.ts (with --expose-gc) to measure what the hub
// holds, not what V8 has yet to collect: a full GC every 25 ms, then the heap and buffers in use.
// Written to the file named by HYBRO_BENCH_RETAINED when the hub exits. Benchmark only.
import { writeFileSync } from "node:fs";

const file = process.env.HYBRO_BENCH_RETAINED;
if (file && typeof globalThis.gc === "function") {
  let peak = 0;
  const samples = [];
  const timer = setInterval(() => {
    globalThis.gc();
    const { heapUsed, external } = process.memoryUsage();
    const used = heapUsed + external;
    peak = Math.max(peak, used);
    samples.push(used);
  }, 25);
  timer.unref();
  process.on("exit", () => {
    const sorted = [...samples].sort((a, b) => a - b);
    writeFileSync(file, JSON.stringify({ first: samples[0] ?? 0, min: sorted[0] ?? 0, peak }));
  });
}
