// Acting as another local user in tests. CI runs as root, so a throwaway uid (65534, "nobody")
// stands for the neighbour: `setpriv` drops to it for one command. Node itself is hard-linked
// (or copied) into a folder that uid can reach, since the test's Node may sit under /root.
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  renameSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const OTHER_UID = 65534;

/** Why the multi-user tests cannot run here, or null when they can. */
export const otherUserUnavailable: string | null = (() => {
  if (process.platform !== "linux") return "needs Linux (setpriv)";
  if (process.getuid?.() !== 0) return "needs root to act as another uid";
  const probe = spawnSync("setpriv", ["--version"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0) return "needs setpriv (util-linux)";
  return null;
})();

/** The argument list that runs `command` as OTHER_UID (no supplementary groups). */
export function asOtherUser(command: string, args: string[]): [string, string[]] {
  return [
    "setpriv",
    [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, "--clear-groups", command, ...args],
  ];
}

/** Runs a short command as OTHER_UID and throws with its stderr when it fails. */
export function runAsOtherUser(command: string, args: string[]): string {
  const [program, argv] = asOtherUser(command, args);
  const result = spawnSync(program, argv, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} as uid ${OTHER_UID}: ${result.stderr}`);
  }
  return result.stdout;
}

/**
 * A path to this Node binary that OTHER_UID may execute: one hard link (or copy) per Node version
 * in a folder of ours, reused by every test process and run (so nothing piles up in /tmp).
 */
export function nodeForOtherUser(): string {
  const dir = join(tmpdir(), `hybro-test-node-${process.getuid?.() ?? 0}`);
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const stat = lstatSync(dir);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.()) {
    throw new Error(`${dir} is not a folder of ours; remove it`);
  }
  chmodSync(dir, 0o755);
  const target = join(dir, `node-${process.version}`);
  if (existsSync(target)) return target;
  const partial = `${target}.${process.pid}`;
  try {
    linkSync(process.execPath, partial);
  } catch {
    copyFileSync(process.execPath, partial);
    chmodSync(partial, 0o755);
  }
  renameSync(partial, target); // atomic: parallel test processes all end up with one file
  return target;
}

/** Starts a long-running Node script as OTHER_UID; resolves with its first stdout line. */
export function startAsOtherUser(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ line: string; stop: () => void }> {
  const [program, argv] = asOtherUser(nodeForOtherUser(), [script, ...args]);
  const child = spawn(program, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      err += chunk;
    });
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const newline = out.indexOf("\n");
      if (newline >= 0) resolve({ line: out.slice(0, newline), stop: () => child.kill("SIGKILL") });
    });
    child.on("exit", (code) => reject(new Error(`${script} exited (${code}): ${err}`)));
  });
}
