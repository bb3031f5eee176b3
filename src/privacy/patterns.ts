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
const MAX_PATTERN_LENGTH = 1_000;

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
 * Several patterns searched together. Most texts hold none of them, so first a cheap test: a
 * pattern that starts with plain characters (`PROJ-\d{4}` starts with "proj-") cannot match a
 * text without them. The rest go through one RE2 pass that says which match at all (RE2Set), and
 * only those are run again to find where.
 */
export class PatternSet {
  readonly sources: readonly string[];
  /** Each pattern's required leading text (lower-case ASCII), or null. */
  readonly #literals: ReadonlyArray<string | null>;
  #set: RE2Set | null = null;

  constructor(sources: readonly string[]) {
    this.sources = sources;
    this.#literals = sources.map(leadingLiteral);
  }

  /** Calls `found(index, start, end)` for every non-empty match of every pattern. */
  forEachMatch(text: string, found: (index: number, start: number, end: number) => void): void {
    if (this.sources.length === 0 || text.length === 0) return;
    const lower = text.toLowerCase();
    // ſ (long s) matches "s" case-insensitively but does not lower-case to it.
    const longS = lower.includes("\u017f");
    const candidates = this.#literals.flatMap((literal, index) =>
      literal === null || lower.includes(literal) || (longS && literal.includes("s"))
        ? [index]
        : [],
    );
    if (candidates.length === 0) return;
    const matching = candidates.length === 1 ? candidates : this.#gate().match(text);
    for (const index of matching) {
      if (candidates.length > 1 && !candidates.includes(index)) continue;
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

/** Characters that stand for themselves in a pattern (outside a class). */
const PLAIN = /[A-Za-z0-9 _\-:=@#%&'"<>,;~`!/]/;
/** Characters a backslash makes plain. */
const ESCAPED_PLAIN = /[.\\/\-+*?()[\]{}|^$]/;

/**
 * The text every match of `source` starts with, lower-case, when it is at least 2 plain ASCII
 * characters and the pattern has no top-level alternative; else null (no shortcut).
 */
export function leadingLiteral(source: string): string | null {
  if (hasTopLevelAlternation(source)) return null;
  let literal = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (PLAIN.test(c)) {
      literal += c;
      i++;
    } else if (c === "\\" && ESCAPED_PLAIN.test(source[i + 1] ?? "")) {
      literal += source[i + 1];
      i += 2;
    } else break;
  }
  // A quantifier makes the last character optional or repeated: keep only what is certain.
  if (i < source.length && "*?{+".includes(source[i] as string)) literal = literal.slice(0, -1);
  return literal.length >= 2 ? literal.toLowerCase() : null;
}

function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) return true;
  }
  return false;
}
