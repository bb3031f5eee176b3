// Request bodies the relay accepts, as zod schemas, and the one way a schema failure becomes a
// 422 `validation_error` naming the field.
import { type ZodType, z } from "zod";
import { RelayHttpError } from "./errors.ts";

const text = (max: number) => z.string().max(max);
const id = z.string().min(1).max(200);
const jsonObject = z.record(z.string(), z.unknown());

export const registerBody = z.object({
  hub_id: z.string().regex(/^[0-9a-f]{32}$/, "must be 32 lowercase hex characters"),
});

const syncAgent = z.strictObject({
  local_agent_id: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1–128 of A-Z a-z 0-9 _ . : -"),
  name: text(500),
  description: text(20_000),
  capabilities: z.array(text(200)).max(1000),
  agent_card: jsonObject,
});

export const syncBody = z.object({
  agents: z
    .array(syncAgent)
    .max(1000)
    .superRefine((agents, ctx) => {
      const seen = new Set<string>();
      agents.forEach((agent, index) => {
        if (seen.has(agent.local_agent_id)) {
          ctx.addIssue({
            code: "custom",
            path: [index, "local_agent_id"],
            message: `duplicate local_agent_id "${agent.local_agent_id}"`,
          });
        }
        seen.add(agent.local_agent_id);
      });
    }),
  /** Missing means true, as on hybro.ai (the hub always sends true). */
  prune_missing: z.boolean().optional(),
});

const nullableText = z.string().nullable().optional();
/** hybro.ai reads these as true/false when present; a null there makes it lose the event. */
const flag = z.boolean().optional();
/** Parts as hybro.ai's conversion takes them: a list of objects. */
const parts = z.array(z.looseObject({})).optional();
const envelope = <T extends string, D extends z.ZodRawShape>(type: T, data: D) =>
  z.looseObject({
    type: z.literal(type),
    agent_message_id: id,
    data: z.looseObject({
      // The idempotency key's parts (relay-wire.md section 6) and the echoed run id.
      task_id: nullableText,
      response_seq: z.int().min(0).optional(),
      run_id: nullableText,
      is_final: flag,
      skip_persist: flag,
      files_materialized: flag,
      ...data,
    }),
  });

/** An artifact as hybro.ai's conversion takes it: an object with its parts (a list of objects). */
const artifacts = z.array(z.looseObject({ artifactId: z.string().optional(), parts })).optional();
/** A part of the relay's A2A v0.3 model (`common/types.py`): what its pydantic check accepts. */
const relayPart = z.union([
  z.looseObject({ kind: z.literal("text"), text: z.string() }),
  z.looseObject({
    kind: z.literal("file"),
    file: z
      .looseObject({ bytes: z.string().optional(), uri: z.string().optional() })
      .refine((file) => (file.bytes ? 1 : 0) + (file.uri ? 1 : 0) === 1, {
        message: "a file needs exactly one of bytes and uri",
      }),
  }),
  z.looseObject({ kind: z.literal("data"), data: z.record(z.string(), z.unknown()) }),
]);
/** A TaskStatus hybro.ai validates before it reads an agent's question from it. */
const relayStatus = z.looseObject({
  state: z.string(),
  message: z
    .looseObject({
      role: z.enum(["agent", "user"]),
      messageId: z.string().optional(),
      parts: z.array(relayPart),
      metadata: z.record(z.string(), z.unknown()).nullable().optional(),
    })
    .nullable()
    .optional(),
  timestamp: z.string().nullable().optional(),
});

/**
 * The 7 event types hybro.ai accepts (any other `type` refuses the whole POST with 422). Their
 * `data` is checked where hybro.ai would otherwise lose the event later without a word (a
 * non-boolean flag, parts that are not objects, a missing text, a state it does not know for the
 * kind): stricter than its door, so a hub bug shows here as a 422 naming the field.
 */
const publishedEvent = z.discriminatedUnion("type", [
  envelope("task_submitted", { task_id: z.string(), agent_name: z.string() }),
  envelope("task_status", {
    state: z.string(),
    status_text: z.string().optional(),
    final: flag,
    context_id: nullableText,
  }),
  envelope("artifact_update", {
    text: z.string().optional(),
    parts,
    artifacts,
    append: flag,
    last_chunk: flag,
    context_id: nullableText,
    artifact: z.looseObject({ artifactId: z.string(), parts }).optional(),
  }),
  envelope("agent_response", {
    content: z.string(),
    agent_id: z.string().optional(),
    parts,
    artifacts,
    append: flag,
    context_id: nullableText,
  }),
  envelope("agent_error", {
    error: z.string(),
    error_type: z.string(),
    // `_normalize_hub_state`: anything else makes hybro.ai drop the event.
    state: z.enum(["failed", "canceled", "rejected"]).optional(),
    context_id: nullableText,
  }),
  envelope("task_interactive", {
    state: z.enum(["input-required", "auth-required"]),
    context_id: nullableText,
    status_text: z.string().optional(),
    status: relayStatus.optional(),
  }),
  envelope("processing_status", {
    status: z.enum(["completed", "failed", "canceled", "rejected", "input_required"]),
    user_message_id: nullableText,
  }),
]);

export const publishBody = z.object({
  room_id: id,
  events: z.array(publishedEvent).min(1).max(10_000),
});

export const discoverBody = z.object({
  query: text(1000),
  limit: z.int().min(1).max(100).optional(),
});

const messagePart = z.looseObject({});
const gatewayMessage = z.looseObject({
  role: z.string().max(50).optional(),
  parts: z.array(messagePart).min(1).max(1000),
  messageId: id.optional(),
  contextId: id.optional(),
  taskId: id.optional(),
});
export const gatewaySendBody = z.object({ message: gatewayMessage });

const expiresAt = z.string().max(64).nullable().optional();
const scopes = z.array(z.string().max(64)).min(1).max(50);
export const createKeyBody = z.object({
  name: z.string().min(1).max(200),
  scopes,
  expires_at: expiresAt,
  user_id: z.string().min(1).max(64).optional(),
});
export const patchKeyBody = z
  .object({
    name: z.string().min(1).max(200).optional(),
    scopes: scopes.optional(),
    expires_at: expiresAt,
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), {
    message: "give at least one of name, scopes, expires_at",
  });

/** Parses `value` with `schema`, or throws a 422 naming the first bad field. */
export function parseBody<T extends ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.slice(0, 10).map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join(".") : "body",
    message: issue.message,
  }));
  const first = errors[0] ?? { field: "body", message: "invalid" };
  return fail(first, errors);
}

function fail(first: { field: string; message: string }, errors: unknown[]): never {
  throw new RelayHttpError(422, "validation_error", `${first.field}: ${first.message}`, {
    field: first.field,
    errors,
  });
}
