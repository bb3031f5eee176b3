// What a room shows for one turn, built from the turn's published events the way hybro.ai builds
// it (hybroai/hybro `backend/`: hub_runtime_bridge/service/hub_publish.py picks and normalises the
// fields, execution/dispatch/response_handler.py journals each `artifact_update` and projects the
// answer when the turn ends, dal/runtime_store/parts/message_store.py joins artifacts by id).
// Pure. Shared by the development relay (its gateway answer) and the SDK (its stream helper), so
// a test that reads this reads what the room would show.
//
// Left out on purpose: hybro.ai stores file parts as room files (a part it cannot store becomes a
// "file unavailable" note) and, when a turn completes, moves all answer text into the first
// artifact's first part (`sync_artifact_dicts_to_canonical_text`); both only change where the
// same content sits.
import type { PublishedEvent } from "./relay.ts";

type Json = Record<string, unknown>;

export interface RoomArtifact {
  artifactId: string;
  name?: string;
  description?: string;
  parts: Json[];
}

export type RoomState =
  | "working"
  | "completed"
  | "failed"
  | "canceled"
  | "rejected"
  | "input-required"
  | "auth-required";

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** What hybro.ai shows instead of the hub's error text (`_safe_terminal_error`). */
const PUBLIC_ERRORS: Record<string, string> = {
  failed: "Task failed",
  canceled: "Task was canceled",
  rejected: "Task was rejected by the agent",
};

/** hybro.ai's words for a question it cannot route back (`UNSUPPORTED_INTERACTION_MESSAGE`). */
export const UNSUPPORTED_INTERACTION = "The agent requested an unsupported interaction.";

// ---------------------------------------------------------------------------------------------
// Parts

/** A file part's `file` object from any of the shapes the relay accepts (`_normalize_hub_file_info`). */
function fileInfo(part: Json): Json {
  const nested = isObject(part.file) ? part.file : {};
  const first = (...keys: string[]): unknown => {
    for (const source of [nested, part]) {
      for (const key of keys) if (key in source) return source[key];
    }
    return undefined;
  };
  const info: Json = {};
  const bytes = first("bytes", "raw");
  if (bytes !== undefined) info.bytes = bytes;
  const uri = first("uri", "url");
  if (uri !== undefined) info.uri = uri;
  const mimeType = first("mime_type", "mimeType", "mediaType");
  if (mimeType) info.mimeType = mimeType;
  const name = first("name", "filename");
  if (name) info.name = name;
  return info;
}

function withMetadata(out: Json, part: Json): Json {
  if ("metadata" in part) out.metadata = part.metadata;
  return out;
}

/**
 * Parts as hybro.ai normalises a hub's `parts` and `raw.artifact` parts (`_normalize_hub_parts`):
 * `kind`-tagged parts kept, flat v1.0 parts tagged, a file part repeated within the list dropped.
 */
function normaliseHubParts(parts: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  const seenFiles = new Set<string>();
  const file = (part: Json): void => {
    const info = fileInfo(part);
    const key = JSON.stringify([info.bytes, info.uri, info.mimeType, info.name]);
    if (seenFiles.has(key)) return;
    seenFiles.add(key);
    out.push(withMetadata({ kind: "file", file: info }, part));
  };
  for (const part of parts) {
    if (!isObject(part)) out.push(part);
    else if (part.kind === "file") {
      if (!isObject(part.file) && !("raw" in part || "url" in part)) out.push(part);
      else file(part);
    } else if (part.kind) out.push(part);
    else if ("text" in part) out.push(withMetadata({ kind: "text", text: part.text ?? "" }, part));
    else if (isObject(part.file) || "raw" in part || "url" in part) file(part);
    else if ("data" in part) out.push(withMetadata({ kind: "data", data: part.data }, part));
    else out.push(part);
  }
  return out;
}

/** One part as stored (`sanitize_artifact_parts`), or null for a shape the relay drops. */
function storedPart(value: unknown): Json | null {
  if (!isObject(value)) return null;
  const part = isObject(value.root) ? value.root : value;
  const kind = part.kind;
  if (kind === "text") return typeof part.text === "string" ? part : null;
  if (kind === "file") return isObject(part.file) ? part : null;
  if (kind === "data") return part.data === undefined || part.data === null ? null : part;
  if (typeof part.text === "string") return withMetadata({ kind: "text", text: part.text }, part);
  if (isObject(part.file)) return withMetadata({ kind: "file", file: part.file }, part);
  if (part.data !== undefined && part.data !== null) {
    return withMetadata({ kind: "data", data: part.data }, part);
  }
  if ("url" in part || "raw" in part) {
    const info = fileInfo(part);
    return Object.keys(info).length > 0 ? withMetadata({ kind: "file", file: info }, part) : null;
  }
  return null;
}

function storedParts(parts: unknown): Json[] {
  if (!Array.isArray(parts)) return [];
  return parts.map(storedPart).filter((part): part is Json => part !== null);
}

/** The text of text parts, joined with nothing between them. */
export function textOfRelayParts(parts: readonly unknown[] | undefined): string {
  let text = "";
  for (const part of parts ?? []) {
    if (!isObject(part)) continue;
    const inner = isObject(part.root) ? part.root : part;
    if (typeof inner.text === "string" && (inner.kind === undefined || inner.kind === "text")) {
      text += inner.text;
    }
  }
  return text;
}

/** All text of the artifacts, in order (`extract_text_from_artifact_dicts`). */
export function textOfArtifacts(artifacts: readonly RoomArtifact[]): string {
  return artifacts.map((artifact) => textOfRelayParts(artifact.parts)).join("");
}

// ---------------------------------------------------------------------------------------------
// Which artifacts an event carries

/** Artifacts with an id and stored parts; the relay names one without an id by its position. */
function identified(artifacts: readonly unknown[]): RoomArtifact[] {
  const out: RoomArtifact[] = [];
  artifacts.forEach((value, position) => {
    if (!isObject(value)) return;
    const id = str(value.artifactId) || str(value.artifact_id);
    const index = value.index;
    const artifact: RoomArtifact = {
      artifactId:
        id || (index !== undefined && index !== null ? `index:${index}` : `slot:${position}`),
      parts: storedParts(value.parts),
    };
    const name = str(value.name);
    if (name !== undefined) artifact.name = name;
    const description = str(value.description);
    if (description !== undefined) artifact.description = description;
    out.push(artifact);
  });
  return out;
}

/**
 * The artifacts an `artifact_update` adds to the room, in hybro.ai's order of reading:
 * `data.artifacts`, else `data.raw.artifact`, else `data.artifact` (parts normalised), else its
 * `parts` as the artifact `<agent_message_id>-stream`.
 */
export function artifactsOfUpdate(agentMessageId: string, data: Json): RoomArtifact[] {
  let artifacts: unknown[];
  if ("artifacts" in data) {
    artifacts = Array.isArray(data.artifacts) ? data.artifacts : [];
  } else {
    const raw = isObject(data.raw) ? data.raw : {};
    const artifact = raw.artifact || data.artifact;
    if (isObject(artifact) && Array.isArray(artifact.parts) && artifact.parts.length > 0) {
      artifacts = [{ ...artifact, parts: normaliseHubParts(artifact.parts) }];
    } else {
      artifacts = artifact ? [artifact] : [];
    }
  }
  if (artifacts.length === 0 && Array.isArray(data.parts) && data.parts.length > 0) {
    artifacts = [{ artifactId: `${agentMessageId}-stream`, name: "stream", parts: data.parts }];
  }
  return identified(artifacts);
}

// ---------------------------------------------------------------------------------------------
// The room's answer

/** One turn's answer as the room holds it; feed it the turn's events in order. */
export class RoomAnswer {
  readonly agentMessageId: string;
  #journal: RoomArtifact[] = [];
  #state: RoomState = "working";
  #messageText: string | null = null;
  #finalised = false;
  #error: string | null = null;
  #question: Json[] = [];

  constructor(agentMessageId: string) {
    this.agentMessageId = agentMessageId;
  }

  get state(): RoomState {
    return this.#state;
  }
  /** The turn ended (completed, failed, canceled, rejected or waiting for input). */
  get finished(): boolean {
    return this.#finalised;
  }
  /** The artifacts as the room holds them: each with its id, name and parts in order. */
  get artifacts(): RoomArtifact[] {
    return this.#journal.map((artifact) => ({ ...artifact, parts: [...artifact.parts] }));
  }
  /**
   * The answer's text as the room shows it: the stored message text, else (a completed turn) the
   * artifacts' text, which is what hybro.ai's page falls back to.
   */
  get text(): string {
    if (this.#messageText) return this.#messageText;
    return this.#state === "completed" || this.#state === "working"
      ? textOfArtifacts(this.#journal)
      : "";
  }
  /** The room's words for a failed turn (hybro.ai shows its own, not the hub's). */
  get publicError(): string | null {
    if (!this.#finalised) return null;
    return PUBLIC_ERRORS[this.#state] ?? null;
  }
  /** The hub's error text (`agent_error.error`), kept in the relay's event journal. */
  get error(): string | null {
    return this.#error;
  }
  /** The agent's question when it waits for input: its parts (text, data, files). */
  get question(): Json[] {
    return [...this.#question];
  }

  apply(event: PublishedEvent): void {
    const data = (isObject(event.data) ? event.data : {}) as Json;
    switch (event.type) {
      case "artifact_update":
        if (!this.#finalised) this.#journalUpdate(data);
        return;
      case "agent_response":
        if (!this.#finalised) this.#complete(data);
        return;
      case "agent_error":
        this.#error ??= str(data.error) ?? null;
        if (!this.#finalised) this.#fail(str(data.state) ?? "failed");
        return;
      case "task_interactive":
        if (!this.#finalised) this.#interactive(data);
        return;
      case "processing_status": {
        if (this.#finalised) return;
        const status = str(data.status);
        if (status === "completed") this.#complete({});
        else if (status === "failed" || status === "canceled" || status === "rejected") {
          this.#fail(status);
        }
        return;
      }
      default:
        return;
    }
  }

  #journalUpdate(data: Json): void {
    const append = data.append === true;
    for (const artifact of artifactsOfUpdate(this.agentMessageId, data)) {
      if (artifact.parts.length === 0) continue;
      const at = this.#journal.findIndex((a) => a.artifactId === artifact.artifactId);
      if (at < 0) this.#journal.push(artifact);
      else if (append) {
        // Only the parts are added: the stored artifact keeps its name (`_map_append_parts_expr`).
        const current = this.#journal[at]!;
        for (const part of artifact.parts) current.parts.push(part);
      } else this.#journal[at] = artifact;
    }
  }

  /** `_project_completed_output`: the response's artifacts, else its parts, else its text. */
  #complete(data: Json): void {
    const append = data.append === true;
    const given = Array.isArray(data.artifacts) ? data.artifacts : [];
    const parts = Array.isArray(data.parts) ? normaliseHubParts(data.parts) : [];
    const text = str(data.text) ?? str(data.content) ?? "";
    let projected: RoomArtifact[] | null = null;
    if (given.length > 0) {
      const incoming = identified(given).filter((a) => a.parts.length > 0);
      projected = merge(this.#journal, incoming, append);
    } else if (parts.length > 0) {
      const stored = storedParts(parts);
      if (stored.length > 0) {
        projected = merge(
          this.#journal,
          [{ artifactId: `${this.agentMessageId}-response`, name: "response", parts: stored }],
          append,
        );
      }
    } else if (text !== "") {
      projected = [...this.#journal, this.#textArtifact(text)];
    }
    if (projected !== null) this.#journal = projected;
    const display = projected ? textOfArtifacts(projected) : "";
    this.#messageText = display;
    this.#state = "completed";
    this.#finalised = true;
  }

  #textArtifact(text: string): RoomArtifact {
    return {
      artifactId: `${this.agentMessageId}-response`,
      name: "response",
      parts: [{ kind: "text", text }],
    };
  }

  #fail(state: string): void {
    this.#state = state === "canceled" || state === "rejected" ? state : "failed";
    this.#messageText = PUBLIC_ERRORS[this.#state] ?? "Task failed";
    this.#finalised = true;
  }

  #interactive(data: Json): void {
    if (!str(data.context_id)) {
      // `_hub_interactive_observation` needs the conversation's id to route the answer back;
      // without it a conversation room turns the question into this error.
      this.#error ??= UNSUPPORTED_INTERACTION;
      this.#fail("failed");
      this.#messageText = UNSUPPORTED_INTERACTION;
      return;
    }
    const status = isObject(data.status) ? data.status : null;
    const state = str(data.state) ?? str(status?.state);
    this.#state = state === "auth-required" ? "auth-required" : "input-required";
    const message = isObject(status?.message) ? status.message : null;
    const prompt = str(data.status_text) ?? str(data.prompt);
    if (message) this.#question = storedParts(message.parts);
    else if (prompt) this.#question = [{ kind: "text", text: prompt }];
    this.#finalised = true;
  }
}

function rest(artifact: RoomArtifact): Omit<RoomArtifact, "parts"> {
  const { parts: _parts, ...others } = artifact;
  return others;
}

/** `_merge_artifact_journal`: by id, `append` adds parts (unless they are already its tail). */
function merge(
  existing: RoomArtifact[],
  incoming: RoomArtifact[],
  append: boolean,
): RoomArtifact[] {
  const merged = existing.map((artifact) => ({ ...artifact, parts: [...artifact.parts] }));
  for (const artifact of incoming) {
    const at = merged.findIndex((a) => a.artifactId === artifact.artifactId);
    if (at < 0) merged.push(artifact);
    else if (append) {
      const current = merged[at]!;
      const tail = current.parts.slice(-artifact.parts.length);
      const repeated =
        artifact.parts.length > 0 && JSON.stringify(tail) === JSON.stringify(artifact.parts);
      merged[at] = {
        ...current,
        ...rest(artifact),
        parts: repeated ? current.parts : [...current.parts, ...artifact.parts],
      };
    } else merged[at] = artifact;
  }
  return merged;
}

/** A part in a line of text for people: the text itself, a file's name, data as compact JSON. */
export function describeRelayPart(part: unknown): string {
  if (!isObject(part)) return JSON.stringify(part) ?? "";
  const inner = isObject(part.root) ? part.root : part;
  if (typeof inner.text === "string" && (inner.kind === undefined || inner.kind === "text")) {
    return inner.text;
  }
  if (inner.kind === "file" || isObject(inner.file) || "url" in inner || "raw" in inner) {
    const info = fileInfo(inner);
    const name = str(info.name) ?? str(info.uri) ?? "unnamed file";
    const type = str(info.mimeType);
    return `[file: ${name}${type ? `, ${type}` : ""}]`;
  }
  if ("data" in inner) return JSON.stringify(inner.data) ?? "null";
  return JSON.stringify(inner) ?? "";
}
