// `hybro-hub dev`: relay + hub in one process; the printed curl line answers with the agent's
// reply. The "curl" is undici's fetch with the URL, key and body taken from that line.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { defaultTransportFactory } from "../../src/agents/transport-factory.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { readGatewayReply } from "../support/gateway-reply.ts";
import { CLI, cliEnv, REPO_ROOT } from "./cli-runner.ts";

const dispatcher = new Agent({ headersTimeout: 20_000, bodyTimeout: 20_000 });

interface Curl {
  name: string;
  url: string;
  key: string;
  body: string;
}

/** Starts `hybro-hub dev` and waits for its banner; returns the curl commands it printed. */
async function startDev(
  args: string[],
  home: string,
): Promise<{ child: ChildProcess; curls: Curl[]; out: () => string }> {
  const child = spawn(
    process.execPath,
    [CLI, "dev", "--port", "0", "--log-level", "warn", ...args],
    {
      cwd: REPO_ROOT,
      env: cliEnv(home),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no banner\nstdout: ${stdout}\nstderr: ${stderr}`)),
      20_000,
    );
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (stdout.includes("Ctrl-C stops")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`dev exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
  const curls: Curl[] = [];
  const pattern =
    /# (.+) \([^()]*\)\ncurl -s (\S+) \\\n {2}-H 'X-API-Key: (hybro_\w+)' -H 'Content-Type: application\/json' \\\n {2}-d '(.+)'/g;
  for (const match of stdout.matchAll(pattern)) {
    curls.push({
      name: match[1] ?? "",
      url: match[2] ?? "",
      key: match[3] ?? "",
      body: match[4] ?? "",
    });
  }
  return { child, curls, out: () => stdout + stderr };
}

async function curl(command: Curl): Promise<{ status: number; state?: string; text: string }> {
  const response = await fetch(command.url, {
    method: "POST",
    headers: { "X-API-Key": command.key, "Content-Type": "application/json" },
    body: command.body,
    dispatcher,
  });
  return readGatewayReply(response);
}

describe("hybro-hub dev", () => {
  let child: ChildProcess | null = null;
  let agent: TestAgent | null = null;
  let home = "";

  afterEach(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    child = null;
    await agent?.close();
    agent = null;
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("prints a curl line per agent that answers with the agent's reply, and stops cleanly on Ctrl-C", async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-dev-"));
    agent = await startTestAgent({
      dialect: "0.3",
      streaming: false,
      behaviour: "echo",
      name: "Echo",
    });
    const agentsFile = join(home, "agents.json");
    writeFileSync(agentsFile, JSON.stringify({ agents: [{ name: "Echo", url: agent.url }] }));
    const dev = await startDev(["--agents", agentsFile], home);
    child = dev.child;
    expect(dev.curls.map((c) => c.name)).toEqual(["Echo"]);
    const reply = await curl(dev.curls[0] as Curl);
    expect(reply).toMatchObject({ status: 200, state: "completed", text: "echo: Hello!" });

    child.kill("SIGINT");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    // Nothing of the user's: dev writes no config, data or logs.
    expect(existsSync(join(home, "config"))).toBe(false);
    expect(existsSync(join(home, "data"))).toBe(false);
  });

  // The example's stdio echo agent needs no server of its own: it is what a fresh clone can
  // talk to. Until the hub's default transports include stdio this is skipped, visibly.
  const example = join(REPO_ROOT, "agents.example.json");
  const stdioWired = "stdio" in defaultTransportFactory();
  it.skipIf(!existsSync(example) || !stdioWired)(
    `with no flags uses agents.example.json, and its stdio echo agent answers${stdioWired ? "" : " (skipped: stdio is not in defaultTransportFactory yet)"}`,
    async () => {
      home = mkdtempSync(join(tmpdir(), "hybro-dev-"));
      const dev = await startDev([], home);
      child = dev.child;
      const echo = dev.curls.find((c) => c.name === "Echo (stdio)");
      expect(echo, dev.out()).toBeDefined();
      const reply = await curl(echo as Curl);
      expect(reply.status, dev.out()).toBe(200);
      expect(reply.state).toBe("completed");
      expect(reply.text).toContain("Hello!");
    },
  );
});
