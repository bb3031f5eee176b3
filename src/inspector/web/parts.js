// What an event carries, in a line per artifact or message: its parts as a person reads them
// (text as it is, a file by its name, data as compact JSON). Read from the kept JSON of an A2A
// event (any dialect) or of a published event (content once, in artifact_update.data.artifacts).
// Only returns strings: the page shows them as text.

const MAX_LINE = 160;

/** [{ label, parts }] for a kept payload, or [] when it is cut or carries no parts. */
export function contentLines(entry) {
  if (entry.payload.cutFromBytes !== null) return [];
  let value;
  try {
    value = JSON.parse(entry.payload.json);
  } catch {
    return [];
  }
  if (!isObject(value)) return [];
  return entry.type === "published" ? publishedLines(value) : agentLines(value);
}

function publishedLines(event) {
  const data = isObject(event.data) ? event.data : {};
  switch (event.type) {
    case "artifact_update": {
      const flags = [data.append === true ? "append" : "replace"];
      if (data.last_chunk === true) flags.push("last chunk");
      return artifactLines(data.artifacts, flags.join(", "));
    }
    case "agent_response":
      // Names the streamed artifacts (no parts): the relay projects the answer from its journal.
      return Array.isArray(data.artifacts) && data.artifacts.length > 0
        ? [
            {
              label: "names",
              parts: data.artifacts.map((a) => artifactName(a)),
            },
          ]
        : [];
    case "task_interactive": {
      const message = isObject(data.status) ? data.status.message : null;
      return isObject(message) ? [{ label: "question", parts: partsOf(message.parts) }] : [];
    }
    case "agent_error":
      return [{ label: String(data.error_type ?? "error"), parts: [String(data.error ?? "")] }];
    default:
      return [];
  }
}

function agentLines(event) {
  // JSON-RPC results of v1.0 agents wrap the object: { message }, { task }, { artifactUpdate }…
  const inner = event.message ?? event.task ?? event.artifactUpdate ?? event.statusUpdate ?? event;
  if (!isObject(inner)) return [];
  const lines = [];
  if (Array.isArray(inner.parts)) lines.push({ label: "message", parts: partsOf(inner.parts) });
  if (isObject(inner.artifact)) lines.push(...artifactLines([inner.artifact], null));
  if (Array.isArray(inner.artifacts)) lines.push(...artifactLines(inner.artifacts, null));
  const status = isObject(inner.status) ? inner.status : null;
  if (status && isObject(status.message) && Array.isArray(status.message.parts)) {
    lines.push({
      label: `status ${status.state ?? ""}`.trim(),
      parts: partsOf(status.message.parts),
    });
  }
  return lines;
}

function artifactLines(artifacts, flags) {
  if (!Array.isArray(artifacts)) return [];
  return artifacts.filter(isObject).map((artifact) => ({
    label: `${artifactName(artifact)}${flags ? ` (${flags})` : ""}`,
    parts: partsOf(artifact.parts),
  }));
}

function artifactName(artifact) {
  if (!isObject(artifact)) return "artifact";
  const id = artifact.artifactId ?? artifact.artifact_id ?? "";
  return artifact.name ? `${artifact.name} [${id}]` : `artifact ${id}`;
}

function partsOf(parts) {
  return Array.isArray(parts) ? parts.map(describePart) : [];
}

/** One part in a few words (v0.3 `kind` parts and v1.0 parts alike). */
export function describePart(part) {
  if (!isObject(part)) return short(JSON.stringify(part) ?? "");
  const inner = isObject(part.root) ? part.root : part;
  if (typeof inner.text === "string") return short(inner.text);
  const file = isObject(inner.file) ? inner.file : inner;
  if (inner.kind === "file" || isObject(inner.file) || "url" in inner || "raw" in inner) {
    const name = file.name ?? file.filename ?? file.uri ?? file.url ?? "unnamed file";
    const type = file.mimeType ?? file.mediaType ?? file.media_type;
    return `[file: ${name}${type ? `, ${type}` : ""}]`;
  }
  if ("data" in inner) return short(`[data: ${JSON.stringify(inner.data)}]`);
  return short(JSON.stringify(inner));
}

function short(text) {
  return text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}…` : text;
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
