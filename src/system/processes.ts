// What the operating system says about processes: whether one is alive, when it started (so a
// pid reused by another program is told apart from the one we knew), and who descends from whom
// (to stop an agent with everything it started). /proc on Linux, `ps` elsewhere.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** Process group. */
  pgid: number;
  /** Exited, waiting for its parent to collect it: it no longer runs. */
  zombie: boolean;
}

/**
 * True when a process with this pid runs (EPERM: it runs but belongs to someone else). A zombie
 * counts as gone: a detached daemon's parent is init, which may be slow to reap it (or, in a
 * container, never).
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (process.platform !== "linux") return true;
  const stat = linuxStat(pid);
  return stat !== null && !stat.zombie;
}

/**
 * Who this pid is: the pid plus when it started, as a string that changes if the pid is reused.
 * Null when no such process runs. Linux: boot id + start time in clock ticks; elsewhere the start
 * time `ps` gives (to the second).
 */
export function processStartIdentity(pid: number): string | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  if (process.platform === "linux") {
    const stat = linuxStat(pid);
    if (!stat || stat.zombie) return null;
    return `linux:${bootId()}:${stat.startTicks}`;
  }
  if (!isProcessAlive(pid)) return null;
  const started = ps(["-o", "lstart=", "-p", String(pid)])?.trim();
  return started ? `ps:${started}` : null;
}

/** Every process this user may see, with its parent and group. Empty when unknown. */
export function processTable(): ProcessEntry[] {
  if (process.platform === "linux") {
    const entries: ProcessEntry[] = [];
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      const stat = linuxStat(Number(name));
      if (stat) entries.push(stat);
    }
    return entries;
  }
  const text = ps(["-A", "-o", "pid=,ppid=,pgid=,stat="]) ?? "";
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 4)
    .map(([pid, ppid, pgid, state]) => ({
      pid: Number(pid),
      ppid: Number(ppid),
      pgid: Number(pgid),
      zombie: (state ?? "").startsWith("Z"),
    }));
}

/** Pids below `root` in the parent tree (children, their children, …), not `root` itself. */
export function descendantsOf(root: number, table: readonly ProcessEntry[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of table) {
    const siblings = children.get(entry.ppid) ?? [];
    siblings.push(entry.pid);
    children.set(entry.ppid, siblings);
  }
  const found = new Set<number>();
  const queue = [...(children.get(root) ?? [])];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    if (found.has(next) || next === root) continue;
    found.add(next);
    queue.push(...(children.get(next) ?? []));
  }
  return [...found];
}

/** Members of a process group that still run (zombies left out). */
export function liveGroupMembers(pgid: number, table: readonly ProcessEntry[]): number[] {
  return table.filter((entry) => entry.pgid === pgid && !entry.zombie).map((entry) => entry.pid);
}

interface LinuxStat extends ProcessEntry {
  startTicks: string;
}

/** Fields of /proc/<pid>/stat; the command name may hold spaces and parentheses. */
function linuxStat(pid: number): LinuxStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // After "pid (comm) ": state ppid pgrp session tty tpgid flags … starttime is the 20th field.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0] ?? "";
  return {
    pid,
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    zombie: state === "Z" || state === "X",
    startTicks: fields[19] ?? "",
  };
}

let cachedBootId: string | undefined;
function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      cachedBootId = "";
    }
  }
  return cachedBootId;
}

function ps(args: string[]): string | null {
  try {
    return execFileSync("ps", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return null;
  }
}
