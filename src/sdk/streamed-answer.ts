// Following one streamed turn the way the room does (wire/room-answer.ts): feed it the events of
// `HybroGateway.stream()`; it keeps the answer (artifacts by id: `append: true` adds, `false`
// replaces) and says what a reader should see change: more text at the end, or the whole answer
// again when the agent replaced something already shown. Files show as their names, data parts as
// compact JSON, so nothing an agent sends is silently left out of a printed answer.
import type { PublishedEvent } from "../wire/relay.ts";
import {
  artifactsOfUpdate,
  describeRelayPart,
  RoomAnswer,
  type RoomArtifact,
  type RoomState,
} from "../wire/room-answer.ts";
import type { GatewayTask } from "./message.ts";
import type { GatewayStreamEvent } from "./stream-event.ts";

/** What changed on screen: text added at the end, or everything shown again (a replace). */
export type AnswerChange = { append: string } | { restart: string };

type Json = Record<string, unknown>;

/** Parts for people: text as it is; a file or data part on a line of its own. */
export function renderParts(parts: readonly unknown[]): string {
  let out = "";
  for (const part of parts) {
    const inner = (
      typeof part === "object" && part !== null && "root" in part
        ? (part as { root: unknown }).root
        : part
    ) as Json;
    const isText =
      typeof inner?.text === "string" && (inner.kind === undefined || inner.kind === "text");
    if (isText) {
      out += inner.text as string;
      continue;
    }
    if (out !== "" && !out.endsWith("\n")) out += "\n";
    out += `${describeRelayPart(part)}\n`;
  }
  return out;
}

/** Artifacts for people, in order; one that starts after text without a line end gets one. */
export function renderArtifacts(artifacts: ReadonlyArray<{ parts?: unknown }>): string {
  let out = "";
  for (const artifact of artifacts) {
    const text = renderParts(Array.isArray(artifact.parts) ? artifact.parts : []);
    if (text === "") continue;
    out += separatorAfter(out) + text;
  }
  return out;
}

function separatorAfter(text: string): string {
  return text !== "" && !text.endsWith("\n") ? "\n" : "";
}

/**
 * A gateway Task for people: its artifacts (files by name, data as JSON; the agent's closing
 * status message is one of them), else its status message (a question, an error) in full.
 */
export function renderTask(task: GatewayTask): string {
  const state = task.status?.state;
  const message = task.status?.message as { parts?: unknown } | undefined;
  const said = renderParts(Array.isArray(message?.parts) ? message.parts : []);
  if (state === "input-required" || state === "auth-required" || state === "failed") return said;
  if (state === "canceled" || state === "rejected") return said;
  const artifacts = renderArtifacts(task.artifacts ?? []);
  return artifacts !== "" ? artifacts : said;
}

export class StreamedAnswer {
  #answer: RoomAnswer | null = null;
  /** What `render()` shows per artifact id, in the room's order. */
  readonly #shown = new Map<string, string>();
  #taskId: string | null = null;
  #contextId: string | null = null;
  #errorType: string | null = null;

  /** How the turn stands: `working` until its end arrives. */
  get state(): RoomState {
    return this.#answer?.state ?? "working";
  }
  get finished(): boolean {
    return this.#answer?.finished ?? false;
  }
  /** The answer's text as the room shows it (text parts only). */
  get text(): string {
    return this.#answer?.text ?? "";
  }
  get artifacts(): RoomArtifact[] {
    return this.#answer?.artifacts ?? [];
  }
  /** The agent's question (all its parts) when it waits for input. */
  get question(): Json[] {
    return this.#answer?.question ?? [];
  }
  /** The hub's error text and type when the turn failed. */
  get error(): string | null {
    return this.#answer?.error ?? null;
  }
  get errorType(): string | null {
    return this.#errorType;
  }
  /** The agent's task id (to answer its question), once an event named it. */
  get taskId(): string | null {
    return this.#taskId;
  }
  get contextId(): string | null {
    return this.#contextId;
  }

  /** The whole answer for people: every artifact's parts in order (see renderArtifacts). */
  render(): string {
    let out = "";
    for (const text of this.#shown.values()) if (text !== "") out += separatorAfter(out) + text;
    return out;
  }

  /** The last character shown so far ("" when nothing is). */
  #lastShown(): string {
    const texts = [...this.#shown.values()];
    for (let i = texts.length - 1; i >= 0; i--) if (texts[i] !== "") return texts[i]!.slice(-1);
    return "";
  }

  /** Takes one stream event; returns what a reader should see change, if anything. */
  apply(event: GatewayStreamEvent): AnswerChange | null {
    if (event.type === "unrecognized") return null;
    const published = event as PublishedEvent;
    this.#answer ??= new RoomAnswer(published.agent_message_id);
    const data = published.data as unknown as Json;
    if (published.type !== "task_submitted" && typeof data.task_id === "string") {
      this.#taskId = data.task_id;
    }
    if (typeof data.context_id === "string" && data.context_id) this.#contextId = data.context_id;
    if (published.type === "agent_error") this.#errorType = published.data.error_type;
    const finished = this.#answer.finished;
    if (published.type === "artifact_update" && !finished) {
      const change = this.#update(published.agent_message_id, data);
      this.#answer.apply(published);
      return change;
    }
    this.#answer.apply(published);
    if (published.type === "agent_response" && !finished) return this.#project();
    return null;
  }

  /** A completed turn's answer may hold what no update showed (an older hub's `content`). */
  #project(): AnswerChange | null {
    const seen = this.render();
    const artifacts = this.#answer?.artifacts ?? [];
    if (artifacts.every((artifact) => this.#shown.has(artifact.artifactId))) return null;
    this.#shown.clear();
    for (const artifact of artifacts)
      this.#shown.set(artifact.artifactId, renderParts(artifact.parts));
    return textChange(seen, this.render());
  }

  #update(agentMessageId: string, data: Json): AnswerChange | null {
    const append = data.append === true;
    let tail = "";
    // What the reader saw, taken before the first change that is not at the end.
    let seen: string | null = null;
    const snapshot = () => {
      if (seen !== null) return;
      const now = this.render();
      seen = tail === "" ? now : now.slice(0, now.length - tail.length);
    };
    for (const artifact of artifactsOfUpdate(agentMessageId, data)) {
      if (artifact.parts.length === 0) continue;
      const text = renderParts(artifact.parts);
      const before = this.#shown.get(artifact.artifactId);
      const last = [...this.#shown.keys()].at(-1);
      if (before === undefined) {
        const sep = text === "" ? "" : separatorAfter(this.#lastShown());
        this.#shown.set(artifact.artifactId, text);
        tail += sep + text;
      } else if (append && artifact.artifactId === last) {
        this.#shown.set(artifact.artifactId, before + text);
        tail += text;
      } else {
        snapshot();
        this.#shown.set(artifact.artifactId, append ? before + text : text);
      }
    }
    if (seen !== null) return textChange(seen, this.render());
    return tail === "" ? null : { append: tail };
  }
}

/** What to print after `shown` so the reader sees `now`: the rest when `now` extends it. */
export function textChange(shown: string, now: string): AnswerChange | null {
  if (now === shown) return null;
  if (now.startsWith(shown)) return { append: now.slice(shown.length) };
  return { restart: now };
}
