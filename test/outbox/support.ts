// Small helpers for the outbox tests: a logger that keeps its lines, events, and polling.
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger, type Logger } from "../../src/log/logger.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { textChunk } from "../support/events.ts";

export function capturingLogger(): {
  logger: Logger;
  lines: () => Array<{ level: number; msg: string } & Record<string, unknown>>;
  at: (level: "warn" | "error" | "info") => string[];
} {
  const raw: string[] = [];
  const logger = createLogger({
    level: "debug",
    destination: { write: (l: string) => raw.push(l) },
  });
  const lines = () =>
    raw
      .join("")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as { level: number; msg: string });
  const levels = { info: 30, warn: 40, error: 50 };
  return {
    logger,
    lines,
    at: (level) =>
      lines()
        .filter((l) => l.level === levels[level])
        .map((l) => l.msg),
  };
}

export const chunk = (turn: string, n: number, text = `chunk ${n} `): PublishedEvent =>
  textChunk(turn, text, {
    artifacts: [{ artifactId: `${turn}-stream`, parts: [{ kind: "text", text }], metadata: { n } }],
    append: n > 0,
    task_id: `task-${turn}`,
  });

export const submitted = (turn: string): PublishedEvent => ({
  type: "task_submitted",
  agent_message_id: turn,
  data: { task_id: `task-${turn}`, agent_name: "echo" },
});

export const finished = (turn: string): PublishedEvent => ({
  type: "processing_status",
  agent_message_id: turn,
  data: { status: "completed", user_message_id: null, task_id: `task-${turn}` },
});

/** A short name of an event made by the helpers above: `<turn>-s`, `<turn>-c<n>`, `<turn>-p`. */
export function label(event: PublishedEvent): string {
  const turn = event.agent_message_id;
  if (event.type === "task_submitted") return `${turn}-s`;
  if (event.type === "processing_status") return `${turn}-p`;
  if (event.type === "artifact_update") return `${turn}-c${event.data.artifacts[0]?.metadata?.n}`;
  return `${turn}-${event.type}`;
}

export async function until(probe: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
