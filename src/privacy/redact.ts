// Puts placeholders in place of the text-changing findings of one stretch of text.

import type { Placeholders } from "./placeholders.ts";
import { type Finding, textRegions } from "./scan.ts";

/**
 * `text.slice(from, to)` with every redact/block finding replaced by its placeholder
 * (overlapping findings become one placeholder; a finding reaching outside the stretch is cut
 * to it).
 */
export function redactText(
  text: string,
  from: number,
  to: number,
  findings: readonly Finding[],
  placeholders: Placeholders,
): string {
  let out = "";
  let at = from;
  for (const region of textRegions(findings)) {
    const start = Math.max(region.start, from);
    const end = Math.min(region.end, to);
    if (end <= start || start < at) continue;
    out += text.slice(at, start);
    out += placeholders.for(region.decisive.label, text.slice(region.start, region.end));
    at = end;
  }
  return out + text.slice(at, to);
}
