// API-key management (`/api/v1/api-keys`) and `/api/v1/auth/verify`.
//
// A key manages the keys of its own user only, and only keys it could have made itself: it
// grants only scopes it holds, never an expiry later than its own, and never changes or revokes
// a key whose scopes go beyond its own (a `keys:admin` key cannot touch its user's `*` key).
// Other users' keys are the relay operator's alone: the admin key the relay was started with
// (see key-ring.ts), which no user key can become.
import type { CreateApiKeyResponse, ListApiKeysResponse, VerifyResponse } from "../wire/gateway.ts";
import { scopesAllow } from "./api-key.ts";
import { clip, notFound, RelayHttpError } from "./errors.ts";
import type { Reply } from "./http-io.ts";
import { KeyRingError, normaliseExpiry, toApiKeyInfo } from "./key-ring.ts";
import type { RequestContext } from "./request-context.ts";
import { createKeyBody, parseBody, patchKeyBody } from "./schemas.ts";
import type { ApiKeyRecord } from "./store.ts";

const KEY_ID_FORMAT = /^key_[0-9a-f]{16}$/;

const FIELD_OF: Record<KeyRingError["kind"], string> = {
  invalid_scope: "scopes",
  invalid_user: "user_id",
  invalid_name: "name",
  invalid_expiry: "expires_at",
  bad_key: "key",
};

function asValidation(error: unknown): never {
  if (error instanceof KeyRingError) {
    const field = FIELD_OF[error.kind];
    throw new RelayHttpError(422, "validation_error", `${field}: ${error.message}`, { field });
  }
  throw error;
}

function isOperator(ctx: RequestContext): boolean {
  return ctx.core.keys.isOperator(ctx.key);
}

/** The first of `scopes` the acting key does not hold, or null. */
function missingScope(ctx: RequestContext, scopes: readonly string[]): string | null {
  return scopes.find((scope) => !scopesAllow(ctx.key.scopes, scope)) ?? null;
}

function requireScopes(ctx: RequestContext, scopes: readonly string[]): void {
  const missing = isOperator(ctx) ? null : missingScope(ctx, scopes);
  if (missing === null) return;
  throw new RelayHttpError(
    403,
    "insufficient_scope",
    `A key can grant only scopes it holds; this key lacks "${clip(missing)}"`,
    { required_scope: missing, provided_scopes: ctx.key.scopes },
  );
}

/** A key it changes or revokes: none with scopes beyond the acting key's, nor the operator's. */
function requireWithin(ctx: RequestContext, target: ApiKeyRecord, action: string): void {
  if (isOperator(ctx)) return;
  const missing = ctx.core.keys.isOperator(target) ? "*" : missingScope(ctx, target.scopes);
  if (missing === null) return;
  throw new RelayHttpError(
    403,
    "insufficient_scope",
    `This key may not ${action} key ${target.id}: that key holds "${clip(missing)}", which this key lacks`,
    { required_scope: missing, provided_scopes: ctx.key.scopes },
  );
}

/** An expiry a key may give: none later than its own (a key cannot outlive its maker). */
function requireExpiryWithin(ctx: RequestContext, expiresAt: string | null | undefined): void {
  const own = ctx.key.expiresAt;
  if (own === null || expiresAt === undefined || isOperator(ctx)) return;
  let asked: string | null = null;
  try {
    asked = normaliseExpiry(expiresAt);
  } catch (error) {
    asValidation(error);
  }
  if (asked !== null && Date.parse(asked) <= Date.parse(own)) return;
  throw new RelayHttpError(
    403,
    "expiry_beyond_key",
    `This key expires at ${own}; a key it makes or changes must expire no later`,
    { expires_at: own },
  );
}

function operatorOnly(what: string): RelayHttpError {
  return new RelayHttpError(
    403,
    "operator_required",
    `Only the relay operator's key (the admin key the relay was started with) may ${what}`,
  );
}

/** The key a path names: any for the operator, else one of the acting key's user (else 404). */
function namedKey(ctx: RequestContext): ApiKeyRecord {
  const id = ctx.params.keyId ?? "";
  const record = KEY_ID_FORMAT.test(id) ? ctx.core.keys.get(id) : undefined;
  if (!record || (record.userId !== ctx.key.userId && !isOperator(ctx))) {
    throw notFound(`API key "${clip(id, 40)}" not found`);
  }
  return record;
}

export async function createKey(ctx: RequestContext): Promise<Reply> {
  const body = parseBody(createKeyBody, await ctx.json());
  const userId = body.user_id ?? ctx.key.userId;
  if (userId !== ctx.key.userId && !isOperator(ctx)) {
    throw operatorOnly("create keys for another user");
  }
  requireScopes(ctx, body.scopes);
  requireExpiryWithin(ctx, body.expires_at ?? null);
  try {
    const { record, key } = ctx.core.keys.create({
      userId,
      name: body.name,
      scopes: body.scopes,
      expiresAt: body.expires_at ?? null,
    });
    ctx.core.logger.info({ keyId: record.id, userId, scopes: record.scopes }, "API key created");
    const response: CreateApiKeyResponse = { ...toApiKeyInfo(record), key };
    return { status: 201, body: response };
  } catch (error) {
    return asValidation(error);
  }
}

/** The acting key's user's keys; the operator's sees every user's (`?user_id=` picks one). */
export function listKeys(ctx: RequestContext): Reply {
  const asked = new URL(ctx.req.url ?? "/", "http://relay").searchParams.get("user_id");
  if (asked !== null && asked !== ctx.key.userId && !isOperator(ctx)) {
    throw operatorOnly("list another user's keys");
  }
  const userId = asked ?? (isOperator(ctx) ? undefined : ctx.key.userId);
  const keys = ctx.core.keys.list(userId).map(toApiKeyInfo);
  const response: ListApiKeysResponse = { keys, count: keys.length };
  return { status: 200, body: response };
}

export function getKey(ctx: RequestContext): Reply {
  return { status: 200, body: toApiKeyInfo(namedKey(ctx)) };
}

export async function patchKey(ctx: RequestContext): Promise<Reply> {
  const record = namedKey(ctx);
  const body = parseBody(patchKeyBody, await ctx.json());
  requireWithin(ctx, record, "change");
  if (body.scopes) requireScopes(ctx, body.scopes);
  requireExpiryWithin(ctx, body.expires_at);
  try {
    const change: { name?: string; scopes?: string[]; expiresAt?: string | null } = {};
    if (body.name !== undefined) change.name = body.name;
    if (body.scopes !== undefined) change.scopes = body.scopes;
    if (body.expires_at !== undefined) change.expiresAt = body.expires_at;
    const updated = ctx.core.keys.update(record.id, change);
    if (!updated) throw notFound(`API key "${record.id}" not found`);
    return { status: 200, body: toApiKeyInfo(updated) };
  } catch (error) {
    return asValidation(error);
  }
}

/** Revokes the key (it stays listed with `revoked_at`); answers with its record. */
export function revokeKey(ctx: RequestContext): Reply {
  const record = namedKey(ctx);
  requireWithin(ctx, record, "revoke");
  const revoked = ctx.core.keys.revoke(record.id);
  if (!revoked) throw notFound(`API key "${record.id}" not found`);
  ctx.core.logger.info({ keyId: record.id, by: ctx.key.id }, "API key revoked");
  return { status: 200, body: toApiKeyInfo(revoked) };
}

export function verify(ctx: RequestContext): Reply {
  const response: VerifyResponse = {
    valid: true,
    key_id: ctx.key.id,
    user_id: ctx.key.userId,
    name: ctx.key.name,
    scopes: ctx.key.scopes,
    expires_at: ctx.key.expiresAt,
  };
  return { status: 200, body: response };
}
