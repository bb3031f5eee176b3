// The README's "Try it against the development relay", step by step with the real CLI: relay,
// a key, `init`, a foreground hub, then examples/gateway-client.mjs as written (its import of
// "hybro-hub" resolved to this checkout's sources instead of a build). Its output must be what
// the README shows.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, cliEnv, REPO_ROOT, runCli } from "./cli-runner.ts";
import { readmeBlocks, readmeSection } from "./readme.ts";

const SECTION = "### Try it against the development relay";
const RESOLVE_SELF = join(REPO_ROOT, "test/support/resolve-self.ts");

interface Running {
  child: ChildProcess;
  output: () => string;
}

/** Spawns `node args…` and waits until its output matches `ready`. */
async function spawnUntil(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Running> {
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const append = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${output}`)), 25_000);
    const check = () => {
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${output}`));
    });
  });
  return { child, output: () => output };
}

describe("the README's Gateway SDK walk-through", () => {
  const running: ChildProcess[] = [];
  let home = "";

  afterEach(async () => {
    for (const child of running.splice(0).reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill("SIGTERM");
      await once(child, "exit");
    }
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("relay, key, init, hub, then examples/gateway-client.mjs prints what the README shows", async () => {
    const text = readmeSection(SECTION);
    for (const step of [
      "`hybro-hub relay`",
      "`hybro-hub relay keys create --name me --scope '*'`",
      "`hybro-hub init`",
      "`hybro-hub start --foreground`",
      'node examples/gateway-client.mjs "echo" "Hello there"',
    ]) {
      expect(text).toContain(step);
    }
    home = mkdtempSync(join(tmpdir(), "hybro-sdk-walk-"));
    const base = cliEnv(home);

    // 1. The relay (a free port instead of 8787, which another test may hold).
    const relay = await spawnUntil([CLI, "relay", "--port", "0"], base, /relay listening on/);
    running.push(relay.child);
    const url = /relay listening on (http:\/\/\S+)/.exec(relay.output())?.[1] ?? "";
    // 2. One key for the hub and the SDK.
    const created = await runCli(["relay", "keys", "create", "--name", "me", "--scope", "*"], {
      env: base,
    });
    expect(created.code, created.stderr).toBe(0);
    const key = /^key: (hybro_\w+)$/m.exec(created.stdout)?.[1] ?? "";
    const env = cliEnv(home, { HYBRO_GATEWAY_URL: url, HYBRO_API_KEY: key });
    // 3. An agent, and the hub.
    const init = await runCli(["init"], { env: base });
    expect(init.code, init.stderr).toBe(0);
    const hub = await spawnUntil([CLI, "start", "--foreground"], env, /hub ready: 1 agent synced/);
    running.push(hub.child);
    // 4. The example.
    const example = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        const child = spawn(
          process.execPath,
          ["--import", RESOLVE_SELF, "examples/gateway-client.mjs", "echo", "Hello there"],
          { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString("utf8");
        });
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString("utf8");
        });
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      },
    );
    expect(example.code, example.stderr).toBe(0);
    const shown = (readmeBlocks(SECTION).at(-1) ?? "").trim().split("\n");
    const printed = example.stdout.trim().split("\n");
    expect(printed).toHaveLength(shown.length);
    // Ids, scores and rate-limit figures change from run to run; the words must not.
    const shape = (line: string) => line.replace(/agt_\w+/, "agt_…").replace(/\d+/g, "N");
    expect(printed.map(shape)).toEqual(shown.map((line) => shape(line.trim())));
  });
});
