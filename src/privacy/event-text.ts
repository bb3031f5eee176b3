// Where the text of a published event is. Every string the hub would publish is visited —
// streamed text, artifact and file names, data-part values, status and error messages, the
// agent's raw event — except the fields that carry ids, states and kinds (changing those would
// break the protocol, and the hub or the relay made them) and a file's base64 content (`bytes`
// in A2A 0.3, a string `raw` in 1.0: encoded content no text detector can read).
//
// Each visited string has a site key: its path, with the items of a `parts` list counted among
// their own sort (`t0` = the first text part), so the same text part of consecutive chunks of
// one artifact has the same key even when other parts come and go between them.

/** `data` fields of relay events that are ids, flags or states. */
const RELAY_FIELDS = new Set([
  "task_id",
  "response_seq",
  "run_id",
  "context_id",
  "user_message_id",
  "agent_id",
  "agent_name",
  "state",
  "status",
  "final",
  "append",
  "last_chunk",
  "error_type",
  "task_state",
]);

/** Fields of A2A objects (tasks, messages, parts, artifacts, events) that are not content. */
const A2A_FIELDS = new Set([
  "kind",
  "taskId",
  "contextId",
  "messageId",
  "artifactId",
  "role",
  "state",
  "mimeType",
  "mediaType",
  "referenceTaskIds",
  "extensions",
  "timestamp",
  "append",
  "lastChunk",
  "final",
  "bytes",
]);

/** Under these keys everything is content (a data part's value, metadata). */
const CONTENT_FIELDS = new Set(["data", "metadata"]);

export interface TextSite {
  /** The string's path, stable across the chunks of one artifact. */
  key: string;
  /** A `text` field of the A2A/relay structure (a streamed artifact's text goes here). */
  streamable: boolean;
}

export interface MapOptions {
  /** Leave out the items of `parts` lists that have no `text` (for an event that only adds text). */
  textPartsOnly?: boolean;
}

type Visit = (text: string, site: TextSite) => string;

/**
 * `data` with every visited string replaced by what `visit` returns. Unchanged objects are kept
 * as they are (nothing is copied unless something in it changed).
 */
export function mapEventText(
  data: Record<string, unknown>,
  visit: Visit,
  options: MapOptions = {},
): Record<string, unknown> {
  return mapObject(data, "", "relay", visit, options);
}

/** True when any `parts` list in `data` has an item without text (a file or data part). */
export function hasNonTextParts(data: unknown): boolean {
  if (Array.isArray(data)) return data.some(hasNonTextParts);
  if (data === null || typeof data !== "object") return false;
  for (const [key, value] of Object.entries(data)) {
    if (key === "parts" && Array.isArray(value) && value.some((part) => !isTextPart(part))) {
      return true;
    }
    if (!CONTENT_FIELDS.has(key) && hasNonTextParts(value)) return true;
  }
  return false;
}

type Mode = "relay" | "a2a" | "content";

function mapValue(
  value: unknown,
  key: string,
  field: string,
  mode: Mode,
  visit: Visit,
  options: MapOptions,
): unknown {
  if (typeof value === "string") {
    if (mode === "a2a" && field === "raw") return value; // a 1.0 file part's base64 bytes
    return visit(value, { key, streamable: mode !== "content" && field === "text" });
  }
  if (Array.isArray(value)) {
    if (field === "parts" && mode !== "content") return mapParts(value, key, mode, visit, options);
    let out: unknown[] | null = null;
    value.forEach((item, index) => {
      const mapped = mapValue(item, `${key}/${index}`, field, mode, visit, options);
      if (mapped !== item) {
        out ??= [...value];
        out[index] = mapped;
      }
    });
    return out ?? value;
  }
  if (value !== null && typeof value === "object") {
    return mapObject(value as Record<string, unknown>, key, mode, visit, options);
  }
  return value;
}

function mapParts(
  parts: unknown[],
  key: string,
  mode: Mode,
  visit: Visit,
  options: MapOptions,
): unknown[] {
  let texts = 0;
  let others = 0;
  let changed = false;
  const out: unknown[] = [];
  for (const part of parts) {
    const text = isTextPart(part);
    if (!text && options.textPartsOnly) {
      changed = true;
      continue;
    }
    const itemKey = `${key}/${text ? `t${texts++}` : `o${others++}`}`;
    const mapped = mapValue(part, itemKey, "", mode, visit, options);
    if (mapped !== part) changed = true;
    out.push(mapped);
  }
  return changed ? out : parts;
}

function mapObject(
  object: Record<string, unknown>,
  key: string,
  mode: Mode,
  visit: Visit,
  options: MapOptions,
): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const [field, value] of Object.entries(object)) {
    if (mode === "relay" && RELAY_FIELDS.has(field)) continue;
    if (mode === "a2a" && A2A_FIELDS.has(field)) continue;
    const inner: Mode =
      mode !== "content" && CONTENT_FIELDS.has(field) ? "content" : mode === "relay" ? "a2a" : mode;
    const mapped = mapValue(value, `${key}/${field}`, field, inner, visit, options);
    if (mapped !== value) {
      out ??= { ...object };
      out[field] = mapped;
    }
  }
  return out ?? object;
}

function isTextPart(part: unknown): boolean {
  return (
    part !== null &&
    typeof part === "object" &&
    typeof (part as Record<string, unknown>)["text"] === "string"
  );
}
