// Patterns the user writes (custom rules, the allow-list, the Python hub's `sensitive_patterns`)
// run on RE2 (re2js, plain JavaScript), not on the JavaScript engine: RE2 matches in time linear
// in the text for every pattern, so a pattern like `(a+)+$` cannot hang the hub, and no pattern
// has to be refused for what a heuristic guesses it might do. The syntax is RE2's (close to
// Python's: `(?P<name>…)` works); backreferences and lookaround are refused at load with a line
// that says so. All patterns are case-insensitive, as in the Python hub.
//
// re2js is loaded on first use (it costs tens of milliseconds): commands and hubs without
// patterns never load it.

import { createRequire } from "node:module";
import type { RE2JS, RE2Set } from "re2js";

type Re2Module = typeof import("re2js");

const load = createRequire(import.meta.url);
let engine: Re2Module | null = null;
function re2(): Re2Module {
  engine ??= load("re2js") as Re2Module;
  return engine;
}

/** Longest pattern accepted (a policy is written by hand; this only stops pasted accidents). */
export const MAX_PATTERN_LENGTH = 1_000;

const compiled = new Map<string, RE2JS>();

/** Why `source` cannot be used as a pattern, or null when it can. */
export function patternProblem(source: string): string | null {
  if (source.length > MAX_PATTERN_LENGTH) {
    return `is longer than ${MAX_PATTERN_LENGTH} characters`;
  }
  if (/\(\?<?[=!]/.test(source)) {
    return "uses lookaround ((?=…), (?!…), (?<=…), (?<!…)), which patterns do not support (they run on RE2, which matches in linear time); match the text itself instead";
  }
  if (/(?:^|[^\\])(?:\\\\)*\\[1-9]/.test(source)) {
    return "uses a backreference (\\1 …), which patterns do not support (they run on RE2, which matches in linear time)";
  }
  let regex: RE2JS;
  try {
    // Compiled as written first, so that the message quotes the pattern as the user wrote it.
    re2().RE2JS.compile(source);
    regex = userPattern(source);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return `is not a valid pattern: ${message.replace(/^error parsing regexp: /, "")}`;
  }
  if (regex.matches("")) {
    return "matches the empty text, so it would flag every position; make it match at least one character";
  }
  return null;
}

/** The compiled pattern (case-insensitive); throws on an invalid one (check with patternProblem). */
export function userPattern(source: string): RE2JS {
  let regex = compiled.get(source);
  if (!regex) {
    const { RE2JS } = re2();
    regex = RE2JS.compile(source, RE2JS.CASE_INSENSITIVE);
    compiled.set(source, regex);
  }
  return regex;
}

/** True when the pattern matches all of `value` (the allow-list's test). */
export function matchesWhole(source: string, value: string): boolean {
  return userPattern(source).matches(value);
}

/**
 * Several patterns searched together: one pass over the text says which of them match at all
 * (RE2Set), and only those are run again to find where.
 */
export class PatternSet {
  readonly sources: readonly string[];
  #set: RE2Set | null = null;

  constructor(sources: readonly string[]) {
    this.sources = sources;
  }

  /** Calls `found(index, start, end)` for every non-empty match of every pattern. */
  forEachMatch(text: string, found: (index: number, start: number, end: number) => void): void {
    if (this.sources.length === 0 || text.length === 0) return;
    for (const index of this.#gate().match(text)) {
      const matcher = userPattern(this.sources[index] as string).matcher(text);
      while (matcher.find()) {
        const start = matcher.start();
        const end = matcher.end();
        if (end > start) found(index, start, end);
      }
    }
  }

  #gate(): RE2Set {
    if (!this.#set) {
      const { RE2JS, RE2Set } = re2();
      const set = new RE2Set(RE2Set.UNANCHORED, RE2JS.CASE_INSENSITIVE);
      for (const source of this.sources) set.add(source);
      set.compile();
      this.#set = set;
    }
    return this.#set;
  }
}
