// Reads the audit record back: the live file and its rotations, oldest first. A line that is
// not an audit record (cut by a full disk, edited by hand) is counted, not fatal.

import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { AuditRecord } from "./audit-log.ts";

interface AuditRead {
  records: AuditRecord[];
  /** Lines that were not audit records. */
  malformed: number;
  /** The files read, oldest first. */
  files: string[];
}

/** Every record at or after `since` (all when null). A missing file reads as none. */
export function readAudit(path: string, since: Date | null = null): AuditRead {
  const files = auditFiles(path);
  const records: AuditRecord[] = [];
  let malformed = 0;
  const from = since?.getTime() ?? Number.NEGATIVE_INFINITY;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // rotated away between listing and reading
    }
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const record = parseRecord(line);
      if (!record) malformed++;
      else if (Date.parse(record.time) >= from) records.push(record);
    }
  }
  return { records, malformed, files };
}

/** `audit.jsonl.3`, `.2`, `.1`, then `audit.jsonl`: the order they were written. */
function auditFiles(path: string): string[] {
  const name = basename(path);
  let entries: string[];
  try {
    entries = readdirSync(dirname(path));
  } catch {
    return [];
  }
  const rotations = entries
    .map((entry) => (entry.startsWith(`${name}.`) ? Number(entry.slice(name.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a)
    .map((n) => join(dirname(path), `${name}.${n}`));
  return entries.includes(name) ? [...rotations, path] : rotations;
}

function parseRecord(line: string): AuditRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object") return null;
  const r = value as Record<string, unknown>;
  const ok =
    typeof r["time"] === "string" &&
    !Number.isNaN(Date.parse(r["time"])) &&
    typeof r["agent"] === "string" &&
    typeof r["room"] === "string" &&
    typeof r["turn"] === "string" &&
    typeof r["type"] === "string" &&
    typeof r["bytes"] === "number" &&
    Array.isArray(r["detections"]) &&
    r["detections"].every(
      (d) =>
        d !== null &&
        typeof d === "object" &&
        typeof d.kind === "string" &&
        typeof d.action === "string" &&
        typeof d.count === "number",
    );
  return ok ? (value as AuditRecord) : null;
}
