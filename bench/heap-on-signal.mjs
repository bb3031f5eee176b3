// Preloaded into the hub by bench/footprint.ts (with --expose-gc): on SIGUSR2, a full GC, then
// the heap in use written to the file named by HYBRO_BENCH_HEAP. Benchmark only.
import { writeFileSync } from "node:fs";

const file = process.env.HYBRO_BENCH_HEAP;
if (file && typeof globalThis.gc === "function") {
  process.on("SIGUSR2", () => {
    globalThis.gc();
    const { heapUsed, heapTotal, external, arrayBuffers, rss } = process.memoryUsage();
    writeFileSync(file, JSON.stringify({ heapUsed, heapTotal, external, arrayBuffers, rss }));
  });
}
