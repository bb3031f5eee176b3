// The built hub as a child process for the benchmarks: `start --foreground` with production
// settings, its own HYBRO_HUB_HOME, resolved once it says "hub ready"; and its /proc figures.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DevRelay } from "../src/devrelay/index.ts";
import type { PublishedEvent } from "../src/wire/relay.ts";

export interface HubProcess {
  child: ChildProcessWithoutNullStreams;
  /** A field of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`). */
  statusKb(field: string): number;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
}

export async function startHubProcess(options: {
  home: string;
  agentsFile: string;
  relayUrl: string;
  key: string;
  /** Node flags before the script (e.g. heap settings). */
  nodeFlags?: string[];
  env?: Record<string, string>;
}): Promise<HubProcess> {
  mkdirSync(join(options.home, "config"), { recursive: true });
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeFlags ?? []),
      join(import.meta.dirname, "../dist/cli/main.js"),
      "start",
      "--foreground",
      "--agents",
      options.agentsFile,
      "--gateway-url",
      options.relayUrl,
      "--log-level",
      "warn",
    ],
    {
      env: {
        ...process.env,
        HYBRO_HUB_HOME: options.home,
        HYBRO_API_KEY: options.key,
        ...options.env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  ) as unknown as ChildProcessWithoutNullStreams;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("hub ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`hub exited early with ${code}`)));
  });
  return {
    child,
    statusKb: (field) => procStatusKb(child.pid!, field),
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A field of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`, `RssAnon`). */
export function procStatusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
}

/**
 * One turn on the hub's own path: a `user_message` on its command stream, resolved with the
 * turn's events once its terminal event is published back (no gateway HTTP in between).
 */
export async function relayTurn(
  relay: DevRelay,
  hubId: string,
  localAgentId: string,
  text: string,
  timeoutMs: number,
): Promise<{ agentMessageId: string; events: PublishedEvent[] }> {
  const agentMessageId = `bench-${randomBytes(6).toString("hex")}`;
  const done = relay.waitForTurn(agentMessageId, timeoutMs);
  relay.sendCommand(hubId, {
    type: "user_message",
    room_id: `room-${agentMessageId}`,
    local_agent_id: localAgentId,
    agent_message_id: agentMessageId,
    user_message_id: `u-${agentMessageId}`,
    message: {
      kind: "message",
      role: "user",
      messageId: randomBytes(8).toString("hex"),
      parts: [{ kind: "text", text }],
    },
  });
  return { agentMessageId, events: await done };
}
