// Incoming user text, classified as the Python hub does (hub/privacy_router.py there) for people
// who migrate: the configured `sensitive_keywords` (case-insensitive substrings), then the
// `sensitive_patterns` (case-insensitive), then the built-in detectors; the first hit makes the
// message HIGH, else it is LOW. Only logged: the message still goes to the agent (the user sent
// it to their own agent). Pure; the hub logs the line `incomingLogLine` gives.

import type { BuiltinKind } from "./kinds.ts";
import { userPattern } from "./patterns.ts";
import { compilePolicy, type Policy } from "./policy.ts";
import { findAll } from "./scan.ts";

type Sensitivity = "HIGH" | "LOW";

type IncomingMatch =
  | { source: "keyword"; keyword: string }
  | { source: "pattern"; index: number }
  | { source: "detector"; kind: BuiltinKind };

interface IncomingClassification {
  level: Sensitivity;
  /** What made it HIGH (never the matched text). */
  match: IncomingMatch | null;
}

interface IncomingSettings {
  keywords: readonly string[];
  /** Checked already (policy-spec.ts); an invalid one throws here. */
  patterns: readonly string[];
}

/** Every built-in detector on, none changing anything: only whether something is there. */
let detectors: Policy | null = null;

export class IncomingClassifier {
  readonly #keywords: Array<{ keyword: string; lower: string }>;
  readonly #patterns: readonly string[];

  constructor(settings: IncomingSettings) {
    this.#keywords = settings.keywords.map((keyword) => ({
      keyword,
      lower: keyword.toLowerCase(),
    }));
    this.#patterns = settings.patterns;
    for (const pattern of this.#patterns) userPattern(pattern); // compile now, not on a message
  }

  classify(text: string): IncomingClassification {
    const lower = text.toLowerCase();
    for (const { keyword, lower: k } of this.#keywords) {
      if (lower.includes(k)) return { level: "HIGH", match: { source: "keyword", keyword } };
    }
    for (const [index, pattern] of this.#patterns.entries()) {
      if (userPattern(pattern).test(text)) {
        return { level: "HIGH", match: { source: "pattern", index } };
      }
    }
    detectors ??= compilePolicy([{ secrets: "log", personal: "log" }]);
    const first = findAll(detectors, text)[0];
    if (first && first.kind !== "custom") {
      return { level: "HIGH", match: { source: "detector", kind: first.kind } };
    }
    return { level: "LOW", match: null };
  }
}

/** The warning for a HIGH message (null for LOW), naming what matched but never the text. */
export function incomingLogLine(result: IncomingClassification, agentName: string): string | null {
  if (result.level !== "HIGH" || !result.match) return null;
  const why =
    result.match.source === "keyword"
      ? `sensitive keyword "${result.match.keyword}"`
      : result.match.source === "pattern"
        ? `sensitive_patterns[${result.match.index}]`
        : `${result.match.kind.replace("_", " ")} detected`;
  return `message to "${agentName}" classified as HIGH sensitivity (${why}); logged only, it is still sent to the agent`;
}
