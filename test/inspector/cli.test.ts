// `hybro-hub start --inspect` as a user runs it (real CLI processes, a stdio agent child, the
// development relay): the URL with the token is printed once and is nowhere else — not in the
// hub's or its agent's argv or environment, not in the log — and another local user gets 401.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { CLI, cliEnv, daemonPidsFor, REPO_ROOT, runCli } from "../ops/cli-runner.ts";
import { nodeForOtherUser, otherUserUnavailable, runAsOtherUser } from "../support/other-user.ts";

const INSPECTOR_LINE = /^inspector: (http:\/\/127\.0\.0\.1:\d+\/t\/([\w-]+)\/)$/m;

/** Pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

describe("start --inspect", () => {
  let relay: DevRelay;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let agentsFile: string;
  let foreground: ChildProcess | null = null;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-inspect-"));
    relay = await startDevRelay({ port: 0, memory: true });
    const { key } = relay.createKey({ name: "hub", scopes: ["*"] });
    env = cliEnv(home, { HYBRO_GATEWAY_URL: relay.url, HYBRO_API_KEY: key });
    agentsFile = join(home, "agents.json");
    writeFileSync(
      agentsFile,
      JSON.stringify({
        agents: [
          {
            name: "Echo",
            command: process.execPath,
            args: [join(REPO_ROOT, "examples/echo-stdio-agent.mjs")],
          },
        ],
      }),
    );
  });
  afterAll(async () => {
    if (foreground && foreground.exitCode === null) foreground.kill("SIGKILL");
    for (const leftover of daemonPidsFor(home)) process.kill(leftover, "SIGKILL");
    await relay?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("prints the URL once; the token is in no argv, environment or log; others get 401", async () => {
    const logDir = join(home, "logs");
    mkdirSync(logDir, { mode: 0o700 });
    const logFile = join(logDir, "hub.log");
    const child = spawn(
      process.execPath,
      [
        CLI,
        "start",
        "--foreground",
        "--inspect",
        "127.0.0.1:0",
        "--agents",
        agentsFile,
        "--log-file",
        logFile,
        "--log-level",
        "debug",
      ],
      { env, cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    foreground = child;
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", () => {
        if (stdout.includes("hub ready")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`hub exited (${code}): ${stderr}`)));
    });
    const [, url, token] = INSPECTOR_LINE.exec(stdout) as unknown as [string, string, string];
    expect(token.length).toBeGreaterThanOrEqual(40);
    expect(stdout.split(token).length - 1).toBe(1); // printed once
    const pid = child.pid as number;

    // Not in the hub's argv or environment, nor in its agent's (a child process).
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(token);
    expect(readFileSync(`/proc/${pid}/environ`, "utf8")).not.toContain(token);
    const agents = childrenOf(pid);
    expect(agents.length).toBeGreaterThan(0);
    for (const agentPid of agents) {
      expect(readFileSync(`/proc/${agentPid}/cmdline`, "utf8")).not.toContain(token);
      expect(readFileSync(`/proc/${agentPid}/environ`, "utf8")).not.toContain(token);
    }

    // It works with the token, and logs nothing of it when refused or used.
    const origin = new URL(url).origin;
    expect((await fetch(`${url}api/turns`)).status).toBe(200);
    expect((await fetch(`${origin}/api/turns`)).status).toBe(401);
    expect(
      (await fetch(`${url}api/turns`, { headers: { origin: "http://evil.example" } })).status,
    ).toBe(403);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("hybro-hub inspector");

    // `status` (the control socket: this user only) shows the whole URL.
    const status = await runCli(["status", "--json"], { env });
    expect(JSON.parse(status.stdout).inspectorUrl).toBe(url);

    if (otherUserUnavailable === null) {
      // Another local user: can reach the port and read the process list, nothing more.
      const script = `
        const fs = require("node:fs");
        const read = (file) => { try { return fs.readFileSync(file, "utf8"); } catch (e) { return "ERR " + e.code; } };
        (async () => {
          const answers = {};
          for (const path of ["/", "/api/turns", "/api/events"]) answers[path] = (await fetch(process.argv[1] + path)).status;
          console.log(JSON.stringify({ answers, cmdline: read("/proc/${pid}/cmdline"), environ: read("/proc/${pid}/environ"), log: read(process.argv[2]) }));
        })();`;
      const seen = JSON.parse(
        runAsOtherUser(nodeForOtherUser(), ["-e", script, origin, logFile]),
      ) as {
        answers: Record<string, number>;
        cmdline: string;
        environ: string;
        log: string;
      };
      expect(seen.answers).toEqual({ "/": 401, "/api/turns": 401, "/api/events": 401 });
      expect(seen.cmdline).toContain("--inspect");
      expect(seen.cmdline).not.toContain(token);
      expect(seen.environ).toMatch(/^ERR /);
      expect(seen.log).toMatch(/^ERR /);
    } else {
      console.warn(`skipped the other-user part: ${otherUserUnavailable}`);
    }

    child.kill("SIGTERM");
    await once(child, "exit");
    foreground = null;
    const log = readFileSync(logFile, "utf8");
    expect(log).toContain("inspector on");
    expect(log).not.toContain(token);
    expect(log).not.toContain("/t/");
    expect(stderr).not.toContain(token);
  }, 60_000);

  it("a background start prints the URL from the launcher, and the daemon logs no token", async () => {
    const started = await runCli(["start", "--inspect", "127.0.0.1:0", "--agents", agentsFile], {
      env,
    });
    try {
      expect(started.code).toBe(0);
      const [, url, token] = INSPECTOR_LINE.exec(started.stdout) as unknown as [
        string,
        string,
        string,
      ];
      expect((await fetch(`${url}api/agents`)).status).toBe(200);
      const [pid] = daemonPidsFor(home);
      expect(pid).toBeDefined();
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(token);
      const stopped = await runCli(["stop"], { env });
      expect(stopped.code).toBe(0);
      const files = readdirSync(home, { recursive: true, withFileTypes: true }).filter(
        (entry) => entry.isFile() && /\.log/.test(entry.name),
      );
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        expect(readFileSync(join(file.parentPath, file.name), "utf8")).not.toContain(token);
      }
    } finally {
      for (const leftover of daemonPidsFor(home)) process.kill(leftover, "SIGKILL");
    }
  }, 60_000);

  it("refuses an address that is not loopback, in one line", async () => {
    for (const args of [
      ["start", "--foreground", "--inspect", "0.0.0.0:4040", "--agents", agentsFile],
      ["start", "--inspect", "192.168.1.2:4040", "--agents", agentsFile],
    ]) {
      const result = await runCli(args, { env });
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(/--inspect .*loopback address only/);
    }
    expect(daemonPidsFor(home)).toEqual([]);
  });
});
