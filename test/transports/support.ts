// Shared by the transport tests: fixture paths, a logger that keeps its lines, process checks.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import type { Logger } from "../../src/log/logger.ts";

export const NODE = process.execPath;
export const ECHO_AGENT = fileURLToPath(
  new URL("../../examples/echo-stdio-agent.mjs", import.meta.url),
);

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A real pino logger whose lines land in `lines` (parsed). */
export function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: "trace" },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { logger, lines };
}

/** A pid that exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // An orphan's zombie may linger when the container's init does not reap.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true;
  }
}

export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "hybro-transports-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A fresh RECORD_FILE path for a fixture; its folder is removed by the cleanup it adds. */
export async function recordFile(cleanups: (() => Promise<void>)[]): Promise<string> {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  return join(dir.path, "record.jsonl");
}

/** The messages a fixture recorded in its RECORD_FILE. */
export function recorded(file: string): Record<string, unknown>[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export const v03Message = (text: string) => ({
  message: {
    kind: "message",
    role: "user",
    messageId: `m-${Math.random().toString(36).slice(2)}`,
    parts: [{ kind: "text", text }],
  },
  configuration: { blocking: true },
});

export const v1Message = (text: string) => ({
  message: {
    role: "ROLE_USER",
    messageId: `m-${Math.random().toString(36).slice(2)}`,
    parts: [{ text }],
  },
});

export async function collect(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const event of stream) out.push(event);
  return out;
}
