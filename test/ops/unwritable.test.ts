// Folders the hub cannot write (a read-only home, a folder made by root with sudo): every command
// ends with one line naming the folder and what to do, never a stack trace. Permissions do not
// stop root, so as root the CLI runs as the throwaway other user, in folders that user owns.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { OTHER_UID, otherUserUnavailable } from "../support/other-user.ts";
import { type CliResult, cliEnv, daemonPidsFor, runCli } from "./cli-runner.ts";

const asRoot = process.getuid?.() === 0;
// As root the CLI must run as another uid (root writes anywhere); elsewhere it runs as itself.
const cannotRun = asRoot ? otherUserUnavailable : null;
const KEY = `hybro_${"k".repeat(40)}`;

function expectOneLine(result: CliResult, pattern: RegExp): void {
  const said = `code ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.code, said).toBe(1);
  expect(result.stderr.trim().split("\n"), said).toHaveLength(1);
  expect(result.stderr, said).toMatch(pattern);
  expect(result.stderr, said).not.toMatch(/\n\s+at |node:internal|Node\.js v/);
}

describe.skipIf(cannotRun)(
  `folders the hub cannot write${cannotRun ? ` (skipped: ${cannotRun})` : ""}`,
  () => {
    let parent: string;
    let home: string;
    let env: NodeJS.ProcessEnv;
    const run = (args: string[], input?: string) =>
      runCli(args, { env, input, asOtherUser: asRoot, timeoutMs: 20_000 });

    beforeAll(() => {
      parent = mkdtempSync(join(tmpdir(), "hybro-readonly-"));
      chmodSync(parent, 0o755);
    });
    afterEach(() => {
      for (const pid of daemonPidsFor(home)) process.kill(pid, "SIGKILL");
      rmSync(home, { recursive: true, force: true });
    });
    afterAll(() => rmSync(parent, { recursive: true, force: true }));

    /** A fresh HYBRO_HUB_HOME of the user the CLI runs as, with `readOnly` made read-only. */
    const freshHome = (readOnly: string) => {
      home = join(parent, `home-${readOnly}`);
      for (const name of ["", "config", "data", "log", "run"]) {
        mkdirSync(join(home, name), { mode: 0o700 });
        if (asRoot) spawnSync("chown", [`${OTHER_UID}:${OTHER_UID}`, join(home, name)]);
      }
      chmodSync(join(home, readOnly), 0o500);
      env = cliEnv(home, { HYBRO_API_KEY: KEY, HYBRO_GATEWAY_URL: "http://127.0.0.1:9" });
    };

    it("data folder: start (foreground and background) says which folder, in one line", async () => {
      freshHome("data");
      const pattern = new RegExp(`cannot write .*${join(home, "data")}.*not writable`);
      expectOneLine(await run(["start", "--foreground"]), pattern);
      expectOneLine(await run(["start"]), pattern);
    });

    it("config folder: config set-key says which folder, in one line", async () => {
      freshHome("config");
      expectOneLine(
        await run(["config", "set-key"], `${KEY}\n`),
        new RegExp(`cannot write .*${join(home, "config")}.*not writable`),
      );
    });

    it("log folder: a background start says which folder, in one line", async () => {
      freshHome("log");
      expectOneLine(await run(["start"]), new RegExp(`cannot write .*${join(home, "log")}`));
    });
  },
);
