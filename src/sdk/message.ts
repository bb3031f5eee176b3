// Pure mapping between what a caller gives and the A2A shapes the Gateway speaks (v0.3, with
// `kind` on parts), and back from a Task to its answer text.
import { randomUUID } from "node:crypto";
import type { GatewaySendResponse } from "../wire/gateway.ts";

export interface GatewayTextPart {
  kind: "text";
  text: string;
  metadata?: Record<string, unknown>;
}

/** A message part: text, or any other A2A part kind (`file`, `data`), passed through untouched. */
export type GatewayPart = GatewayTextPart | Record<string, unknown>;

/** An A2A Message (v0.3 shape). */
export interface GatewayMessage {
  kind?: "message";
  role: "user" | "agent";
  parts: GatewayPart[];
  messageId: string;
  contextId?: string;
  taskId?: string;
  referenceTaskIds?: string[];
  extensions?: string[];
  metadata?: Record<string, unknown>;
}

/** A message to send, its ids optional (they are filled in). */
export interface MessageDraft {
  role?: "user";
  parts: GatewayPart[];
  messageId?: string;
  contextId?: string;
  taskId?: string;
  referenceTaskIds?: string[];
  extensions?: string[];
  metadata?: Record<string, unknown>;
}

/** What `send`/`stream` accept: the text to say, or a whole message. */
export type MessageInput = string | MessageDraft;

export interface MessageContext {
  /** Continue this conversation; a new id is made when absent. */
  contextId?: string | undefined;
  /** Continue this task (e.g. answering an agent that asked for input). */
  taskId?: string | undefined;
}

/** The A2A Task a `message/send` returns (v0.3 shape). */
export type GatewayTask = GatewaySendResponse["result"];

/**
 * The message the Python SDK would send: `{role:"user", parts:[{kind:"text", text}],
 * messageId: <uuid>, contextId: <given or new uuid>}`. A given message keeps its own ids; the
 * options fill only what it lacks.
 */
export function buildUserMessage(
  input: MessageInput,
  context: MessageContext = {},
): GatewayMessage & { contextId: string } {
  const base: MessageDraft =
    typeof input === "string" ? { parts: [{ kind: "text", text: input }] } : { ...input };
  const message: GatewayMessage & { contextId: string } = {
    ...base,
    kind: "message",
    role: "user",
    messageId: base.messageId ?? randomUUID(),
    contextId: base.contextId ?? context.contextId ?? randomUUID(),
  };
  const taskId = base.taskId ?? context.taskId;
  if (taskId !== undefined) message.taskId = taskId;
  return message;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Concatenated text of the text parts (v0.3 `{kind:"text"}` and v1.0 `{text}` alike). */
export function partsText(parts: unknown): string {
  if (!Array.isArray(parts)) return "";
  let text = "";
  for (const part of parts) {
    if (!isRecord(part)) continue;
    const kind = part["kind"];
    if ((kind === undefined || kind === "text") && typeof part["text"] === "string") {
      text += part["text"];
    }
  }
  return text;
}

/**
 * The answer text of a Task: all artifact text when any artifact has text (agents often repeat
 * the answer in the final status message, so that is not added), else the status message text.
 */
export function taskText(task: GatewayTask): string {
  let artifactText = "";
  for (const artifact of task.artifacts ?? []) {
    if (isRecord(artifact)) artifactText += partsText(artifact.parts);
  }
  if (artifactText !== "") return artifactText;
  const statusMessage = task.status?.message;
  return isRecord(statusMessage) ? partsText(statusMessage["parts"]) : "";
}

/** True when the value looks like a Gateway send result (`{result: {kind:"task", …}}`). */
export function isSendResponse(value: unknown): value is GatewaySendResponse {
  if (!isRecord(value) || !isRecord(value["result"])) return false;
  const task = value["result"];
  return typeof task["id"] === "string" && isRecord(task["status"]);
}
