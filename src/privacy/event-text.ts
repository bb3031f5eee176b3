// Where the text of a published event is (the shapes of src/wire/relay.ts). Every string the hub
// would publish is visited — an artifact's name, description and metadata, its parts' text, a
// file's name and uri, a data part's values at any depth, status and error messages, the agent's
// question in `task_interactive.status` with its data parts and metadata — except the fields that
// carry ids, states, flags and kinds (changing those would break the protocol, and the hub or the
// relay made them) and a file's base64 content (`bytes` in A2A 0.3, a string `raw` in 1.0:
// encoded content no text detector can read). Under `data` and `metadata` every value is content;
// their keys are not visited.
//
// The turn guard (turn-guard.ts) walks `artifact_update.data.artifacts` itself, because an
// artifact's text parts are a stream there; it uses `mapArtifactFields` and `mapPart` for the rest.

/** `data` fields of relay events that are ids, flags or states (a string `status` is a state). */
const RELAY_FIELDS = new Set([
  "task_id",
  "response_seq",
  "run_id",
  "context_id",
  "user_message_id",
  "agent_id",
  "agent_name",
  "state",
  "final",
  "append",
  "last_chunk",
  "error_type",
  "task_state",
]);

/** Fields of A2A objects (tasks, messages, parts, artifacts, statuses) that are not content. */
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

/** Gives the text to publish in place of `text`. */
export type Visit = (text: string) => string;

type Mode = "relay" | "a2a" | "content";

/**
 * An event's `data` with every visited string replaced by what `visit` returns, leaving out the
 * fields in `skip`. Unchanged objects are kept as they are (nothing is copied unless something
 * in it changed).
 */
export function mapEventText(
  data: Record<string, unknown>,
  visit: Visit,
  skip: ReadonlySet<string> = NONE,
): Record<string, unknown> {
  return mapObject(data, "relay", visit, skip);
}

/** An artifact's own fields (name, description, metadata, …), its `parts` left as they are. */
export function mapArtifactFields(
  artifact: Record<string, unknown>,
  visit: Visit,
): Record<string, unknown> {
  return mapObject(artifact, "a2a", visit, PARTS);
}

/** One part: a file's name and uri, a data part's values, metadata; `text` too unless skipped. */
export function mapPart(part: unknown, visit: Visit, options: { skipText?: boolean } = {}) {
  if (!isRecord(part)) return mapValue(part, "", "a2a", visit);
  return mapObject(part, "a2a", visit, options.skipText ? TEXT : NONE);
}

/** A text part (`{kind: "text", text}`, or a part with a string `text` and no kind). */
export function isTextPart(part: unknown): part is Record<string, unknown> & { text: string } {
  return (
    isRecord(part) &&
    typeof part["text"] === "string" &&
    (part["kind"] === undefined || part["kind"] === "text")
  );
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const NONE: ReadonlySet<string> = new Set();
const PARTS: ReadonlySet<string> = new Set(["parts"]);
const TEXT: ReadonlySet<string> = new Set(["text"]);

function mapValue(value: unknown, field: string, mode: Mode, visit: Visit): unknown {
  if (typeof value === "string") {
    if (mode === "a2a" && field === "raw") return value; // a 1.0 file part's base64 bytes
    return visit(value);
  }
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    value.forEach((item, index) => {
      const mapped = mapValue(item, field, mode, visit);
      if (mapped !== item) {
        out ??= [...value];
        out[index] = mapped;
      }
    });
    return out ?? value;
  }
  if (isRecord(value)) return mapObject(value, mode, visit, NONE);
  return value;
}

function mapObject(
  object: Record<string, unknown>,
  mode: Mode,
  visit: Visit,
  skip: ReadonlySet<string>,
): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const [field, value] of Object.entries(object)) {
    if (skip.has(field)) continue;
    if (mode === "relay" && RELAY_FIELDS.has(field)) continue;
    // processing_status's `status` is a state; task_interactive's is the agent's TaskStatus.
    if (mode === "relay" && field === "status" && typeof value === "string") continue;
    if (mode === "a2a" && A2A_FIELDS.has(field)) continue;
    const inner: Mode =
      mode !== "content" && CONTENT_FIELDS.has(field) ? "content" : mode === "relay" ? "a2a" : mode;
    const mapped = mapValue(value, field, inner, visit);
    if (mapped !== value) {
      out ??= { ...object };
      out[field] = mapped;
    }
  }
  return out ?? object;
}
