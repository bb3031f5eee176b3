// `hybro-hub service install --print` for systemd and launchd, `systemd-analyze verify` on the
// unit where it exists, and the shipped files kept equal to the generator's output.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderLaunchdPlist } from "../../src/service/launchd-plist.ts";
import { TYPICAL_LAUNCHD_SPEC, TYPICAL_SYSTEMD_SPEC } from "../../src/service/shipped-templates.ts";
import { renderSystemdUnit, systemdWord } from "../../src/service/systemd-unit.ts";
import { CLI, cliEnv, REPO_ROOT, runCli } from "./cli-runner.ts";

const KEY = "hybro_ServiceTestKeyThatMustNeverAppear0123";

function systemdAnalyze(): string | null {
  try {
    execFileSync("systemd-analyze", ["--version"], { stdio: "ignore" });
    return "systemd-analyze";
  } catch {
    return null;
  }
}

describe("service install --print", () => {
  let home: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), "hybro-service-"));
    // A key in every place it could leak from: it must not end up in either file.
    env = cliEnv(home, { HYBRO_API_KEY: KEY });
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("prints a user systemd unit with absolute paths, notify readiness, credentials and hardening", async () => {
    const result = await runCli(
      [
        "service",
        "install",
        "--print",
        "--system",
        "systemd",
        "--agents",
        "agents.json",
        "--log-level",
        "debug",
      ],
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    const unit = result.stdout;
    expect(unit).toContain(
      `ExecStart=${process.execPath} --max-semi-space-size=4 --max-old-space-size=512 ${CLI} start --foreground --agents ${join(REPO_ROOT, "agents.json")} --log-level debug`,
    );
    for (const line of [
      "Type=notify",
      "NotifyAccess=all",
      "Restart=on-failure",
      "RestartPreventExitStatus=3",
      `LoadCredential=hybro-api-key:${join(home, "config", "api-key")}`,
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ProtectHome=read-only",
      `ReadWritePaths=-${join(home, "data")} -${join(home, "log")} -${join(home, "run")}`,
      "PrivateTmp=yes",
      `Environment=HYBRO_HUB_HOME=${home}`,
      "Environment=HYBRO_HUB_SERVICE=systemd",
      "Environment=MALLOC_MMAP_THRESHOLD_=131072",
      "WantedBy=default.target",
    ]) {
      expect(unit).toContain(`${line}\n`);
    }
    expect(unit).not.toContain(KEY);
    // --print writes nothing.
    expect(spawnSync("ls", [join(home, "config")]).status).not.toBe(0);
  });

  it("prints a launchd agent that restarts on failure, starts at load and logs to files", async () => {
    const result = await runCli(["service", "install", "--print", "--system", "launchd"], { env });
    expect(result.code, result.stderr).toBe(0);
    const plist = result.stdout;
    expect(plist).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE plist/);
    expect(plist).toContain("<key>Label</key>\n  <string>ai.hybro.hub</string>");
    expect(plist).toContain(
      `<array>\n    <string>${process.execPath}</string>\n    <string>--max-semi-space-size=4</string>\n    <string>--max-old-space-size=512</string>\n    <string>${CLI}</string>\n    <string>start</string>\n    <string>--foreground</string>\n    <string>--log-file</string>\n    <string>${join(home, "log", "hub.log")}</string>\n  </array>`,
    );
    expect(plist).toContain("<key>RunAtLoad</key>\n  <true/>");
    expect(plist).toContain(
      "<key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>",
    );
    expect(plist).toContain(
      `<key>StandardErrorPath</key>\n  <string>${join(home, "log", "launchd.err.log")}</string>`,
    );
    expect(plist).not.toContain(KEY);
    // Every opened element is closed (a cheap well-formedness check without plutil).
    const opened = [...plist.matchAll(/<(dict|array|plist)\b[^>]*>/g)].length;
    const closed = [...plist.matchAll(/<\/(dict|array|plist)>/g)].length;
    expect(opened).toBe(closed);
  });

  const analyze = systemdAnalyze();
  it.skipIf(!analyze)(
    `the generated unit passes systemd-analyze verify${analyze ? "" : " (skipped: systemd-analyze is not installed)"}`,
    async () => {
      const result = await runCli(["service", "install", "--print", "--system", "systemd"], {
        env,
      });
      const dir = join(home, "unit");
      const runtime = join(home, "xdg-runtime");
      mkdirSync(dir, { recursive: true });
      mkdirSync(runtime, { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, "hybro-hub.service"), result.stdout);
      const verify = spawnSync("systemd-analyze", ["verify", "--user", "./hybro-hub.service"], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      });
      expect(verify.status, verify.stderr).toBe(0);
      // Unknown or invalid settings are only warnings: there must be none about our unit.
      expect(verify.stderr).not.toMatch(/hybro-hub\.service/);
    },
  );

  it("keeps the shipped files equal to what the generator writes for a typical install", () => {
    expect(readFileSync(join(REPO_ROOT, "systemd", "hybro-hub.service"), "utf8")).toBe(
      renderSystemdUnit(TYPICAL_SYSTEMD_SPEC),
    );
    expect(readFileSync(join(REPO_ROOT, "launchd", "ai.hybro.hub.plist"), "utf8")).toBe(
      renderLaunchdPlist(TYPICAL_LAUNCHD_SPEC),
    );
  });

  it("quotes unit words so paths with spaces, % and $ reach the daemon unchanged", () => {
    expect(systemdWord("/usr/bin/node")).toBe("/usr/bin/node");
    expect(systemdWord("/home/a b/x")).toBe('"/home/a b/x"');
    expect(systemdWord("50%")).toBe("50%%");
    expect(systemdWord('/x/$HOME "q"')).toBe('"/x/$$HOME \\"q\\""');
  });
});
