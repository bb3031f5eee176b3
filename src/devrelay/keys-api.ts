// API-key management (`/api/v1/api-keys`) and `/api/v1/auth/verify`. A key manages the keys
// of its own user; it can grant only scopes it holds itself, and only a `*` key may create
// keys for another user.
import type { CreateApiKeyResponse, ListApiKeysResponse, VerifyResponse } from "../wire/gateway.ts";
import { scopesAllow } from "./api-key.ts";
import { clip, notFound, RelayHttpError } from "./errors.ts";
import type { Reply } from "./http-io.ts";
import { KeyRingError, toApiKeyInfo } from "./key-ring.ts";
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

function requireScopes(ctx: RequestContext, scopes: readonly string[]): void {
  for (const scope of scopes) {
    if (!scopesAllow(ctx.key.scopes, scope)) {
      throw new RelayHttpError(
        403,
        "insufficient_scope",
        `A key can grant only scopes it holds; this key lacks "${clip(scope)}"`,
        { required_scope: scope, provided_scopes: ctx.key.scopes },
      );
    }
  }
}

function ownedKey(ctx: RequestContext): ApiKeyRecord {
  const id = ctx.params.keyId ?? "";
  const record = KEY_ID_FORMAT.test(id) ? ctx.core.keys.get(id) : undefined;
  if (!record || record.userId !== ctx.key.userId)
    throw notFound(`API key "${clip(id, 40)}" not found`);
  return record;
}

export async function createKey(ctx: RequestContext): Promise<Reply> {
  const body = parseBody(createKeyBody, await ctx.json());
  const userId = body.user_id ?? ctx.key.userId;
  if (userId !== ctx.key.userId) requireScopes(ctx, ["*"]);
  requireScopes(ctx, body.scopes);
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

export function listKeys(ctx: RequestContext): Reply {
  const keys = ctx.core.keys.list(ctx.key.userId).map(toApiKeyInfo);
  const response: ListApiKeysResponse = { keys, count: keys.length };
  return { status: 200, body: response };
}

export function getKey(ctx: RequestContext): Reply {
  return { status: 200, body: toApiKeyInfo(ownedKey(ctx)) };
}

export async function patchKey(ctx: RequestContext): Promise<Reply> {
  const record = ownedKey(ctx);
  const body = parseBody(patchKeyBody, await ctx.json());
  if (body.scopes) requireScopes(ctx, body.scopes);
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
  const record = ownedKey(ctx);
  const revoked = ctx.core.keys.revoke(record.id);
  if (!revoked) throw notFound(`API key "${record.id}" not found`);
  ctx.core.logger.info({ keyId: record.id }, "API key revoked");
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
