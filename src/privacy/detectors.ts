// The built-in detectors: where in a text a secret or a piece of personal data starts and ends.
// Each is linear in the text: prefixed tokens, e-mail addresses, JWTs, PEM blocks and password
// assignments are found from a fixed anchor (indexOf) and grown by hand; numbers (cards, phones,
// IBANs, SSNs) use regular expressions whose matches are short and bounded. None of them can
// backtrack without bound on any input (a 256 KiB run of one character is as fast as prose).

import { cardNumberValid, IBAN_LENGTHS, ibanValid, ssnValid } from "./checksums.ts";
import type { BuiltinKind } from "./kinds.ts";

/** One match: `[start, end)` in the text, which detector rule found it, and its kind. */
export interface RawMatch {
  start: number;
  end: number;
  kind: BuiltinKind;
  rule: string;
}

interface Detector {
  kind: BuiltinKind;
  /** The rule names this detector reports (for documentation and `privacy test`). */
  rules: readonly string[];
  find(text: string, out: RawMatch[]): void;
}

// ---------------------------------------------------------------------------------------------
// Character classes

const isDigit = (c: number) => c >= 48 && c <= 57;
const isUpper = (c: number) => c >= 65 && c <= 90;
const isLower = (c: number) => c >= 97 && c <= 122;
const isAlnum = (c: number) => isDigit(c) || isUpper(c) || isLower(c);
const isWordChar = (c: number) => isAlnum(c) || c === 95; // _
const isUpperAlnum = (c: number) => isDigit(c) || isUpper(c);
/** base64url and most key alphabets: letters, digits, `_`, `-`. */
const isKeyChar = (c: number) => isWordChar(c) || c === 45;

// ---------------------------------------------------------------------------------------------
// Secrets with a known prefix

interface PrefixedToken {
  rule: string;
  prefixes: readonly string[];
  /** Characters of the token after its prefix. */
  body: (c: number) => boolean;
  /** The whole token (prefix included), once grown to its end. */
  accept: (token: string, bodyLength: number) => boolean;
}

const hasDigitAndLetter = (s: string) => /\d/.test(s) && /[A-Za-z]/.test(s);

const PREFIXED_TOKENS: readonly PrefixedToken[] = [
  {
    rule: "hybro_key",
    prefixes: ["hybro_"],
    body: isAlnum,
    accept: (_t, n) => n >= 16,
  },
  {
    // OpenAI (sk-…, sk-proj-…), Anthropic (sk-ant-…) and others. "sk-learn" is too short, and a
    // hyphenated word has no digit.
    rule: "sk_key",
    prefixes: ["sk-"],
    body: isKeyChar,
    accept: (t, n) => n >= 20 && hasDigitAndLetter(t.slice(3)),
  },
  {
    rule: "stripe_key",
    prefixes: ["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
    body: isAlnum,
    accept: (_t, n) => n >= 16,
  },
  {
    rule: "github_token",
    prefixes: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    body: isAlnum,
    accept: (_t, n) => n >= 36 && n <= 251,
  },
  {
    rule: "github_token",
    prefixes: ["github_pat_"],
    body: isWordChar,
    accept: (_t, n) => n >= 30,
  },
  {
    rule: "aws_access_key",
    prefixes: ["AKIA", "ASIA"],
    body: isUpperAlnum,
    accept: (_t, n) => n === 16,
  },
  {
    rule: "slack_token",
    prefixes: ["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxr-", "xoxs-", "xapp-"],
    body: isKeyChar,
    accept: (_t, n) => n >= 10 && /\d/.test(_t),
  },
  {
    rule: "gitlab_token",
    prefixes: ["glpat-"],
    body: isKeyChar,
    accept: (_t, n) => n >= 20,
  },
  {
    rule: "google_api_key",
    prefixes: ["AIza"],
    body: isKeyChar,
    accept: (_t, n) => n === 35,
  },
];

/** Every prefix, longest first, with its token rule: one pass over the text finds them all. */
const PREFIXES = PREFIXED_TOKENS.flatMap((token) =>
  token.prefixes.map((prefix) => ({ prefix, token })),
).sort((a, b) => b.prefix.length - a.prefix.length);
const ANY_PREFIX = new RegExp(PREFIXES.map((p) => p.prefix.replace(/[-]/g, "\\-")).join("|"), "g");

function findPrefixedTokens(text: string, out: RawMatch[]): void {
  ANY_PREFIX.lastIndex = 0;
  for (let m = ANY_PREFIX.exec(text); m !== null; m = ANY_PREFIX.exec(text)) {
    const at = m.index;
    const { prefix, token } = PREFIXES.find((p) => p.prefix === m[0]) as (typeof PREFIXES)[number];
    let end = at + prefix.length;
    while (end < text.length && token.body(text.charCodeAt(end))) end++;
    // A prefix inside a longer word ("task-…" holds "sk-") starts no token.
    const glued = at > 0 && isKeyChar(text.charCodeAt(at - 1));
    const after = end < text.length ? text.charCodeAt(end) : -1;
    if (
      !glued &&
      !isWordChar(after) &&
      token.accept(text.slice(at, end), end - at - prefix.length)
    ) {
      out.push({ start: at, end, kind: "api_key", rule: token.rule });
    }
    // Any later prefix inside this run is glued to it: continue after the run.
    ANY_PREFIX.lastIndex = Math.max(end, at + 1);
  }
}

// ---------------------------------------------------------------------------------------------
// JWT: three base64url segments, the first two JSON objects (`eyJ` is base64 of `{"`)

const JWT_MIN_SEGMENT = 10;

function findJwts(text: string, out: RawMatch[]): void {
  let at = text.indexOf("eyJ");
  while (at >= 0) {
    let next = at + 3;
    if (at === 0 || !isKeyChar(text.charCodeAt(at - 1))) {
      const headerEnd = runEnd(text, at, isKeyChar);
      next = headerEnd;
      if (
        headerEnd - at >= JWT_MIN_SEGMENT &&
        text.charCodeAt(headerEnd) === 46 && // .
        text.startsWith("eyJ", headerEnd + 1)
      ) {
        const payloadEnd = runEnd(text, headerEnd + 1, isKeyChar);
        next = payloadEnd;
        if (payloadEnd - headerEnd - 1 >= JWT_MIN_SEGMENT && text.charCodeAt(payloadEnd) === 46) {
          // The signature may be empty (an unsigned token ends with the dot).
          const end = runEnd(text, payloadEnd + 1, isKeyChar);
          out.push({ start: at, end, kind: "jwt", rule: "jwt" });
          next = end;
        }
      }
    }
    at = text.indexOf("eyJ", Math.max(next, at + 1));
  }
}

function runEnd(text: string, from: number, inRun: (c: number) => boolean): number {
  let end = from;
  while (end < text.length && inRun(text.charCodeAt(end))) end++;
  return end;
}

// ---------------------------------------------------------------------------------------------
// PEM private key blocks (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP … PRIVATE KEY [BLOCK])

const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g;

/**
 * A block runs from its BEGIN line through its END line; without an END line it runs to the end
 * of the text (what follows a private key header is taken to be the key).
 */
function findPemBlocks(text: string, out: RawMatch[]): void {
  let at = text.indexOf("-----BEGIN ");
  while (at >= 0) {
    PEM_BEGIN.lastIndex = at;
    let next = at + 1;
    if (PEM_BEGIN.test(text)) {
      PEM_END.lastIndex = PEM_BEGIN.lastIndex;
      const end = PEM_END.exec(text) ? PEM_END.lastIndex : text.length;
      out.push({ start: at, end, kind: "private_key", rule: "pem_private_key" });
      next = end;
    }
    at = next < text.length ? text.indexOf("-----BEGIN ", next) : -1;
  }
}

/** The END line of a private key block, for a stream that hides what follows a BEGIN line. */
export const PEM_END_MARKER = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/;

// ---------------------------------------------------------------------------------------------
// `password=…`-style assignments: the value is the match, the name stays readable

const SECRET_NAME =
  /passw(?:or)?d|passphrase|secret|api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|private[_-]?key/gi;
/** Names that hold something about a secret, not the secret (`password_file`, `api_key_env`). */
const NOT_A_SECRET_SUFFIX =
  /[_-]?(?:file|path|dir|url|uri|env|name|hint|length|len|policy|prompt|field|label|type|id|regex|pattern|min|max|required|reset|count|hash|manager|store|input)$/i;
const ASSIGN = /["']?[ \t]{0,8}(?::=|=>|[:=])[ \t]{0,8}/y;
const MAX_VALUE = 200;
/** Words that are types, literals or placeholders, not passwords (`password: str`). */
const NOT_A_VALUE = new Set([
  "null",
  "none",
  "nil",
  "undefined",
  "true",
  "false",
  "yes",
  "no",
  "str",
  "string",
  "int",
  "bool",
  "boolean",
  "bytes",
  "number",
  "any",
  "object",
  "optional",
  "secretstr",
  "required",
  "redacted",
  "hidden",
  "masked",
]);
const isNameChar = (c: number) => isKeyChar(c) || c === 46; // letters, digits, _ - .
const VALUE_STOP = new Set([..." \t\r\n\"'`,;&<>"].map((ch) => ch.charCodeAt(0)));

function findAssignments(text: string, out: RawMatch[]): void {
  SECRET_NAME.lastIndex = 0;
  for (let m = SECRET_NAME.exec(text); m !== null; m = SECRET_NAME.exec(text)) {
    const nameStart = runStartBackwards(text, m.index, isNameChar, 64);
    const nameEnd = runEnd(text, m.index + m[0].length, isKeyChar);
    SECRET_NAME.lastIndex = nameEnd;
    if (nameStart > 0 && isAlnum(text.charCodeAt(nameStart - 1))) continue;
    if (NOT_A_SECRET_SUFFIX.test(text.slice(m.index + m[0].length, nameEnd))) continue;
    ASSIGN.lastIndex = nameEnd;
    if (!ASSIGN.test(text)) continue;
    const value = assignedValue(text, ASSIGN.lastIndex);
    if (value) {
      out.push({ start: value.start, end: value.end, kind: "password", rule: "assignment" });
      SECRET_NAME.lastIndex = value.end;
    }
  }
}

function assignedValue(text: string, at: number): { start: number; end: number } | null {
  const quote = text[at];
  if (quote === '"' || quote === "'" || quote === "`") {
    const close = text.indexOf(quote, at + 1);
    if (close < 0 || close - at - 1 > MAX_VALUE) return null;
    const value = text.slice(at + 1, close);
    if (value.includes("\n") || !plausibleValue(value)) return null;
    return { start: at + 1, end: close };
  }
  let end = at;
  while (end < text.length && end - at < MAX_VALUE && !VALUE_STOP.has(text.charCodeAt(end))) end++;
  // A closing bracket or full stop after the value belongs to the sentence or the code around it.
  while (end > at && ").]}".includes(text[end - 1] as string)) end--;
  const value = text.slice(at, end);
  if (!plausibleValue(value)) return null;
  // A call, an index, an object or a template: code that computes the secret, not the secret.
  if (/[([{]/.test(value)) return null;
  // An attribute path (args.password, process.env.DB_PASSWORD) or a bare word (`Password:
  // required`, `password=password`): names, not values.
  if (/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/.test(value) || /^[A-Za-z]+$/.test(value)) {
    return null;
  }
  return { start: at, end };
}

function plausibleValue(value: string): boolean {
  if (value.length < 3) return false;
  if (NOT_A_VALUE.has(value.toLowerCase())) return false;
  // Placeholders: ****, xxxx, ...., <password>, ${VAR}, {{var}}, $VAR, %s.
  if (/^(.)\1*$/.test(value)) return false;
  if (/^<[^>]*>$/.test(value) || /^(?:\$|%|\{\{)/.test(value)) return false;
  return true;
}

function runStartBackwards(
  text: string,
  from: number,
  inRun: (c: number) => boolean,
  max: number,
): number {
  let start = from;
  while (start > 0 && from - start < max && inRun(text.charCodeAt(start - 1))) start--;
  return start;
}

// ---------------------------------------------------------------------------------------------
// E-mail addresses, grown around each `@`

const isLocalChar = (c: number) =>
  isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45; // . _ % + -
const isDomainChar = (c: number) => isAlnum(c) || c === 46 || c === 45; // . -
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13) || c === 160;

function findEmails(text: string, out: RawMatch[]): void {
  let at = text.indexOf("@");
  while (at >= 0) {
    let next = at + 1;
    let start = runStartBackwards(text, at, isLocalChar, 64);
    while (start < at && text.charCodeAt(start) === 46) start++;
    let end = runEnd(text, at + 1, isDomainChar);
    while (end > at + 1 && (text[end - 1] === "." || text[end - 1] === "-")) end--;
    if (start < at && end > at + 1 && validDomain(text.slice(at + 1, end))) {
      if (!inUrlAuthority(text, start)) {
        out.push({ start, end, kind: "email", rule: "email" });
      }
      next = end;
    }
    at = text.indexOf("@", next);
  }
}

function validDomain(domain: string): boolean {
  const labels = domain.split(".");
  if (labels.length < 2) return false;
  const tld = labels.at(-1) as string;
  if (!/^[A-Za-z]{2,24}$/.test(tld)) return false;
  // icon@2x.png and friends: image density suffixes, not addresses.
  if (/^\d+x$/.test(labels[0] as string)) return false;
  return labels.every((l) => l.length >= 1 && l.length <= 63 && !l.startsWith("-"));
}

/** `https://user:pw@host/…`: the part before `@` is a URL's user, not a mailbox. */
function inUrlAuthority(text: string, localStart: number): boolean {
  let tokenStart = localStart;
  while (
    tokenStart > 0 &&
    localStart - tokenStart < 256 &&
    !isSpace(text.charCodeAt(tokenStart - 1))
  )
    tokenStart--;
  const before = text.slice(tokenStart, localStart);
  const scheme = before.lastIndexOf("://");
  return scheme >= 0 && !before.slice(scheme + 3).includes("/");
}

// ---------------------------------------------------------------------------------------------
// Numbers: payment cards, phone numbers, IBANs, US SSNs (short, bounded regular expressions)

interface NumberRule {
  kind: BuiltinKind;
  rule: string;
  regex: RegExp;
  /** The end of the match if it is one, else null. */
  check: (m: RegExpExecArray) => number | null;
}

const NUMBER_RULES: readonly NumberRule[] = [
  {
    kind: "card",
    rule: "card_number",
    // 12–19 digits, optionally in groups; not part of a longer number or a decimal.
    regex: /(?<![\d.,-])\d(?:[ -]?\d){11,18}(?!\d|[.,]\d)/g,
    check: (m) => {
      const text = m[0];
      if (/[ -]/.test(text)) {
        const separators = new Set(text.replace(/\d/g, ""));
        if (separators.size !== 1) return null;
        if (!/^(?:\d{4}[ -]){2,4}\d{1,4}$/.test(text) && !/^\d{4}[ -]\d{6}[ -]\d{4,5}$/.test(text))
          return null;
      }
      return cardNumberValid(text.replace(/[ -]/g, "")) ? m.index + text.length : null;
    },
  },
  {
    kind: "phone",
    rule: "phone_international",
    // +CC then groups, or +CC… in one piece (E.164); 8–15 digits in all.
    regex:
      /(?<![\w+)])\+(?:\d{8,15}|\d{1,4}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]\d{1,8}){1,6})(?!\w|[.-]\d)/g,
    check: (m) => {
      const digits = m[0].replace(/\D/g, "").length;
      return digits >= 8 && digits <= 15 ? m.index + m[0].length : null;
    },
  },
  {
    kind: "phone",
    rule: "phone_us",
    // (NXX) NXX-XXXX, NXX-NXX-XXXX with - . or space, optionally after 1-; never a bare run of
    // ten digits (ids and timestamps), a version (1.2.3.4) or a date (2024-10-12).
    regex:
      /(?<![\w+./-])(?:1[ .-])?(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])\d{3}[ .-]\d{4}(?!\w|[.-]\d)/g,
    check: (m) => m.index + m[0].length,
  },
  {
    kind: "iban",
    rule: "iban",
    regex: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,32}/g,
    check: (m) => {
      const length = IBAN_LENGTHS.get(m[0].slice(0, 2));
      if (length === undefined) return null;
      // The country's length of letters and digits, then no more of them right after.
      let taken = 0;
      let end = 0;
      for (; end < m[0].length && taken < length; end++) if (m[0][end] !== " ") taken++;
      if (taken < length) return null;
      const after = m.input.charCodeAt(m.index + end);
      if (isAlnum(after)) return null;
      return ibanValid(m[0].slice(0, end).replaceAll(" ", "")) ? m.index + end : null;
    },
  },
  {
    kind: "ssn",
    rule: "us_ssn",
    regex: /(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-]|\.\d)/g,
    check: (m) => (ssnValid(m[1]!, m[2]!, m[3]!) ? m.index + m[0].length : null),
  },
];

function findNumbers(rule: NumberRule, text: string, out: RawMatch[]): void {
  const regex = rule.regex;
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    const end = rule.check(m);
    if (end !== null) {
      out.push({ start: m.index, end, kind: rule.kind, rule: rule.rule });
      regex.lastIndex = end;
    } else {
      // A shorter match may start inside this one; every match is short, so this stays linear.
      regex.lastIndex = m.index + 1;
    }
  }
}

// ---------------------------------------------------------------------------------------------

export const DETECTORS: readonly Detector[] = [
  {
    kind: "api_key",
    rules: [...new Set(PREFIXED_TOKENS.map((t) => t.rule))],
    find: findPrefixedTokens,
  },
  { kind: "jwt", rules: ["jwt"], find: findJwts },
  { kind: "private_key", rules: ["pem_private_key"], find: findPemBlocks },
  { kind: "password", rules: ["assignment"], find: findAssignments },
  { kind: "email", rules: ["email"], find: findEmails },
  ...(["card", "phone", "iban", "ssn"] as const).map(
    (kind): Detector => ({
      kind,
      rules: NUMBER_RULES.filter((r) => r.kind === kind).map((r) => r.rule),
      find: (text, out) => {
        for (const rule of NUMBER_RULES) if (rule.kind === kind) findNumbers(rule, text, out);
      },
    }),
  ),
];
