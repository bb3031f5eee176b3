// Benchmark: one stdio agent flooding stderr as fast as the pipe takes it, for a few seconds,
// with the hub's log going to a rotating file as in background mode. Prints the hub process's
// CPU share, the log bytes written and the rotations it caused (one run; these machines are
// shared: compare with the same run on another commit, not with absolute targets).
//
//   node bench/stderr-flood.ts            # 5 s
//   FLOOD_SECONDS=10 node bench/stderr-flood.ts
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StdioTransport } from "../src/agents/transports/stdio.ts";
import { createLogger } from "../src/log/logger.ts";
import { RotatingFile } from "../src/log/rotating-file.ts";

const seconds = Number(process.env.FLOOD_SECONDS ?? 5);
const flood = fileURLToPath(
  new URL("../test/transports/fixtures/stderr-flood.mjs", import.meta.url),
);

const dir = mkdtempSync(join(tmpdir(), "hybro-bench-flood-"));
const file = join(dir, "hub.log");
const logger = createLogger({ level: "info", destination: new RotatingFile(file) });
const agent = new StdioTransport({
  name: "Flood",
  command: process.execPath,
  args: [flood],
  env: { LINES: String(1e9) },
  logger,
});
await agent.fetchCard(new AbortController().signal);
const cpuBefore = process.cpuUsage();
const wallBefore = performance.now();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const cpu = process.cpuUsage(cpuBefore);
const wallMs = performance.now() - wallBefore;
await agent.close();
const files = readdirSync(dir).filter((name) => name.startsWith("hub.log"));
const logBytes = files.reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
const rotatedFiles = files.filter((name) => name !== "hub.log").length;
process.stdout.write(
  `${JSON.stringify({
    seconds,
    hubCpuPercent: Number((((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(1)),
    logBytesPerS: Math.round(logBytes / (wallMs / 1000)),
    logFiles: files.length,
    rotatedFiles,
  })}\n`,
);
rmSync(dir, { recursive: true, force: true });
