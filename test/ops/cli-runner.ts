// Runs the real CLI (src/cli/main.ts under this Node) as a child process, for the ops tests.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { asOtherUser, nodeForOtherUser } from "../support/other-user.ts";

export const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface CliOutput {
  stdout: string;
  stderr: string;
}

export interface CliResult extends CliOutput {
  code: number | null;
}

/** The environment for a CLI child: the test's home, never the real one, and no stray key. */
export function cliEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HYBRO_HUB_HOME: home, ...extra };
  delete env.HYBRO_API_KEY;
  delete env.NOTIFY_SOCKET;
  delete env.CREDENTIALS_DIRECTORY;
  delete env.HYBRO_GATEWAY_URL;
  Object.assign(env, extra);
  return env;
}

interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Node options before the CLI's path (e.g. `--import` of a recorder). */
  nodeArgs?: string[];
  /** Run as the throwaway other user (see test/support/other-user.ts). */
  asOtherUser?: boolean;
}

/** Starts the CLI; `output` holds what it has written so far (read it when needed). */
function spawnCli(args: string[], options: SpawnOptions) {
  const cli = [...(options.nodeArgs ?? []), CLI, ...args];
  const [program, argv] = options.asOtherUser
    ? asOtherUser(nodeForOtherUser(), cli)
    : [process.execPath, cli];
  const child = spawn(program, argv, {
    env: options.env,
    cwd: options.cwd ?? REPO_ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    output.stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    output.stderr += chunk;
  });
  return { child, output };
}

export function runCli(
  args: string[],
  options: SpawnOptions & { input?: string; timeoutMs?: number },
): Promise<CliResult> {
  const { child, output } = spawnCli(args, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `hybro-hub ${args.join(" ")} did not finish\nstdout: ${output.stdout}\nstderr: ${output.stderr}`,
        ),
      );
    }, options.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, ...output });
    });
    child.stdin.end(options.input ?? "");
  });
}

/**
 * Runs a long-lived CLI command until `ready` matches its output or it exits. `exited` is its
 * exit code, or null while it runs; `output` keeps filling in.
 */
export async function runCliUntil(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  options: { nodeArgs?: string[] } = {},
): Promise<{ child: ChildProcess; exited: number | null; output: CliOutput }> {
  const { child, output } = spawnCli(args, { env, ...options });
  child.stdin.end();
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const readied = new Promise<null>((resolve) => {
    const check = () => {
      if (ready.test(output.stdout) || ready.test(output.stderr)) resolve(null);
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
  });
  return { child, exited: await Promise.race([exited, readied]), output };
}

/**
 * Pids of daemons (`--daemon-child` or `--foreground`) whose environment holds `variable`, by
 * default `HYBRO_HUB_HOME=<home>` (Linux /proc).
 */
export function daemonPidsFor(home: string, variable = `HYBRO_HUB_HOME=${home}`): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!cmdline.includes("--daemon-child") && !cmdline.includes("--foreground")) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (environ.includes(variable)) {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        if (stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z") pids.push(Number(entry));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Every file under `dir`, read as text, for secret scans. */
export function readAllFiles(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = `${entry.parentPath}/${entry.name}`;
    out.push({ path, text: readFileSync(path, "utf8") });
  }
  return out;
}
