// `privacy report`: what the audit record says left, summed up. Pure: records in, a report out,
// and its text form.

import type { AuditRecord } from "./audit-log.ts";

interface AgentTotals {
  agent: string;
  events: number;
  bytes: number;
  turns: number;
  withheld: number;
  blockedTurns: number;
}

interface KindTotals {
  kind: string;
  action: string;
  count: number;
}

interface BlockedTurn {
  time: string;
  agent: string;
  room: string;
  turn: string;
  kind: string;
  rule: string;
}

interface TimeBucket {
  from: string;
  events: number;
  bytes: number;
  detections: number;
  blockedTurns: number;
}

interface PrivacyReport {
  /** Start of the window (null: everything recorded). */
  since: string | null;
  until: string;
  /** Events published (withheld ones not included). */
  events: number;
  bytes: number;
  withheld: number;
  detections: number;
  agents: AgentTotals[];
  kinds: KindTotals[];
  blockedTurns: BlockedTurn[];
  bucket: "hour" | "day" | "week";
  timeline: TimeBucket[];
  /** Lines of the audit files that were not records. */
  malformed: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function buildReport(
  records: readonly AuditRecord[],
  options: { since: Date | null; now: Date; malformed?: number },
): PrivacyReport {
  const first = records[0] ? Date.parse(records[0].time) : options.now.getTime();
  const start = options.since?.getTime() ?? first;
  const span = options.now.getTime() - start;
  const bucket = span <= 2 * DAY ? "hour" : span <= 14 * DAY ? "day" : "week";
  const size = bucket === "hour" ? HOUR : bucket === "day" ? DAY : 7 * DAY;

  const agents = new Map<string, AgentTotals & { turnSet: Set<string>; blockedSet: Set<string> }>();
  const kinds = new Map<string, KindTotals>();
  const blocked = new Map<string, BlockedTurn>();
  const buckets = new Map<number, TimeBucket & { blockedSet: Set<string> }>();
  let events = 0;
  let bytes = 0;
  let withheld = 0;
  let detections = 0;

  for (const record of records) {
    const time = Date.parse(record.time);
    let agent = agents.get(record.agent);
    if (!agent) {
      agent = {
        agent: record.agent,
        events: 0,
        bytes: 0,
        turns: 0,
        withheld: 0,
        blockedTurns: 0,
        turnSet: new Set(),
        blockedSet: new Set(),
      };
      agents.set(record.agent, agent);
    }
    const slot = Math.floor(time / size) * size;
    let span = buckets.get(slot);
    if (!span) {
      span = {
        from: new Date(slot).toISOString(),
        events: 0,
        bytes: 0,
        detections: 0,
        blockedTurns: 0,
        blockedSet: new Set(),
      };
      buckets.set(slot, span);
    }
    const turnKey = `${record.room}\0${record.turn}`;
    agent.turnSet.add(turnKey);
    if (record.withheld) {
      withheld++;
      agent.withheld++;
    } else {
      events++;
      bytes += record.bytes;
      agent.events++;
      agent.bytes += record.bytes;
      span.events++;
      span.bytes += record.bytes;
    }
    for (const d of record.detections) {
      detections += d.count;
      span.detections += d.count;
      const key = `${d.kind}\0${d.action}`;
      const totals = kinds.get(key) ?? { kind: d.kind, action: d.action, count: 0 };
      totals.count += d.count;
      kinds.set(key, totals);
      if (d.action === "block" && record.withheld && !blocked.has(turnKey)) {
        blocked.set(turnKey, {
          time: record.time,
          agent: record.agent,
          room: record.room,
          turn: record.turn,
          kind: d.kind,
          rule: d.rule,
        });
        agent.blockedSet.add(turnKey);
        span.blockedSet.add(turnKey);
      }
    }
  }

  return {
    since: options.since?.toISOString() ?? null,
    until: options.now.toISOString(),
    events,
    bytes,
    withheld,
    detections,
    agents: [...agents.values()]
      .map(({ turnSet, blockedSet, ...totals }) => ({
        ...totals,
        turns: turnSet.size,
        blockedTurns: blockedSet.size,
      }))
      .sort((a, b) => b.bytes - a.bytes || a.agent.localeCompare(b.agent)),
    kinds: [...kinds.values()].sort(
      (a, b) => a.kind.localeCompare(b.kind) || a.action.localeCompare(b.action),
    ),
    blockedTurns: [...blocked.values()],
    bucket,
    timeline: [...buckets.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, { blockedSet, ...totals }]) => ({ ...totals, blockedTurns: blockedSet.size })),
    malformed: options.malformed ?? 0,
  };
}

/** The report as text for a terminal. */
export function formatReport(report: PrivacyReport, window: string): string {
  const lines: string[] = [];
  const blockedCount = report.blockedTurns.length;
  lines.push(
    `Privacy report, ${window} (${shortTime(report.since ?? report.timeline[0]?.from ?? report.until)} → ${shortTime(report.until)}): ` +
      `${report.events} event${report.events === 1 ? "" : "s"} published, ${size(report.bytes)} out, ` +
      `${report.detections} detection${report.detections === 1 ? "" : "s"}, ` +
      `${blockedCount} blocked turn${blockedCount === 1 ? "" : "s"}`,
  );
  if (report.events + report.withheld === 0) {
    lines.push("", "Nothing recorded in this window.");
    return `${lines.join("\n")}\n`;
  }
  lines.push("", "Out per agent");
  lines.push(
    ...table(
      ["agent", "events", "bytes", "turns", "withheld", "blocked turns"],
      report.agents.map((a) => [
        a.agent,
        String(a.events),
        size(a.bytes),
        String(a.turns),
        String(a.withheld),
        String(a.blockedTurns),
      ]),
    ),
  );
  lines.push("", "Detections and actions per kind");
  lines.push(
    ...(report.kinds.length === 0
      ? ["  none"]
      : table(
          ["kind", "action", "count"],
          report.kinds.map((k) => [k.kind, k.action, String(k.count)]),
        )),
  );
  if (blockedCount > 0) {
    lines.push("", "Blocked turns");
    lines.push(
      ...table(
        ["time", "agent", "room", "turn", "rule (kind)"],
        report.blockedTurns.map((b) => [
          shortTime(b.time),
          b.agent,
          b.room,
          b.turn,
          `${b.rule} (${b.kind})`,
        ]),
      ),
    );
  }
  lines.push("", `Over time (per ${report.bucket})`);
  lines.push(
    ...table(
      ["from", "events", "bytes", "detections", "blocked turns"],
      report.timeline.map((t) => [
        shortTime(t.from),
        String(t.events),
        size(t.bytes),
        String(t.detections),
        String(t.blockedTurns),
      ]),
    ),
  );
  if (report.malformed > 0) {
    lines.push(
      "",
      `${report.malformed} line(s) of the audit files were not records and were skipped.`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => /^[\d.]+( \w+)?$/.test(r[i] ?? "")),
  );
  const line = (cells: string[]) =>
    `  ${cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd()}`;
  return [line(header), ...rows.map(line)];
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** `2026-11-15 10:00Z` */
function shortTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
}

/**
 * `--since`: a duration back from now (`90s`, `30m`, `24h`, `7d`, `2w`) or a date/time
 * (`2026-11-01`, `2026-11-01T09:00Z`). Null when it is neither.
 */
export function parseSince(text: string, now: Date): Date | null {
  const duration = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (duration) {
    const unit = { s: 1000, m: 60_000, h: HOUR, d: DAY, w: 7 * DAY }[
      duration[2] as "s" | "m" | "h" | "d" | "w"
    ];
    return new Date(now.getTime() - Number(duration[1]) * unit);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const time = Date.parse(text.trim());
    return Number.isNaN(time) ? null : new Date(time);
  }
  return null;
}
