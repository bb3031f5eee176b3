// The privacy guard of one turn: every event the hub would publish for the turn goes through
// `inspect()`, in order, and what comes out is what may be published. See index.ts for how the
// hub uses it.

import type { PublishedEvent } from "../wire/relay.ts";
import { hasNonTextParts, mapEventText } from "./event-text.ts";
import { type Action, changesText, type Kind } from "./kinds.ts";
import { Placeholders } from "./placeholders.ts";
import type { Policy } from "./policy.ts";
import { redactText } from "./redact.ts";
import { type Finding, findAll } from "./scan.ts";
import { type StreamStep, StreamText } from "./stream-text.ts";

/** What the policy found in one event: never the values. */
export interface Detection {
  kind: Kind;
  /** The detector rule, or the custom rule's name. */
  rule: string;
  action: Exclude<Action, "off">;
  count: number;
}

export interface GuardedEvent {
  /** The event to publish (redacted; the input object itself when nothing changed). */
  event: PublishedEvent;
  detections: Detection[];
}

/** An event the guard kept back because the turn is blocked. */
export interface WithheldEvent {
  type: PublishedEvent["type"];
  /** What the policy found in it (empty for events after the block). */
  detections: Detection[];
}

/** Why a turn was blocked; the message names the rule and the kind, never the value. */
export interface PolicyBlock {
  errorType: "PolicyBlocked";
  kind: Kind;
  rule: string;
  message: string;
}

export interface GuardStep {
  /** Publish these, in this order (held text released by this call first, then the event). */
  publish: GuardedEvent[];
  withheld: WithheldEvent[];
  /** Set from the event that blocked the turn on; the caller ends the turn as failed. */
  blocked: PolicyBlock | null;
}

export const POLICY_BLOCKED = "PolicyBlocked";

/** Events after which nothing more streams in the turn: held text goes out before them. */
const CLOSING_TYPES: ReadonlySet<string> = new Set([
  "agent_response",
  "agent_error",
  "task_interactive",
  "processing_status",
]);

interface Stream {
  /** Its texts by site key. */
  sites: Map<string, StreamText>;
  /** The last event published for it (as published), the model of a tail event. */
  template: PublishedEvent | null;
}

export class TurnGuard {
  readonly #policy: Policy;
  readonly #placeholders = new Placeholders();
  /** Streamed artifacts by artifact id. */
  readonly #streams = new Map<string, Stream>();
  #blocked: PolicyBlock | null = null;

  constructor(policy: Policy) {
    this.#policy = policy;
  }

  get blocked(): PolicyBlock | null {
    return this.#blocked;
  }

  /** The next event of the turn, as the mapping made it. */
  inspect(event: PublishedEvent): GuardStep {
    if (this.#blocked) return this.#afterBlock(event);
    const publish: GuardedEvent[] = [];
    if (CLOSING_TYPES.has(event.type)) {
      const released = this.flush();
      if (released.blocked) {
        const withheld = [...released.withheld, { type: event.type, detections: [] }];
        return { ...released, withheld };
      }
      publish.push(...released.publish);
    }
    const tally = new Tally();
    const found: { block: Finding | null } = { block: null };
    const artifact = event.type === "artifact_update" ? artifactOf(event.data) : null;
    if (artifact && !artifact.append) this.#streams.delete(artifact.id); // replaced: drop held text
    const stream = artifact ? this.#stream(artifact.id) : null;
    let streamedInput = false;
    let visible = false;
    const visited = new Set<string>();
    // The same text often sits in several fields of one event (text, raw, artifact): count once.
    const counted = new Set<string>();
    const count = (text: string, findings: readonly Finding[]) => {
      if (findings.length === 0 || counted.has(text)) return;
      counted.add(text);
      tally.add(findings);
    };
    const data = mapEventText(event.data as unknown as Record<string, unknown>, (text, site) => {
      if (found.block) return text;
      if (stream && artifact && site.streamable) {
        let sink = stream.sites.get(site.key);
        if (!sink) {
          sink = new StreamText(this.#policy, this.#placeholders);
          stream.sites.set(site.key, sink);
        }
        visited.add(site.key);
        const step = artifact.last ? joinSteps(sink.push(text), sink.end()) : sink.push(text);
        count(text, step.findings);
        found.block = step.block;
        if (text !== "") streamedInput = true;
        if (step.text !== "") visible = true;
        return step.text;
      }
      visible = true;
      const findings = findAll(this.#policy, text);
      count(text, findings);
      found.block = findings.find((f) => f.action === "block") ?? null;
      const changing = findings.filter((f) => changesText(f.action));
      return changing.length > 0
        ? redactText(text, 0, text.length, changing, this.#placeholders)
        : text;
    });
    if (found.block) {
      this.#block(found.block, event.type);
      return {
        publish,
        withheld: [{ type: event.type, detections: tally.detections() }],
        blocked: this.#blocked,
      };
    }
    const out = (data === (event.data as unknown) ? event : { ...event, data }) as PublishedEvent;
    if (artifact && stream) {
      if (artifact.last) {
        // The artifact ends: text still held for a field this last chunk lacks goes out first.
        for (const key of visited) stream.sites.delete(key);
        const rest = this.#release(stream);
        if (rest.blocked) return { ...rest, publish: [...publish, ...rest.publish] };
        publish.push(...rest.publish);
        this.#streams.delete(artifact.id);
      } else stream.template = out;
      // Only text that is all held back: nothing to add yet (the next chunk or the end brings it).
      if (
        artifact.append &&
        !artifact.last &&
        streamedInput &&
        !visible &&
        !hasNonTextParts(event.data)
      ) {
        return { publish, withheld: [], blocked: null };
      }
    }
    publish.push({ event: out, detections: tally.detections() });
    return { publish, withheld: [], blocked: null };
  }

  /**
   * Releases all held-back text as `artifact_update` events (append), one per artifact. Called
   * by `inspect()` before a closing event; call it when a turn ends without one.
   */
  flush(): GuardStep {
    if (this.#blocked) return { publish: [], withheld: [], blocked: this.#blocked };
    const publish: GuardedEvent[] = [];
    for (const stream of this.#streams.values()) {
      const step = this.#release(stream);
      publish.push(...step.publish);
      if (step.blocked) return { ...step, publish };
    }
    this.#streams.clear();
    return { publish, withheld: [], blocked: null };
  }

  /** The held text of one artifact as one tail event (none when nothing is held). */
  #release(stream: Stream): GuardStep {
    const tally = new Tally();
    const texts = new Map<string, string>();
    const counted = new Set<string>();
    for (const [key, sink] of stream.sites) {
      const step = sink.end();
      // The same held text in several fields (text, raw, artifact) is counted once.
      if (!counted.has(step.text)) tally.add(step.findings);
      counted.add(step.text);
      if (step.block) {
        this.#block(step.block, "artifact_update");
        const withheld = [{ type: "artifact_update" as const, detections: tally.detections() }];
        return { publish: [], withheld, blocked: this.#blocked };
      }
      texts.set(key, step.text);
    }
    stream.sites.clear();
    const any = [...texts.values()].some((text) => text !== "");
    if (!any || !stream.template) return { publish: [], withheld: [], blocked: null };
    const tail = tailEvent(stream.template, texts);
    return {
      publish: [{ event: tail, detections: tally.detections() }],
      withheld: [],
      blocked: null,
    };
  }

  #stream(id: string): Stream {
    let stream = this.#streams.get(id);
    if (!stream) {
      stream = { sites: new Map(), template: null };
      this.#streams.set(id, stream);
    }
    return stream;
  }

  #block(finding: Finding, eventType: string): void {
    this.#streams.clear();
    this.#blocked = policyBlock(
      finding,
      eventType === "artifact_update" ? "streamed output" : `a ${eventType} event`,
    );
  }

  /** After a block only the turn's failure goes out: PolicyBlocked and processing failed. */
  #afterBlock(event: PublishedEvent): GuardStep {
    const failure =
      (event.type === "agent_error" && event.data.error_type === POLICY_BLOCKED) ||
      (event.type === "processing_status" && event.data.status === "failed");
    return failure
      ? { publish: [{ event, detections: [] }], withheld: [], blocked: this.#blocked }
      : { publish: [], withheld: [{ type: event.type, detections: [] }], blocked: this.#blocked };
  }
}

/** The block for a finding; `where` says where it matched ("streamed output"). */
export function policyBlock(finding: Finding, where: string): PolicyBlock {
  return {
    errorType: POLICY_BLOCKED,
    kind: finding.kind,
    rule: finding.rule,
    message: `The hub's privacy policy stopped this reply: rule "${finding.rule}" (kind ${finding.kind}) matched in ${where}; nothing from that point on was sent.`,
  };
}

function artifactOf(data: unknown): { id: string; append: boolean; last: boolean } {
  const d = data as Record<string, unknown>;
  const raw = record(d["raw"]);
  const id =
    stringField(record(d["artifact"]), "artifactId") ??
    stringField(record(raw?.["artifact"]), "artifactId") ??
    stringField(record(Array.isArray(d["artifacts"]) ? d["artifacts"][0] : null), "artifactId") ??
    "";
  const append = d["append"] ?? raw?.["append"];
  const last = d["last_chunk"] ?? raw?.["lastChunk"];
  return { id, append: append === true, last: last === true };
}

function record(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function stringField(object: Record<string, unknown> | null, field: string): string | undefined {
  const value = object?.[field];
  return typeof value === "string" ? value : undefined;
}

function joinSteps(a: StreamStep, b: StreamStep): StreamStep {
  return {
    text: a.text + b.text,
    findings: [...a.findings, ...b.findings],
    block: a.block ?? b.block,
  };
}

/**
 * The template with only its held-back text, appended to the artifact. Text held for a site the
 * template lacks (the artifact changed shape) goes with the template's first text.
 */
function tailEvent(template: PublishedEvent, texts: Map<string, string>): PublishedEvent {
  const templateData = template.data as unknown as Record<string, unknown>;
  const keys: string[] = [];
  mapEventText(templateData, (text, site) => {
    if (site.streamable) keys.push(site.key);
    return text;
  });
  const leftover = [...texts].filter(([key]) => !keys.includes(key)).map(([, text]) => text);
  const data = mapEventText(
    templateData,
    (text, site) => {
      if (!site.streamable) return text;
      const held = texts.get(site.key) ?? "";
      return site.key === keys[0] ? held + leftover.join("") : held;
    },
    { textPartsOnly: true },
  );
  const out: Record<string, unknown> = { ...data, append: true };
  if (keys.length === 0) out["text"] = leftover.join("");
  delete out["response_seq"];
  const raw = record(out["raw"]);
  if (raw && "append" in raw) out["raw"] = { ...raw, append: true };
  return { ...template, data: out } as unknown as PublishedEvent;
}

class Tally {
  readonly #counts = new Map<string, Detection>();

  add(findings: readonly Finding[]): void {
    for (const f of findings) {
      const key = `${f.kind}\0${f.rule}\0${f.action}`;
      const entry = this.#counts.get(key);
      if (entry) entry.count++;
      else this.#counts.set(key, { kind: f.kind, rule: f.rule, action: f.action, count: 1 });
    }
  }

  detections(): Detection[] {
    return [...this.#counts.values()];
  }
}
