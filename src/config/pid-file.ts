// Single instance without flock (Node has none). The pid file is created atomically with
// link(2), which fails when the name exists, so exactly one starter wins even when two race.
// A file left behind by a crash names a pid that is gone (or reused by some other program):
// the caller's `isRunning` check tells the two apart, and only then is the file removed.
// The control socket is the second guard: bind(2) on a live socket fails, and a starter that
// finds a connectable socket stops, so even the one unguarded moment (two starters removing
// the same stale file at once) cannot leave two daemons serving.
import { execFileSync } from "node:child_process";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export type PidFileClaim =
  | { ok: true /** Removes the file if it still names this process. */; release(): void }
  | { ok: false /** The process that holds it. */; pid: number };

/** The pid in the file, or null when there is no file or it holds no pid. */
export function readPidFile(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * True when a process with this pid exists (EPERM: it exists but belongs to someone else). A
 * zombie counts as gone: a detached daemon's parent is init, which may be slow to reap it (or,
 * in a container, never).
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  if (process.platform === "linux") {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state === "Z" || state === "X") return false;
    } catch {
      return false; // vanished between the two looks
    }
  }
  return true;
}

/** The process's command line (/proc on Linux, `ps` elsewhere), or null when unknown. */
export function processCommandLine(pid: number): string | null {
  try {
    if (process.platform === "linux") {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    }
    return execFileSync("ps", ["-o", "args=", "-p", String(pid)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return null;
  }
}

/** Whether a pid looks like a hybro-hub daemon (guards against a reused pid after a crash). */
export function looksLikeHubProcess(pid: number): boolean {
  const args = processCommandLine(pid);
  if (args === null) return isProcessAlive(pid);
  return /hybro/i.test(args) || (/cli[/\\]main\.[cm]?[jt]s/.test(args) && /\bstart\b/.test(args));
}

export function removePidFileIf(file: string, pid: number | null): void {
  if (readPidFile(file) !== pid) return;
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/**
 * Claims the pid file for this process. `isRunning(pid)` decides whether the pid found in an
 * existing file is a live daemon (then the claim fails) or a leftover (then it is replaced).
 */
export async function claimPidFile(
  file: string,
  isRunning: (pid: number) => Promise<boolean> | boolean,
): Promise<PidFileClaim> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temporary, file);
        return {
          ok: true,
          release: () => removePidFileIf(file, process.pid),
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const pid = readPidFile(file);
      if (pid !== null && pid !== process.pid && (await isRunning(pid))) return { ok: false, pid };
      removePidFileIf(file, pid);
    }
    const pid = readPidFile(file);
    return { ok: false, pid: pid ?? 0 };
  } finally {
    try {
      unlinkSync(temporary);
    } catch {
      // nothing to clean
    }
  }
}
