// Request bodies the relay accepts, as valibot schemas, and the one way a schema failure becomes
// a 422 `validation_error` naming the field.
import * as v from "valibot";
import {
  anyObject,
  defaultMessage,
  issuePath,
  looseObject,
  object,
  objectMessage,
  onlyObject,
  strictObject,
  wholeNumber,
} from "../validation/schema-pieces.ts";
import { RelayHttpError } from "./errors.ts";

const text = (max: number) => v.pipe(v.string(), v.maxLength(max));
const id = v.pipe(v.string(), v.minLength(1), v.maxLength(200));
const jsonObject = anyObject();

export const registerBody = object({
  hub_id: v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/, "must be 32 lowercase hex characters")),
});

const syncAgent = strictObject({
  local_agent_id: v.pipe(
    v.string(),
    v.regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1–128 of A-Z a-z 0-9 _ . : -"),
  ),
  name: text(500),
  description: text(20_000),
  capabilities: v.pipe(v.array(text(200)), v.maxLength(1000)),
  agent_card: jsonObject,
});

export const syncBody = object({
  agents: v.pipe(
    v.array(syncAgent),
    v.maxLength(1000),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const agents = dataset.value;
      const seen = new Set<string>();
      agents.forEach((agent, index) => {
        if (seen.has(agent.local_agent_id)) {
          addIssue({
            message: `duplicate local_agent_id "${agent.local_agent_id}"`,
            path: [
              { type: "array", origin: "value", input: agents, key: index, value: agent },
              {
                type: "object",
                origin: "value",
                input: agent,
                key: "local_agent_id",
                value: agent.local_agent_id,
              },
            ],
          });
        }
        seen.add(agent.local_agent_id);
      });
    }),
  ),
  /** Missing means true, as on hybro.ai (the hub always sends true). */
  prune_missing: v.optional(v.boolean()),
});

const nullableText = v.nullish(v.string());
/** hybro.ai reads these as true/false when present; a null there makes it lose the event. */
const flag = v.optional(v.boolean());
/** Parts as hybro.ai's conversion takes them: a list of objects. */
const parts = v.optional(v.array(looseObject({})));
const envelope = <T extends string, D extends v.ObjectEntries>(type: T, data: D) => {
  const entries = {
    type: v.literal(type),
    agent_message_id: id,
    data: looseObject({
      // The idempotency key's parts (relay-wire.md section 6) and the echoed run id.
      task_id: nullableText,
      response_seq: v.optional(v.pipe(wholeNumber, v.minValue(0))),
      run_id: nullableText,
      is_final: flag,
      skip_persist: flag,
      files_materialized: flag,
      ...data,
    }),
  };
  return v.looseObject(entries, objectMessage(entries));
};

/** An artifact as hybro.ai's conversion takes it: an object with its parts (a list of objects). */
const artifacts = v.optional(v.array(looseObject({ artifactId: v.optional(v.string()), parts })));
/** A part of the relay's A2A v0.3 model (`common/types.py`): what its pydantic check accepts. */
const relayPart = v.union(
  [
    looseObject({ kind: v.literal("text"), text: v.string() }),
    looseObject({
      kind: v.literal("file"),
      file: v.pipe(
        looseObject({ bytes: v.optional(v.string()), uri: v.optional(v.string()) }),
        v.check(
          (file) => (file.bytes ? 1 : 0) + (file.uri ? 1 : 0) === 1,
          "a file needs exactly one of bytes and uri",
        ),
      ),
    }),
    looseObject({ kind: v.literal("data"), data: anyObject() }),
  ],
  "Invalid input",
);
/** A TaskStatus hybro.ai validates before it reads an agent's question from it. */
const relayStatus = looseObject({
  state: v.string(),
  message: v.nullish(
    looseObject({
      role: v.picklist(["agent", "user"]),
      messageId: v.optional(v.string()),
      parts: v.array(relayPart),
      metadata: v.nullish(anyObject()),
    }),
  ),
  timestamp: v.nullish(v.string()),
});

/**
 * The 7 event types hybro.ai accepts (any other `type` refuses the whole POST with 422). Their
 * `data` is checked where hybro.ai would otherwise lose the event later without a word (a
 * non-boolean flag, parts that are not objects, a missing text, a state it does not know for the
 * kind): stricter than its door, so a hub bug shows here as a 422 naming the field.
 */
const eventKinds = [
  envelope("task_submitted", { task_id: v.string(), agent_name: v.string() }),
  envelope("task_status", {
    state: v.string(),
    status_text: v.optional(v.string()),
    final: flag,
    context_id: nullableText,
  }),
  envelope("artifact_update", {
    text: v.optional(v.string()),
    parts,
    artifacts,
    append: flag,
    last_chunk: flag,
    context_id: nullableText,
    artifact: v.optional(looseObject({ artifactId: v.string(), parts })),
  }),
  envelope("agent_response", {
    content: v.string(),
    agent_id: v.optional(v.string()),
    parts,
    artifacts,
    append: flag,
    context_id: nullableText,
  }),
  envelope("agent_error", {
    error: v.string(),
    error_type: v.string(),
    // `_normalize_hub_state`: anything else makes hybro.ai drop the event.
    state: v.optional(v.picklist(["failed", "canceled", "rejected"])),
    context_id: nullableText,
  }),
  envelope("task_interactive", {
    state: v.picklist(["input-required", "auth-required"]),
    context_id: nullableText,
    status_text: v.optional(v.string()),
    status: v.optional(relayStatus),
  }),
  envelope("processing_status", {
    status: v.picklist(["completed", "failed", "canceled", "rejected", "input_required"]),
    user_message_id: nullableText,
  }),
];
const publishedEvent = v.pipe(
  onlyObject<Record<string, unknown>>("object"),
  v.variant(
    "type",
    eventKinds,
    `Invalid discriminator value. Expected ${eventKinds.map((kind) => `'${kind.entries.type.literal}'`).join(" | ")}`,
  ),
);

export const publishBody = object({
  room_id: id,
  events: v.pipe(v.array(publishedEvent), v.minLength(1), v.maxLength(10_000)),
});

export const discoverBody = object({
  query: text(1000),
  limit: v.optional(v.pipe(wholeNumber, v.minValue(1), v.maxValue(100))),
});

const messagePart = looseObject({});
const gatewayMessage = looseObject({
  role: v.optional(v.pipe(v.string(), v.maxLength(50))),
  parts: v.pipe(v.array(messagePart), v.minLength(1), v.maxLength(1000)),
  messageId: v.optional(id),
  contextId: v.optional(id),
  taskId: v.optional(id),
});
export const gatewaySendBody = object({ message: gatewayMessage });

const expiresAt = v.nullish(v.pipe(v.string(), v.maxLength(64)));
const scopes = v.pipe(
  v.array(v.pipe(v.string(), v.maxLength(64))),
  v.minLength(1),
  v.maxLength(50),
);
export const createKeyBody = object({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  scopes,
  expires_at: expiresAt,
  user_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
});
export const patchKeyBody = v.pipe(
  object({
    name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
    scopes: v.optional(scopes),
    expires_at: expiresAt,
  }),
  v.check(
    (body) => Object.values(body).some((value) => value !== undefined),
    "give at least one of name, scopes, expires_at",
  ),
);

/** Parses `value` with `schema`, or throws a 422 naming the first bad field. */
export function parseBody<T extends v.GenericSchema>(schema: T, value: unknown): v.InferOutput<T> {
  const result = v.safeParse(schema, value, { message: defaultMessage });
  if (result.success) return result.output;
  const errors = result.issues.slice(0, 10).map((issue) => {
    const path = issuePath(issue);
    return { field: path.length > 0 ? path.join(".") : "body", message: issue.message };
  });
  const first = errors[0] ?? { field: "body", message: "invalid" };
  return fail(first, errors);
}

function fail(first: { field: string; message: string }, errors: unknown[]): never {
  throw new RelayHttpError(422, "validation_error", `${first.field}: ${first.message}`, {
    field: first.field,
    errors,
  });
}
