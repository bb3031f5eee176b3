// The control socket's language: one JSON object per line each way. A request names a command;
// the answer is `{ok: true, result}` or `{ok: false, error: {kind, message}}`.
import { createHash } from "node:crypto";
import type { HubSnapshot } from "../hub/snapshot.ts";

const CONTROL_COMMANDS = ["status", "agents", "stop", "reload-key"] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

interface ControlError {
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
  /**
   * The inspector's URL with its token (`--inspect`), or null. Only the hub's own user reaches
   * the control socket. Optional: an earlier version does not send it.
   */
  inspectorUrl?: string | null;
  /** `start` options without secrets, so `restart` starts it the same way. */
  launch: string[];
}

export type AgentStatus = DaemonStatus["agents"][number];

interface StopResult {
  pid: number;
  stopping: true;
}

export interface ReloadKeyResult {
  /** Whether this reload changed the key in use (the key itself is never sent over the socket). */
  changed: boolean;
  /** `keyFingerprint` of the key now in use, so a caller can tell it is the one it saved. */
  fingerprint: string;
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

/** A short, one-way tag of a key (first 12 hex of its SHA-256): says which key, reveals nothing. */
export function keyFingerprint(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 12);
}
