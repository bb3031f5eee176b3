// The answer a turn's published events carry, as a person reads it: the `agent_response` content
// when there is one (the mapping sends it when it says more than the stream did), else the text
// streamed in `artifact_update` chunks (append adds, a fresh chunk replaces its artifact), else
// the question of a turn waiting for input. Pure; takes events as published or as parsed JSON.

export function answerText(events: readonly unknown[]): string | null {
  const artifacts = new Map<string, string>();
  let response: string | null = null;
  let question: string | null = null;
  for (const event of events) {
    if (!isRecord(event) || !isRecord(event.data)) continue;
    const data = event.data;
    if (event.type === "agent_response" && typeof data.content === "string") {
      response = data.content;
    } else if (event.type === "task_interactive" && typeof data.status_text === "string") {
      question = data.status_text;
    } else if (event.type === "artifact_update" && typeof data.text === "string") {
      const id = artifactIdOf(data);
      artifacts.set(id, (data.append === true ? (artifacts.get(id) ?? "") : "") + data.text);
    }
  }
  if (response !== null) return response;
  if (artifacts.size > 0) return [...artifacts.values()].join("");
  return question;
}

function artifactIdOf(data: Record<string, unknown>): string {
  const own = isRecord(data.artifact) ? data.artifact.artifactId : undefined;
  if (typeof own === "string") return own;
  const raw =
    isRecord(data.raw) && isRecord(data.raw.artifact) ? data.raw.artifact.artifactId : undefined;
  return typeof raw === "string" ? raw : "";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
