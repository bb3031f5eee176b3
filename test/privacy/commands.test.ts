// `hybro-hub privacy test` and `privacy report`, run as the real CLI in a child process.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/privacy/audit-log.ts";
import { cliEnv, runCli } from "../ops/cli-runner.ts";
import { auditTurn, fakeKey } from "./support.ts";

const KEY = fakeKey("ghp_", 36);
const HUB_KEY = fakeKey("hybro_", 40);
const TEXT = `Hello,\nmail ann@example.com, the token is ${KEY}\nand our Titan launch.\n`;

let home: string;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "hub-privacy-cli-"));
  mkdirSync(join(home, "config"), { recursive: true });
  writeFileSync(
    join(home, "config", "config.json"),
    JSON.stringify({ privacy: { personal: "redact" } }),
    { mode: 0o600 },
  );
  writeFileSync(
    join(home, "config", "agents.json"),
    JSON.stringify({
      agents: [{ name: "Coder", url: "http://127.0.0.1:9" }],
      privacy: { Coder: { custom: [{ name: "codename", keywords: ["titan"], action: "block" }] } },
    }),
  );
  writeFileSync(join(home, "reply.txt"), TEXT);
  env = cliEnv(home);
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("privacy test", () => {
  it("lists what the hub-wide policy flags, masked, and what would leave", async () => {
    const result = await runCli(["privacy", "test", join(home, "reply.txt"), "--print"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Using the hub-wide policy: api_key redact");
    expect(result.stdout).toMatch(/2:6 +redact +email \(email\) +an\*+om \(15 chars\)/);
    expect(result.stdout).toMatch(
      /2:36 +redact +api_key \(github_token\) +ghp\*+[A-Za-z0-9]{3} \(40 chars\)/,
    );
    expect(result.stdout).toContain("Would leave with 2 values redacted.");
    expect(result.stdout).toContain(
      "--- as it would leave ---\nHello,\nmail [redacted:email], the token is [redacted:api_key]\nand our Titan launch.\n",
    );
    expect(result.stdout).not.toContain(KEY);
    expect(result.stdout).not.toContain("ann@example.com");
  });

  it("uses the agent's own policy, read from standard input, and says what a block does", async () => {
    const result = await runCli(["privacy", "test", "-", "--agent", "Coder"], { env, input: TEXT });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Using the policy of "Coder"');
    expect(result.stdout).toMatch(/3:9 +block +custom \(codename\) +T\*+n \(5 chars\)/);
    expect(result.stdout).toContain(
      'Would be BLOCKED: the turn would fail with PolicyBlocked: The hub\'s privacy policy stopped this reply: rule "codename" (kind custom)',
    );
  });

  it("flags the hub's own key, even with secrets off, and answers in JSON", async () => {
    writeFileSync(
      join(home, "config", "agents.json"),
      JSON.stringify({
        agents: [{ name: "Coder", url: "http://127.0.0.1:9" }],
        privacy: { Coder: { secrets: "off" } },
      }),
    );
    const result = await runCli(["privacy", "test", "--agent", "Coder", "--json", "--print"], {
      env: { ...env, HYBRO_API_KEY: HUB_KEY },
      input: `key ${HUB_KEY} and ${KEY}`,
    });
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.findings).toEqual([
      {
        line: 1,
        column: 5,
        kind: "api_key",
        rule: "hub_api_key",
        action: "redact",
        value: expect.stringMatching(/^hyb\*+[A-Za-z0-9]{3} \(46 chars\)$/),
      },
    ]);
    expect(json.output).toBe(`key [redacted:api_key] and ${KEY}`);
    expect(json.blocked).toBeNull();
    expect(result.stdout).not.toContain(HUB_KEY);
  });

  it("refuses an unknown agent (2) and a broken policy (1) with one line naming it", async () => {
    const unknown = await runCli(["privacy", "test", "--agent", "Nobody"], { env, input: "x" });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^error: no agent named "Nobody" in .*agents\.json \(agents: Coder\)/,
    );
    const broken = mkdtempSync(join(tmpdir(), "hub-privacy-cli-bad-"));
    mkdirSync(join(broken, "config"));
    writeFileSync(
      join(broken, "config", "config.json"),
      JSON.stringify({ privacy: { custom: [{ name: "x", patterns: ["(a|b"] }] } }),
      { mode: 0o600 },
    );
    const bad = await runCli(["privacy", "test"], { env: cliEnv(broken), input: "x" });
    rmSync(broken, { recursive: true, force: true });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^error: .*config\.json: privacy\.custom\[0\]\.patterns\[0\] "\(a\|b" is not a valid pattern: missing closing \)/,
    );
  });
});

describe("privacy report", () => {
  it("sums up the audit record, as text and as JSON, within --since", async () => {
    mkdirSync(join(home, "data"), { recursive: true });
    const file = join(home, "data", "privacy-audit.jsonl");
    let now = new Date(Date.now() - 3 * 24 * 3_600_000);
    const audit = new AuditLog(file, { now: () => now });
    auditTurn(audit, { agent: "Coder", room: "r0", turn: "old" }, ["ann@example.com "]);
    now = new Date(Date.now() - 3_600_000);
    auditTurn(audit, { agent: "Coder", room: "r1", turn: "t1" }, ["mail bob@example.com "]);
    auditTurn(audit, { agent: "Notes", room: "r2", turn: "t2" }, ["fine ", "Titan "]);
    audit.close();

    const text = await runCli(["privacy", "report"], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^Privacy report, last 24h \(.*\): 5 events published, .* out, 2 detections, 1 blocked turn\n/,
    );
    expect(text.stdout).toMatch(/\n {2}Coder +2 +[\d.]+ (B|KiB) +1 +0 +0\n/);
    expect(text.stdout).toMatch(/\n {2}custom +block +1\n {2}email +redact +1\n/);
    expect(text.stdout).toContain("codename (custom)");

    const json = await runCli(["privacy", "report", "--since", "all", "--json"], { env });
    const report = JSON.parse(json.stdout);
    expect(report.events).toBe(7);
    expect(report.kinds).toEqual([
      { kind: "custom", action: "block", count: 1 },
      { kind: "email", action: "redact", count: 2 },
    ]);
    expect(report.bucket).toBe("day");
  });

  it("refuses a --since it cannot read", async () => {
    const result = await runCli(["privacy", "report", "--since", "last week"], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: --since "last week" is neither a duration');
  });
});
