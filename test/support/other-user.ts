// Acting as another local user in tests. CI runs as root, so a throwaway uid (65534, "nobody")
// stands for the neighbour: `setpriv` drops to it for one command. Node itself is hard-linked
// (or copied) into a folder that uid can reach, since the test's Node may sit under /root.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync } from "node:fs";
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

let reachableNode: string | null = null;

/** A path to this Node binary that OTHER_UID may execute. */
export function nodeForOtherUser(): string {
  if (reachableNode) return reachableNode;
  const dir = mkdtempSync(join(tmpdir(), "hybro-node-"));
  chmodSync(dir, 0o755);
  const target = join(dir, "node");
  try {
    linkSync(process.execPath, target);
  } catch {
    copyFileSync(process.execPath, target);
    chmodSync(target, 0o755);
  }
  reachableNode = target;
  return target;
}

/** A folder OTHER_UID owns (mode 0700) inside a fresh world-reachable one. */
export function folderOfOtherUser(name: string): string {
  const parent = mkdtempSync(join(tmpdir(), "hybro-other-"));
  chmodSync(parent, 0o755);
  const dir = join(parent, name);
  mkdirSync(dir);
  spawnSync("chown", [`${OTHER_UID}:${OTHER_UID}`, dir]);
  chmodSync(dir, 0o700);
  return dir;
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
