// Fitting events into the relay's publish body limit. Pure.
//
// An `artifact_update` too large for one publish becomes several, in order: its artifacts one
// per event, then an artifact's parts over several events, a long text part in slices (each slice
// its own text part; the room joins an artifact's text parts with nothing between them). Every
// piece after the first has `append: true` (the relay adds its parts to the artifact of that id)
// and only the last keeps the original's `last_chunk`. A file or data part cannot be cut: one
// that no publish can hold is reported by `oversizedPart` so the turn can fail, saying so.
import type {
  ArtifactUpdateEvent,
  PublishedEvent,
  RelayArtifact,
  RelayPart,
} from "../wire/relay.ts";

/**
 * UTF-8 bytes of a value's `JSON.stringify`, counted without making the string: a large answer
 * is measured many times on its way, and each copy would be garbage the size of the answer.
 */
export function jsonBytes(value: unknown): number {
  switch (typeof value) {
    case "string":
      return stringBytes(value) + 2;
    case "number":
      return Number.isFinite(value) ? String(value).length : 4;
    case "boolean":
      return value ? 4 : 5;
    case "object": {
      if (value === null) return 4;
      if (Array.isArray(value)) {
        let bytes = 2 + Math.max(0, value.length - 1);
        for (const item of value) bytes += omitted(item) ? 4 : jsonBytes(item);
        return bytes;
      }
      const json = value as Json & { toJSON?: () => unknown };
      if (typeof json.toJSON === "function") return jsonBytes(json.toJSON());
      let bytes = 2;
      let members = 0;
      for (const key in json) {
        if (!Object.hasOwn(json, key)) continue;
        const item = json[key];
        if (omitted(item)) continue;
        bytes += stringBytes(key) + 3 + jsonBytes(item) + (members > 0 ? 1 : 0);
        members++;
      }
      return bytes;
    }
    default:
      return 4; // undefined alone: JSON.stringify gives nothing; counted as null (a safe upper bound)
  }
}

function omitted(value: unknown): boolean {
  return value === undefined || typeof value === "function" || typeof value === "symbol";
}

/** Bytes of a string's content inside JSON quotes (escapes, UTF-8, lone surrogates). */
function stringBytes(text: string): number {
  return sliceBytes(text, 0, text.length);
}

/** Below this much room for parts a split would only make tiny events: the event stays whole. */
const MIN_PART_ROOM = 256;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Bytes of one character of a JSON string (escapes and UTF-8), `code` being its code unit. */
function escapedBytes(code: number): number {
  if (code === 0x22 || code === 0x5c) return 2;
  if (code < 0x20)
    return code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d
      ? 2
      : 6;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  return 3;
}

/**
 * The end index of the longest slice of `text` from `start` whose JSON string content takes at
 * most `budget` bytes; never splits a surrogate pair (a lone surrogate costs its `\uXXXX`).
 */
export function sliceEnd(text: string, start: number, budget: number): number {
  return scan(text, start, text.length, budget).end;
}

function sliceBytes(text: string, start: number, end: number): number {
  return scan(text, start, end, Number.POSITIVE_INFINITY).used;
}

/** Walks `text` from `start` while the escaped UTF-8 bytes stay within `budget`. */
function scan(
  text: string,
  start: number,
  end: number,
  budget: number,
): { end: number; used: number } {
  let used = 0;
  let i = start;
  while (i < end) {
    const code = text.charCodeAt(i);
    let cost: number;
    let width = 1;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = i + 1 < end ? text.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        cost = 4;
        width = 2;
      } else cost = 6;
    } else if (code >= 0xdc00 && code <= 0xdfff) cost = 6;
    else cost = escapedBytes(code);
    if (used + cost > budget) break;
    used += cost;
    i += width;
  }
  return { end: i, used };
}

function isText(part: unknown): part is { kind: "text"; text: string } & Json {
  return (
    isObject(part) &&
    typeof part.text === "string" &&
    (part.kind === undefined || part.kind === "text")
  );
}

function artifactsOf(event: ArtifactUpdateEvent): RelayArtifact[] {
  const artifacts = (event.data as { artifacts?: unknown }).artifacts;
  return Array.isArray(artifacts) ? (artifacts as RelayArtifact[]) : [];
}

function withArtifact(
  event: ArtifactUpdateEvent,
  artifact: RelayArtifact,
  append: boolean,
  lastChunk: boolean,
): ArtifactUpdateEvent {
  return {
    ...event,
    data: { ...event.data, artifacts: [artifact], append, last_chunk: lastChunk },
  };
}

/**
 * The event as pieces whose JSON takes at most `maxBytes` each, in order (see the top of this
 * file). Events that fit, that are not an `artifact_update`, or whose single part is too large
 * to cut come back whole; `task_status` and `agent_error` texts are shortened instead.
 */
export function splitEvent(event: PublishedEvent, maxBytes: number): PublishedEvent[] {
  if (jsonBytes(event) <= maxBytes) return [event];
  if (event.type === "task_status") return [shortened(event, "status_text", maxBytes)];
  if (event.type === "agent_error") return [shortened(event, "error", maxBytes)];
  if (event.type !== "artifact_update") return [event];
  const artifacts = artifactsOf(event);
  const append = event.data.append === true;
  const lastChunk = event.data.last_chunk === true;
  if (artifacts.length > 1) {
    // The relay applies one event's flags to each of its artifacts: one artifact per event is the same.
    return artifacts.flatMap((artifact) =>
      splitEvent(withArtifact(event, artifact, append, lastChunk), maxBytes),
    );
  }
  const artifact = artifacts[0];
  if (!artifact || !Array.isArray(artifact.parts)) return [event];
  // `false` is the longer flag: every piece fits whatever its flags end up being.
  const shell = withArtifact(event, { ...artifact, parts: [] }, false, false);
  const room = maxBytes - jsonBytes(shell);
  if (room < MIN_PART_ROOM) return [event];
  const groups = packParts(artifact.parts, room);
  return groups.map((parts, i) =>
    withArtifact(
      event,
      { ...artifact, parts },
      i === 0 ? append : true,
      i === groups.length - 1 ? lastChunk : false,
    ),
  );
}

/** Parts into groups of at most `room` bytes (JSON, with commas); long texts sliced. */
function packParts(parts: readonly RelayPart[], room: number): RelayPart[][] {
  const groups: RelayPart[][] = [];
  let group: RelayPart[] = [];
  let used = 0;
  const close = () => {
    if (group.length > 0) groups.push(group);
    group = [];
    used = 0;
  };
  for (const part of parts) {
    const bytes = jsonBytes(part) + (group.length > 0 ? 1 : 0);
    if (used + bytes <= room) {
      group.push(part);
      used += bytes;
      continue;
    }
    if (!isText(part)) {
      close();
      group.push(part); // alone; if still too large, oversizedPart() names it
      used = jsonBytes(part);
      continue;
    }
    const overhead = jsonBytes({ ...part, text: "" });
    let start = 0;
    while (start < part.text.length) {
      let budget = room - used - overhead - (group.length > 0 ? 1 : 0);
      if (budget < MIN_PART_ROOM) {
        close();
        budget = room - overhead;
      }
      const end = Math.max(sliceEnd(part.text, start, budget), start + 1);
      const slice = { ...part, text: part.text.slice(start, end) } as RelayPart;
      used += jsonBytes(slice) + (group.length > 0 ? 1 : 0);
      group.push(slice);
      start = end;
    }
  }
  close();
  return groups.length > 0 ? groups : [[]];
}

/** The event with one text field cut to fit, marked as cut. */
function shortened<E extends PublishedEvent>(event: E, field: string, maxBytes: number): E {
  const data = event.data as unknown as Json;
  const text = data[field];
  if (typeof text !== "string") return event;
  const note = " … (cut: too long for one publish)";
  const budget =
    maxBytes - jsonBytes({ ...event, data: { ...data, [field]: "" } }) - jsonBytes(note) + 2;
  if (budget <= 0) return event;
  const cut = text.slice(0, sliceEnd(text, 0, budget)) + note;
  return { ...event, data: { ...data, [field]: cut } } as E;
}

interface OversizedPart {
  kind: string;
  name: string | null;
  bytes: number;
}

/**
 * The first part of these events that no publish of `maxBytes` can carry: a file or data part
 * bigger than an event may be (a text part can always be sliced). Null when all fit.
 */
export function oversizedPart(
  events: readonly PublishedEvent[],
  maxBytes: number,
): OversizedPart | null {
  for (const event of events) {
    if (event.type !== "artifact_update") continue;
    for (const artifact of artifactsOf(event)) {
      if (!Array.isArray(artifact.parts)) continue;
      let shellBytes: number | null = null;
      for (const part of artifact.parts) {
        if (isText(part)) continue;
        const bytes = jsonBytes(part);
        if (bytes < maxBytes - 4096) continue; // clearly fits
        shellBytes ??= jsonBytes(withArtifact(event, { ...artifact, parts: [] }, false, false));
        if (shellBytes + bytes <= maxBytes) continue;
        const json = part as unknown as Json;
        const file = isObject(json.file) ? json.file : null;
        const name = file && typeof file.name === "string" ? file.name : null;
        const kind = typeof json.kind === "string" ? json.kind : "unknown";
        return { kind, name, bytes };
      }
    }
  }
  return null;
}
