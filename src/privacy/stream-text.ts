// One streamed text (the chunks of one artifact's text field, in order) through a policy. Each
// chunk goes out at once except the short tail that could still begin a match (hold-back.ts);
// that tail goes out with the next chunk, or at `end()`. A match is found whole even when its
// pieces arrive in different chunks, so a key split over two chunks is redacted as one value.
//
// Some text already sent stays as context (never sent again): a password's name sent in one
// chunk still marks the value arriving in the next. After a private key's BEGIN line everything
// is hidden until its END line, however many chunks that takes.

import { PEM_END_MARKER } from "./detectors.ts";
import { holdBackFrom, MAX_HOLD_CHARS } from "./hold-back.ts";
import { changesText } from "./kinds.ts";
import type { Placeholders } from "./placeholders.ts";
import type { Policy } from "./policy.ts";
import { redactText } from "./redact.ts";
import { type Finding, findAll } from "./scan.ts";

/** Sent text kept to find matches that began before the current chunk. */
const CONTEXT_CHARS = 128;
/** Swallowed key text kept to find an END line split over chunks. */
const PEM_TAIL_CHARS = 80;

export interface StreamStep {
  /** The text to publish now (placeholders in place of redacted values). */
  text: string;
  /** What was found in that text (each match once over the whole stream). */
  findings: Finding[];
  /** The first blocking finding, when there is one: publish nothing of this step. */
  block: Finding | null;
}

interface Reported {
  /** Absolute offset of the match's start in the stream's original text. */
  start: number;
  rule: string;
}

export class StreamText {
  readonly #policy: Policy;
  readonly #placeholders: Placeholders;
  /** Original text already sent, the last CONTEXT_CHARS of it. */
  #context = "";
  /** Original text received, not yet sent. */
  #pending = "";
  /** Absolute offset (in the original stream) of the first character not yet sent. */
  #sent = 0;
  /** Matches already counted that start in the context. */
  #reported: Reported[] = [];
  /** Inside a private key block: swallowed text's last characters, to find the END line. */
  #inKey: string | null = null;

  constructor(policy: Policy, placeholders: Placeholders) {
    this.#policy = policy;
    this.#placeholders = placeholders;
  }

  /** Characters waiting for the next chunk. */
  get held(): number {
    return this.#pending.length;
  }

  push(chunk: string): StreamStep {
    return this.#step(chunk, false);
  }

  /** The stream ended: everything held goes out (or is found to block). */
  end(): StreamStep {
    return this.#step("", true);
  }

  #step(chunk: string, final: boolean): StreamStep {
    let input = chunk;
    if (this.#inKey !== null) {
      const search = this.#inKey + input;
      const close = PEM_END_MARKER.exec(search);
      if (!close) {
        this.#inKey = search.slice(-PEM_TAIL_CHARS);
        return { text: "", findings: [], block: null };
      }
      // Past the key: start afresh after its END line.
      this.#inKey = null;
      this.#context = "";
      this.#reported = [];
      input = search.slice(close.index + close[0].length);
    }
    const buffer = this.#context + this.#pending + input;
    const base = this.#context.length;
    const absolute = (index: number) => this.#sent + index - base;

    const fresh: Finding[] = [];
    const continued: Finding[] = [];
    for (const finding of findAll(this.#policy, buffer)) {
      if (finding.end <= base) continue; // wholly in text already sent and handled
      if (finding.start >= base) fresh.push(finding);
      else if (this.#wasReported(absolute(finding.start), finding.rule)) continued.push(finding);
      else fresh.push(finding);
    }

    let cut = final ? buffer.length : holdBackFrom(this.#policy, buffer, base);
    // A BEGIN line without its END yet: hide everything from here on as it streams.
    const openKey = final
      ? null
      : (fresh.find(
          (f) =>
            f.kind === "private_key" &&
            changesText(f.action) &&
            f.start >= base &&
            f.end === buffer.length &&
            !PEM_END_MARKER.test(buffer.slice(f.start)),
        ) ?? null);
    if (openKey) cut = buffer.length;
    else if (!final) cut = keepWhole([...continued, ...fresh], cut, base, buffer.length);

    const applied = fresh.filter((f) => f.start < cut);
    const block = applied.find((f) => f.action === "block") ?? null;
    const redacting = [...continued.filter((f) => f.start < cut), ...applied].filter((f) =>
      changesText(f.action),
    );
    let text: string;
    if (openKey) {
      const before = redacting.filter((f) => f.end <= openKey.start);
      text =
        redactText(buffer, base, openKey.start, before, this.#placeholders) +
        this.#placeholders.for(openKey.label, buffer.slice(openKey.start));
    } else {
      text = redactText(buffer, base, cut, redacting, this.#placeholders);
    }

    // Remember what went out, for the next chunk.
    const context = buffer.slice(Math.max(0, cut - CONTEXT_CHARS), cut);
    const reported = this.#reported.filter((r) => r.start >= absolute(cut - context.length));
    for (const f of applied) {
      if (f.start >= cut - context.length)
        reported.push({ start: absolute(f.start), rule: f.rule });
    }
    this.#reported = reported;
    this.#sent = absolute(cut);
    this.#context = context;
    this.#pending = buffer.slice(cut);
    if (openKey)
      this.#inKey = buffer.slice(Math.max(openKey.start + 1, buffer.length - PEM_TAIL_CHARS));
    return { text, findings: applied, block };
  }

  #wasReported(start: number, rule: string): boolean {
    return this.#reported.some((r) => r.start === start && r.rule === rule);
  }
}

/**
 * Moves the cut back so that no text-changing match is split by it, and none that reaches the
 * end of what has arrived (it may go on in the next chunk); never before `base` (sent text) nor
 * more than MAX_HOLD_CHARS before the end.
 */
function keepWhole(findings: readonly Finding[], cut: number, base: number, end: number): number {
  let at = cut;
  for (let changed = true; changed; ) {
    changed = false;
    for (const f of findings) {
      if (!changesText(f.action) || f.start >= at || f.start < base) continue;
      if (f.end > at || f.end === end) {
        at = f.start;
        changed = true;
      }
    }
  }
  return Math.max(base, at, end - MAX_HOLD_CHARS);
}
