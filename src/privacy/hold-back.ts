// How much of a stream's text must wait for the next chunk: only the tail that could still be
// the beginning of something the policy would change (redact or block). A policy that only logs
// holds nothing back; a match that starts in text already sent is still found (the stream keeps
// some sent text as context), it just cannot be taken back.

import type { Policy } from "./policy.ts";

/** At most this much of a stream waits for the next chunk (a longer unfinished word goes out). */
export const MAX_HOLD_CHARS = 4096;

const SECRET_NAME_OPEN_QUOTE =
  /(?:passw(?:or)?d|passphrase|secret|api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|private[_-]?key)[A-Za-z0-9_-]*["']?[ \t]{0,8}(?::=|=>|[:=])[ \t]{0,8}["'`]([^"'`\r\n]*)$/i;

/**
 * Where the tail to hold back starts: an index in `[from, text.length]` (`text.length` when
 * nothing needs to wait). `from` is where the not yet sent text starts.
 */
export function holdBackFrom(policy: Policy, text: string, from: number): number {
  const hold = policy.compiled.hold;
  const end = text.length;
  if (from >= end) return end;
  let start = end;
  if (hold.words) {
    // The last unfinished word: a key, an address, a JWT, a number may go on in the next chunk.
    while (start > from && !isSpace(text.charCodeAt(start - 1))) start--;
    if (hold.numbers) start = Math.min(start, groupedNumberStart(text, start, from));
    // The next two look into sent text too: a name or BEGIN line sent earlier still counts.
    if (hold.assignments) {
      // An open quote after a secret's name: the value goes on until the closing quote.
      const open = SECRET_NAME_OPEN_QUOTE.exec(text.slice(Math.max(0, end - 256)));
      if (open) start = Math.min(start, end - (open[1] as string).length);
    }
    if (hold.pem) {
      const begin = text.lastIndexOf("-----BEGIN", end);
      if (begin >= 0 && begin >= end - 80 && !text.includes("-----", begin + 10)) {
        start = Math.min(start, begin);
      }
    }
  }
  // Keywords and the hub's key: only a tail that is their beginning ("hybro_a…" of the key).
  for (const literal of hold.literals) start = Math.min(start, partialLiteral(text, literal, true));
  for (const literal of hold.exactLiterals)
    start = Math.min(start, partialLiteral(text, literal, false));
  return Math.max(from, start, end - MAX_HOLD_CHARS);
}

/**
 * Digits in groups (4111 1111 1111 …, +44 20 7946 …, DE89 3704 …) before `start`: a card,
 * phone or IBAN may be complete only after the next chunk.
 */
function groupedNumberStart(text: string, start: number, from: number): number {
  let at = start;
  let sawDigit = /\d/.test(text.slice(start));
  for (let groups = 0; groups < 12; groups++) {
    let sep = at;
    while (sep > from && at - sep < 2 && isSeparator(text.charCodeAt(sep - 1))) sep--;
    if (sep === at) break;
    let group = sep;
    while (group > from && sep - group < 9 && isGroupChar(text.charCodeAt(group - 1))) group--;
    if (group === sep || sep - group > 8) break;
    if (/\d/.test(text.slice(group, sep))) sawDigit = true;
    at = group;
  }
  return sawDigit ? at : start;
}

/** The start of the longest beginning of `literal` that ends the text, or the text's end. */
function partialLiteral(text: string, literal: string, ignoreCase: boolean): number {
  const max = Math.min(literal.length - 1, text.length);
  for (let k = max; k > 0; k--) {
    const tail = text.slice(text.length - k);
    if ((ignoreCase ? tail.toLowerCase() : tail) === literal.slice(0, k)) return text.length - k;
  }
  return text.length;
}

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13) || c === 160;
/** Between the groups of a number: space, `-`, `.`, `/`. */
const isSeparator = (c: number) => c === 32 || c === 45 || c === 46 || c === 47;
/** A group: digits, capital letters (IBAN), `(`, `)`, `+`. */
const isGroupChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 40 || c === 41 || c === 43;
