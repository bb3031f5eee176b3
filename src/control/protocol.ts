// The control socket's language: one JSON object per line each way. A request names a command;
// the answer is `{ok: true, result}` or `{ok: false, error: {kind, message}}`.
import type { HubSnapshot } from "../hub/daemon.ts";

export const CONTROL_COMMANDS = ["status", "agents", "stop", "reload-key"] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

export interface ControlRequest {
  command: ControlCommand;
}

export interface ControlError {
  /** Stable: `bad-request`, `unknown-command`, `failed`. */
  kind: string;
  message: string;
}

export type ControlResponse<T = unknown> =
  | { ok: true; result: T }
  | { ok: false; error: ControlError };

/** What `status` answers: the hub's own snapshot plus facts about the process running it. */
export interface DaemonStatus extends HubSnapshot {
  /** starting: not yet registered and synced; ready: serving; stopping: draining. */
  state: "starting" | "ready" | "stopping";
  pid: number;
  version: string;
  nodeVersion: string;
  /** The JSON log file, or null when logging to stderr (foreground, systemd journal). */
  logFile: string | null;
  /** Who restarts it: a service manager, or nobody (`hybro-hub start`). */
  managedBy: "systemd" | "launchd" | null;
  metricsUrl: string | null;
  /** `start` options without secrets, so `restart` starts it the same way. */
  launch: string[];
}

export type AgentStatus = DaemonStatus["agents"][number];

export interface StopResult {
  pid: number;
  stopping: true;
}

export interface ReloadKeyResult {
  /** Whether the key in use changed (the key itself is never sent over the socket). */
  changed: boolean;
  /** Where it was read from, e.g. "the config file /…/config.json". */
  source: string;
}

export interface ControlResults {
  status: DaemonStatus;
  agents: AgentStatus[];
  stop: StopResult;
  "reload-key": ReloadKeyResult;
}

export function isControlCommand(value: unknown): value is ControlCommand {
  return typeof value === "string" && (CONTROL_COMMANDS as readonly string[]).includes(value);
}
