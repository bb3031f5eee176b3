// `hybro-hub logs -f` follows hub.log across a rotation (the live path is replaced).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, cliEnv, REPO_ROOT, runCli } from "./cli-runner.ts";

const line = (msg: string) => `${JSON.stringify({ level: 30, time: Date.now(), msg })}\n`;

describe("hybro-hub logs", () => {
  const home = mkdtempSync(join(tmpdir(), "hybro-logs-"));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("says where the log would be when there is none", async () => {
    const result = await runCli(["logs"], { env: cliEnv(home) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no log file at ${join(home, "log", "hub.log")}`);
  });

  it("-f prints new lines, keeps following after a rotation, and ends on Ctrl-C", async () => {
    const file = join(home, "log", "hub.log");
    mkdirSync(join(home, "log"), { recursive: true });
    writeFileSync(file, line("old 1") + line("old 2"));
    const child = spawn(process.execPath, [CLI, "logs", "-f", "-n", "1"], {
      cwd: REPO_ROOT,
      env: cliEnv(home),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    const seen = async (text: string) => {
      const deadline = Date.now() + 10_000;
      while (!out.includes(text)) {
        if (Date.now() > deadline) throw new Error(`"${text}" never printed; got:\n${out}`);
        await sleep(25);
      }
    };
    try {
      await seen('"msg":"old 2"');
      expect(out).not.toContain("old 1");
      appendFileSync(file, line("fresh"));
      await seen('"msg":"fresh"');
      renameSync(file, `${file}.1`);
      writeFileSync(file, line("after rotation"));
      await seen('"msg":"after rotation"');
      child.kill("SIGINT");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
