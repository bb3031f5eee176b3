// The audit record: one line per event, mode 0600, rotated like the logs, never a value or any
// content; read back oldest first, with bad lines counted; summed up into the report.
import { createHash } from "node:crypto";
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuditLog, type AuditRecord } from "../../src/privacy/audit-log.ts";
import { readAudit } from "../../src/privacy/audit-read.ts";
import { buildReport, formatReport, parseSince } from "../../src/privacy/report.ts";
import { auditTurn } from "./support.ts";

const SECRET_WORDS = ["ann@example.com", "Titan", "The answer"];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hub-audit-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("the audit file", () => {
  it("has one line per published event: time, agent, room, type, bytes, SHA-256, detections", () => {
    const file = join(dir, "data", "privacy-audit.jsonl");
    const audit = new AuditLog(file, { now: () => new Date("2026-11-15T10:00:00Z") });
    const published = auditTurn(audit, { agent: "Coder", room: "room-1", turn: "amsg-1" }, [
      "The answer: write to ann@example.com ",
      "today. ",
    ]);
    audit.close();
    const text = readFileSync(file, "utf8");
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(lines).toHaveLength(published.length);
    expect(lines.map((l) => l.type)).toEqual(published.map((e) => e.type));
    const first = lines[0] as AuditRecord;
    const json = JSON.stringify(published[0]);
    expect(first).toEqual({
      time: "2026-11-15T10:00:00.000Z",
      agent: "Coder",
      room: "room-1",
      turn: "amsg-1",
      type: "artifact_update",
      bytes: Buffer.byteLength(json),
      sha256: createHash("sha256").update(json).digest("hex"),
      detections: [{ kind: "email", rule: "email", action: "redact", count: 1 }],
    });
    for (const word of SECRET_WORDS) expect(text).not.toContain(word);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "data")).mode & 0o777).toBe(0o700);
  });

  it("records a blocked turn's withheld events without a digest", () => {
    const file = join(dir, "audit.jsonl");
    const audit = new AuditLog(file);
    auditTurn(audit, { agent: "Coder", room: "r", turn: "t" }, [
      "Fine so far. ",
      "The Titan plan ",
    ]);
    audit.close();
    const lines = readAudit(file).records;
    expect(lines.map((l) => `${l.type}${l.withheld ? " withheld" : ""}`)).toEqual([
      "artifact_update",
      "artifact_update withheld",
      "agent_error",
      "processing_status",
    ]);
    expect(lines[1]).toMatchObject({
      bytes: 0,
      detections: [{ kind: "custom", rule: "codename", action: "block", count: 1 }],
    });
    expect(lines[1]).not.toHaveProperty("sha256");
    expect(readFileSync(file, "utf8")).not.toMatch(/Titan|plan/);
  });

  it("makes an existing file private and rotates like the logs (every rotation 0600)", () => {
    const file = join(dir, "audit.jsonl");
    writeFileSync(file, "", { mode: 0o644 });
    const audit = new AuditLog(file, { maxFileBytes: 2_000, keepFiles: 2 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    for (let i = 0; i < 12; i++) {
      auditTurn(audit, { agent: "A", room: "r", turn: `t${i}` }, [`reply ${i} `]);
    }
    audit.close();
    const names = readdirSync(dir).sort();
    expect(names).toEqual(["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]);
    for (const name of names) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
    // Oldest first: the turns come back in the order they were written.
    const turns = readAudit(file).records.map((r) => Number(r.turn.slice(1)));
    expect(turns).toEqual([...turns].sort((a, b) => a - b));
    expect(turns.at(-1)).toBe(11);
  });

  it("reads back only records since a time and counts lines that are not records", () => {
    const file = join(dir, "audit.jsonl");
    let now = new Date("2026-11-14T08:00:00Z");
    const audit = new AuditLog(file, { now: () => now });
    auditTurn(audit, { agent: "A", room: "r", turn: "old" }, ["old reply "]);
    now = new Date("2026-11-15T09:30:00Z");
    auditTurn(audit, { agent: "A", room: "r", turn: "new" }, ["new reply "]);
    audit.close();
    appendFileSync(file, '{"cut off\nnot json\n{"time":"x"}\n');
    const read = readAudit(file, new Date("2026-11-15T00:00:00Z"));
    expect(new Set(read.records.map((r) => r.turn))).toEqual(new Set(["new"]));
    expect(read.malformed).toBe(3);
    expect(readAudit(join(dir, "missing.jsonl"))).toEqual({ records: [], malformed: 0, files: [] });
  });
});

describe("the report", () => {
  it("sums bytes per agent, detections per kind and action, blocked turns, per hour", () => {
    const file = join(dir, "audit.jsonl");
    let now = new Date("2026-11-15T09:10:00Z");
    const audit = new AuditLog(file, { now: () => now });
    auditTurn(audit, { agent: "Coder", room: "r1", turn: "t1" }, ["mail ann@example.com now "]);
    now = new Date("2026-11-15T10:20:00Z");
    auditTurn(audit, { agent: "Notes", room: "r2", turn: "t2" }, ["ok ", "Titan! "]);
    auditTurn(audit, { agent: "Coder", room: "r1", turn: "t3" }, [
      "bob@example.com and ann@example.com ",
    ]);
    audit.close();
    const read = readAudit(file);
    const report = buildReport(read.records, {
      since: new Date("2026-11-15T00:00:00Z"),
      now: new Date("2026-11-15T12:00:00Z"),
    });
    const bytesOf = (agent: string, turn?: string) =>
      read.records
        .filter((r) => r.agent === agent && !r.withheld && (!turn || r.turn === turn))
        .reduce((sum, r) => sum + r.bytes, 0);
    expect(report.agents).toEqual(
      [
        {
          agent: "Coder",
          events: 4,
          bytes: bytesOf("Coder"),
          turns: 2,
          withheld: 0,
          blockedTurns: 0,
        },
        {
          agent: "Notes",
          events: 3,
          bytes: bytesOf("Notes"),
          turns: 1,
          withheld: 1,
          blockedTurns: 1,
        },
      ].sort((a, b) => b.bytes - a.bytes),
    );
    expect(report.kinds).toEqual([
      { kind: "custom", action: "block", count: 1 },
      { kind: "email", action: "redact", count: 3 },
    ]);
    expect(report.blockedTurns).toEqual([
      {
        time: "2026-11-15T10:20:00.000Z",
        agent: "Notes",
        room: "r2",
        turn: "t2",
        kind: "custom",
        rule: "codename",
      },
    ]);
    expect(report.bucket).toBe("hour");
    expect(report.timeline.map((t) => [t.from, t.events, t.detections, t.blockedTurns])).toEqual([
      ["2026-11-15T09:00:00.000Z", 2, 1, 0],
      ["2026-11-15T10:00:00.000Z", 5, 3, 1],
    ]);
    const text = formatReport(report, "last 12h");
    expect(text).toContain("7 events published");
    expect(text).toContain("1 blocked turn");
    expect(text).toMatch(/Notes\s+3\s+[\d.]+ (B|KiB)\s+1\s+1\s+1/);
    expect(text).toMatch(/email\s+redact\s+3/);
    expect(text).toContain("codename (custom)");
  });

  it("reads --since as a duration or a date", () => {
    const now = new Date("2026-11-15T12:00:00Z");
    expect(parseSince("24h", now)?.toISOString()).toBe("2026-11-14T12:00:00.000Z");
    expect(parseSince("30m", now)?.toISOString()).toBe("2026-11-15T11:30:00.000Z");
    expect(parseSince("2w", now)?.toISOString()).toBe("2026-11-01T12:00:00.000Z");
    expect(parseSince("2026-11-01", now)?.toISOString()).toBe("2026-11-01T00:00:00.000Z");
    expect(parseSince("yesterday", now)).toBeNull();
    expect(parseSince("2026-13-45", now)).toBeNull();
  });
});
