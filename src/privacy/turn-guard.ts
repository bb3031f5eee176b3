// The privacy guard of one turn: every event the hub would publish for the turn goes through
// `inspect()`, in order, and what comes out is what may be published. See index.ts for how the
// hub uses it.
//
// Streams: the text parts of one artifact (by `artifactId`), in order over its `artifact_update`s,
// are one text — the room joins them with nothing between — so a value split over two chunks is
// found whole (stream-text.ts). Each chunk's text goes out at once except the short tail that
// could begin a match; that tail rides with the artifact's next text part. What releases it:
//   - the artifact's next text part (the same event or a later one);
//   - a file or data part of the artifact after it, or the artifact's last chunk (`last_chunk`);
//   - a turn-closing event (agent_response, agent_error, task_interactive, processing_status):
//     the held text of every artifact goes out before it, one appended `artifact_update` each;
//   - `flush()`, for a turn that ends without a closing event through the guard.
// A chunk with `append: false` replaces the artifact, so text held for what it replaces is
// dropped. A chunk whose text all waits is not published; what it carried (its `append: false`,
// the artifact's name) goes with the artifact's next published event, so the room ends up with
// the same artifact and the same text.

import type { ArtifactUpdateEvent, PublishedEvent, RelayArtifact } from "../wire/relay.ts";
import {
  isRecord,
  isTextPart,
  mapArtifactFields,
  mapEventText,
  mapPart,
  type Visit,
} from "./event-text.ts";
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
interface WithheldEvent {
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

/** What an artifact's events not yet published carried, for its next published event. */
interface Owed {
  /** False when one of them replaced the artifact (`append: false`). */
  append: boolean;
  /** Their artifact fields (name, description, metadata), already through the policy. */
  fields: Record<string, unknown>;
}

interface ArtifactStream {
  text: StreamText;
  /** The artifact's latest event (ids, run and context for a tail event). */
  template: ArtifactUpdateEvent;
  owed: Owed | null;
}

const NOTHING: GuardStep = { publish: [], withheld: [], blocked: null };

export class TurnGuard {
  readonly #policy: Policy;
  readonly #placeholders = new Placeholders();
  /** Streamed artifacts by artifact id, in the order they first came. */
  readonly #streams = new Map<string, ArtifactStream>();
  /** Artifacts something was published of this turn (the room holds them, in this order). */
  readonly #inRoom = new Set<string>();
  #blocked: PolicyBlock | null = null;
  /** How much of the blocked turn's failure has gone out. */
  #failure: "none" | "error" | "ended" = "none";

  constructor(policy: Policy) {
    this.#policy = policy;
  }

  get blocked(): PolicyBlock | null {
    return this.#blocked;
  }

  /** The next event of the turn, as the mapping made it. */
  inspect(event: PublishedEvent): GuardStep {
    if (this.#blocked) return this.#afterBlock(event);
    let released: GuardStep = NOTHING;
    if (CLOSING_TYPES.has(event.type)) {
      released = this.flush();
      if (released.blocked) {
        return {
          ...released,
          withheld: [...released.withheld, { type: event.type, detections: [] }],
        };
      }
    }
    const artifacts =
      event.type === "artifact_update" && Array.isArray(event.data.artifacts)
        ? event.data.artifacts
        : null;
    let step: GuardStep;
    if (!artifacts || artifacts.length === 0) step = this.#whole(event);
    else if (artifacts.length === 1) step = this.#artifactUpdate(event as ArtifactUpdateEvent);
    else {
      // The relay applies an event's flags to each of its artifacts: one per event is the same.
      step = NOTHING;
      for (const artifact of artifacts) {
        const one = { ...event, data: { ...event.data, artifacts: [artifact] } };
        step = join(step, this.#artifactUpdate(one as ArtifactUpdateEvent));
        if (step.blocked) break;
      }
    }
    return join(released, step);
  }

  /**
   * Releases all held-back text as `artifact_update` events (append), one per artifact. Called
   * by `inspect()` before a closing event; call it when a turn ends without one.
   */
  flush(): GuardStep {
    if (this.#blocked) return { publish: [], withheld: [], blocked: this.#blocked };
    let out: GuardStep = NOTHING;
    for (const [id, stream] of this.#streams) {
      out = join(out, this.#release(id, stream));
      if (out.blocked) return out;
    }
    this.#streams.clear();
    return out;
  }

  /** An event whose text is not streamed: every string through the policy at once. */
  #whole(event: PublishedEvent): GuardStep {
    const scan = new Scan(this.#policy, this.#placeholders);
    const data = mapEventText(event.data as unknown as Record<string, unknown>, scan.visit);
    if (scan.block) return this.#blockOn(scan, event.type);
    const out =
      data === (event.data as unknown) ? event : ({ ...event, data } as unknown as PublishedEvent);
    return {
      publish: [{ event: out, detections: scan.detections() }],
      withheld: [],
      blocked: null,
    };
  }

  /** One artifact's chunk: its text parts continue the artifact's stream. */
  #artifactUpdate(event: ArtifactUpdateEvent): GuardStep {
    const data = event.data;
    const artifact = data.artifacts[0] as unknown;
    if (!isRecord(artifact) || !Array.isArray(artifact["parts"])) return this.#whole(event);
    const id = typeof artifact["artifactId"] === "string" ? artifact["artifactId"] : "";
    const append = data.append === true;
    const last = data.last_chunk === true;
    if (!append) this.#streams.delete(id); // replaced: what was held belongs to the old content
    let stream = this.#streams.get(id);
    if (!stream) {
      stream = {
        text: new StreamText(this.#policy, this.#placeholders),
        template: event,
        owed: null,
      };
      this.#streams.set(id, stream);
    }
    stream.template = event;

    const scan = new Scan(this.#policy, this.#placeholders);
    const fields = mapArtifactFields(artifact, scan.visit);
    const parts = artifact["parts"] as unknown[];
    const out: unknown[] = [];
    let changed = fields !== artifact;
    for (const [index, part] of parts.entries()) {
      if (scan.block) break;
      if (isTextPart(part)) {
        // Nothing waits after a text part that a file or data part follows, or that ends the artifact.
        const next = parts[index + 1];
        const final = next === undefined ? last : !isTextPart(next);
        const pushed = stream.text.push(part.text);
        const step = final ? joinStreamSteps(pushed, stream.text.end()) : pushed;
        scan.stream(step);
        const rest = mapPart(part, scan.visit, { skipText: true }) as Record<string, unknown>;
        if (step.text === part.text && rest === part) {
          out.push(part);
          continue;
        }
        changed = true;
        // A part whose text all waits is left out (the text goes with the next one).
        if (step.text !== "" || part.text === "") out.push({ ...rest, text: step.text });
        continue;
      }
      if (stream.text.held > 0) {
        const step = stream.text.end();
        scan.stream(step);
        if (step.text !== "") out.push({ kind: "text", text: step.text });
        changed = true;
      }
      const mapped = mapPart(part, scan.visit);
      if (mapped !== part) changed = true;
      out.push(mapped);
    }
    if (last && !scan.block && stream.text.held > 0) {
      // A last chunk with no text part at its end (or none at all) still ends the artifact's text.
      const step = stream.text.end();
      scan.stream(step);
      if (step.text !== "") out.push({ kind: "text", text: step.text });
      changed = true;
    }
    if (scan.block) return this.#blockOn(scan, "artifact_update");

    if (parts.length > 0 && out.length === 0 && !last) {
      // All of it waits: publish nothing yet, remember what the next published event owes.
      const { parts: _parts, ...own } = fields;
      stream.owed = {
        append: (stream.owed?.append ?? true) && append,
        fields: { ...stream.owed?.fields, ...own },
      };
      return NOTHING;
    }
    const released = this.#inRoom.has(id) ? NOTHING : this.#releaseUnpublished(id);
    if (released.blocked) return released;
    let published: PublishedEvent = event;
    const owed = stream.owed;
    if (changed || owed) {
      const artifactOut = {
        ...owed?.fields,
        ...fields,
        parts: changed ? out : parts,
      } as unknown as RelayArtifact;
      const appendOut = owed ? owed.append && append : append;
      published = { ...event, data: { ...data, artifacts: [artifactOut], append: appendOut } };
    }
    stream.owed = null;
    this.#inRoom.add(id);
    if (last) this.#streams.delete(id);
    return join(released, {
      publish: [{ event: published, detections: scan.detections() }],
      withheld: [],
      blocked: null,
    });
  }

  /**
   * Before an artifact's first event goes out, artifacts whose text all waited so far go first:
   * the room orders artifacts by their first event, and theirs came earlier.
   */
  #releaseUnpublished(except: string): GuardStep {
    let out: GuardStep = NOTHING;
    for (const [id, stream] of this.#streams) {
      if (id === except || this.#inRoom.has(id) || !stream.owed) continue;
      out = join(out, this.#release(id, stream));
      if (out.blocked) return out;
    }
    return out;
  }

  /** The held text of one artifact as one tail event (none when nothing is held). */
  #release(id: string, stream: ArtifactStream): GuardStep {
    const step = stream.text.end();
    const scan = new Scan(this.#policy, this.#placeholders);
    scan.stream(step);
    if (scan.block) return this.#blockOn(scan, "artifact_update");
    const owed = stream.owed;
    stream.owed = null;
    if (step.text === "") return NOTHING;
    this.#inRoom.add(id);
    const { response_seq: _seq, artifacts: _artifacts, ...ids } = stream.template.data;
    const tail: ArtifactUpdateEvent = {
      type: "artifact_update",
      agent_message_id: stream.template.agent_message_id,
      data: {
        ...ids,
        artifacts: [
          { ...owed?.fields, artifactId: id, parts: [{ kind: "text", text: step.text }] },
        ],
        append: owed ? owed.append : true,
        last_chunk: false,
      },
    };
    return {
      publish: [{ event: tail, detections: scan.detections() }],
      withheld: [],
      blocked: null,
    };
  }

  #blockOn(scan: Scan, eventType: PublishedEvent["type"]): GuardStep {
    const finding = scan.block as Finding;
    this.#streams.clear();
    this.#blocked = policyBlock(
      finding,
      eventType === "artifact_update" ? "streamed output" : `a ${eventType} event`,
    );
    return {
      publish: [],
      withheld: [{ type: eventType, detections: scan.detections() }],
      blocked: this.#blocked,
    };
  }

  /**
   * After a block only the turn's failure goes out, once: agent_error PolicyBlocked, then
   * processing_status failed.
   */
  #afterBlock(event: PublishedEvent): GuardStep {
    const pass =
      (event.type === "agent_error" &&
        event.data.error_type === POLICY_BLOCKED &&
        this.#failure === "none") ||
      (event.type === "processing_status" &&
        event.data.status === "failed" &&
        this.#failure === "error");
    if (!pass) {
      return {
        publish: [],
        withheld: [{ type: event.type, detections: [] }],
        blocked: this.#blocked,
      };
    }
    this.#failure = this.#failure === "none" ? "error" : "ended";
    return { publish: [{ event, detections: [] }], withheld: [], blocked: this.#blocked };
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

/** Two steps one after the other; a block in the first ends it. */
function join(a: GuardStep, b: GuardStep): GuardStep {
  if (a === NOTHING) return b;
  if (b === NOTHING) return a;
  return {
    publish: [...a.publish, ...b.publish],
    withheld: [...a.withheld, ...b.withheld],
    blocked: a.blocked ?? b.blocked,
  };
}

function joinStreamSteps(a: StreamStep, b: StreamStep): StreamStep {
  return {
    text: a.text + b.text,
    findings: [...a.findings, ...b.findings],
    block: a.block ?? b.block,
  };
}

/** What one event's texts gave: the findings by kind, rule and action, and the first block. */
class Scan {
  readonly #policy: Policy;
  readonly #placeholders: Placeholders;
  readonly #counts = new Map<string, Detection>();
  block: Finding | null = null;

  constructor(policy: Policy, placeholders: Placeholders) {
    this.#policy = policy;
    this.#placeholders = placeholders;
  }

  /** A text published whole: its findings counted, redacted where the policy says. */
  readonly visit: Visit = (text) => {
    if (this.block) return text;
    const findings = findAll(this.#policy, text);
    if (findings.length === 0) return text;
    this.#add(findings);
    this.block = findings.find((f) => f.action === "block") ?? null;
    const changing = findings.filter((f) => changesText(f.action));
    return changing.length > 0
      ? redactText(text, 0, text.length, changing, this.#placeholders)
      : text;
  };

  /** A step of a stream: its findings (the stream redacted its text already). */
  stream(step: StreamStep): void {
    this.#add(step.findings);
    this.block ??= step.block;
  }

  detections(): Detection[] {
    return [...this.#counts.values()];
  }

  #add(findings: readonly Finding[]): void {
    for (const f of findings) {
      const key = `${f.kind}\0${f.rule}\0${f.action}`;
      const entry = this.#counts.get(key);
      if (entry) entry.count++;
      else this.#counts.set(key, { kind: f.kind, rule: f.rule, action: f.action, count: 1 });
    }
  }
}
