// `hybro-hub dev`: relay + hub in one process; the printed curl line answers with the agent's
// reply. The "curl" is undici's fetch with the URL, key and body taken from that line. The
// README's quick start is run as written (its `npm run <script>` resolved through package.json).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { readGatewayReply } from "../support/gateway-reply.ts";
import { CLI, cliEnv, REPO_ROOT, runCli } from "./cli-runner.ts";
import { readmeCommands } from "./readme.ts";

const dispatcher = new Agent({ headersTimeout: 20_000, bodyTimeout: 20_000 });

interface Curl {
  heading: string;
  url: string;
  key: string;
  body: string;
}

interface Dev {
  child: ChildProcess;
  curls: Curl[];
  stdout: string;
  /** stderr up to the banner */
  stderr: string;
  out: () => string;
}

/** Starts a dev command (by default `hybro-hub dev`) and waits for its banner. */
async function startDev(
  args: string[],
  home: string,
  options: { command?: string[]; cwd?: string } = {},
): Promise<Dev> {
  const [program, ...programArgs] = options.command ?? [process.execPath, CLI, "dev"];
  const child = spawn(program ?? process.execPath, [...programArgs, "--port", "0", ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: cliEnv(home),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no banner\nstdout: ${stdout}\nstderr: ${stderr}`)),
      25_000,
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
    /(# .+)\ncurl -s (\S+) \\\n {2}-H 'X-API-Key: (hybro_\w+)' -H 'Content-Type: application\/json' \\\n {2}-d '(.+)'/g;
  for (const match of stdout.matchAll(pattern)) {
    curls.push({
      heading: match[1] ?? "",
      url: match[2] ?? "",
      key: match[3] ?? "",
      body: match[4] ?? "",
    });
  }
  return { child, curls, stdout, stderr, out: () => stdout + stderr };
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
    expect(dev.curls.map((c) => c.heading)).toEqual(["# Echo (http)"]);
    const reply = await curl(dev.curls[0] as Curl);
    expect(reply).toMatchObject({ status: 200, state: "completed", text: "echo: Hello!" });

    child.kill("SIGINT");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    // Nothing of the user's: dev writes no config, data or logs.
    expect(existsSync(join(home, "config"))).toBe(false);
    expect(existsSync(join(home, "data"))).toBe(false);
  });

  it("runs the README's quick start as written: a line at once, then agents.example.json's echo agent answers, with no warning", async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-dev-"));
    const commands = readmeCommands("## Quick start");
    expect(commands[0]).toBe("npm ci"); // done: this checkout's node_modules
    const script = /^npm run (\S+)$/.exec(commands[1] ?? "")?.[1];
    expect(script, `the quick start's second command: ${commands[1]}`).toBeDefined();
    const scripts = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts;
    const [node, ...words] = String(scripts[script ?? ""]).split(" ");
    expect(node).toBe("node");

    const dev = await startDev([], home, { command: [process.execPath, ...words] });
    child = dev.child;
    expect(dev.curls.map((c) => c.heading)).toEqual(["# Echo (stdio)"]);
    const reply = await curl(dev.curls[0] as Curl);
    expect(reply, dev.out()).toMatchObject({
      status: 200,
      state: "completed",
      text: "echo: Hello!",
    });
    // Before the banner, stderr held the progress line only: no agent in the example warns.
    expect(dev.stderr).toMatch(/^hybro-hub dev: starting a development relay and a hub .+…\n$/);
  });

  it("serves the agents.json `init` writes, from any working directory", async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-dev-"));
    const env = cliEnv(home);
    const init = await runCli(["init"], { env, cwd: home });
    expect(init.code, init.stderr).toBe(0);
    const agentsFile = join(home, "config", "agents.json");
    expect(init.stdout).toContain(`wrote ${agentsFile}`);
    expect(existsSync(join(home, "config", "examples", "echo-stdio-agent.mjs"))).toBe(true);

    const dev = await startDev(["--agents", agentsFile], home, { cwd: tmpdir() });
    child = dev.child;
    expect(dev.curls.map((c) => c.heading)).toEqual(["# Echo (stdio)"]);
    expect((await curl(dev.curls[0] as Curl)).text).toBe("echo: Hello!");

    // A second init leaves the file alone; --force keeps the old one as .bak.
    writeFileSync(agentsFile, '{"agents": []}');
    const again = await runCli(["init"], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists");
    expect(readFileSync(agentsFile, "utf8")).toBe('{"agents": []}');
    const forced = await runCli(["init", "--force"], { env });
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(`${agentsFile}.bak`, "utf8")).toBe('{"agents": []}');
    expect(readFileSync(agentsFile, "utf8")).toBe(
      readFileSync(join(REPO_ROOT, "agents.example.json"), "utf8"),
    );
  });

  it("lists a configured agent that does not start, with the reason, instead of dropping it", async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-dev-"));
    const agentsFile = join(home, "agents.json");
    // The example's entry, copied without its examples/ folder: the script is not there.
    writeFileSync(
      agentsFile,
      JSON.stringify({
        agents: [{ name: "Echo", command: "node", args: ["examples/echo-stdio-agent.mjs"] }],
      }),
    );
    const dev = await startDev(["--agents", agentsFile], home);
    child = dev.child;
    expect(dev.curls).toEqual([]);
    expect(dev.stdout).toContain("hub ready with 0 agents");
    expect(dev.stdout).toMatch(/# Echo \(stdio, not available\)\n# {3}\S.*\n/);
  });
});
