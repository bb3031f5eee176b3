// API keys at rest and at the door: creation (the key is returned once), listing, changes,
// revocation, and authentication of each request with a short-lived cache so the hot path
// does not read sqlite, and `last_used_at` written at most once per interval per key.
//
// The relay operator's key is the admin key the relay was started with (HYBRO_RELAY_ADMIN_KEY):
// it is recognised by its value given at start, never by a stored scope, so no key made or
// changed over the API can become it, and it stops being the operator's when the relay starts
// with another admin key.
import { randomBytes } from "node:crypto";
import type { ApiKeyInfo } from "../wire/gateway.ts";
import {
  apiKeyPrefix,
  generateApiKey,
  hashApiKey,
  isApiKeyFormat,
  isValidScope,
} from "./api-key.ts";
import { RelayHttpError } from "./errors.ts";
import type { ApiKeyRecord, RelayStore } from "./store.ts";

interface KeyRingSettings {
  keyCacheTtlMs: number;
  lastUsedWriteIntervalMs: number;
}

interface NewKey {
  userId: string;
  name: string;
  scopes: string[];
  expiresAt?: string | null;
}

interface KeyChange {
  name?: string;
  scopes?: string[];
  expiresAt?: string | null;
}

interface CachedKey {
  record: ApiKeyRecord;
  loadedAtMs: number;
  lastTouchMs: number;
}

const CACHE_MAX = 10_000;
const USER_ID_FORMAT = /^[A-Za-z0-9_.@-]{1,64}$/;

export class KeyRingError extends Error {
  readonly kind: "invalid_scope" | "invalid_user" | "invalid_name" | "invalid_expiry" | "bad_key";
  constructor(kind: KeyRingError["kind"], message: string) {
    super(message);
    this.name = "KeyRingError";
    this.kind = kind;
  }
}

export function toApiKeyInfo(record: ApiKeyRecord): ApiKeyInfo {
  return {
    id: record.id,
    name: record.name,
    user_id: record.userId,
    scopes: [...record.scopes],
    prefix: record.prefix,
    created_at: record.createdAt,
    expires_at: record.expiresAt,
    revoked_at: record.revokedAt,
    last_used_at: record.lastUsedAt,
  };
}

/** Normalises an ISO-8601 expiry to `toISOString()` form; null stays null. */
export function normaliseExpiry(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw new KeyRingError(
      "invalid_expiry",
      `expires_at "${value.slice(0, 40)}" is not an ISO-8601 date-time (e.g. 2030-01-01T00:00:00Z)`,
    );
  }
  return new Date(ms).toISOString();
}

function checkScopes(scopes: string[]): void {
  if (scopes.length === 0) throw new KeyRingError("invalid_scope", "give at least one scope");
  for (const scope of scopes) {
    if (!isValidScope(scope)) {
      throw new KeyRingError(
        "invalid_scope",
        `unknown scope "${scope.slice(0, 40)}"; use relay:hub, gateway:read, gateway:send, discovery:read, keys:admin, <area>:* or *`,
      );
    }
  }
}

function checkName(name: string): void {
  if (name.trim().length === 0 || name.length > 200) {
    throw new KeyRingError("invalid_name", "name must be 1–200 characters");
  }
}

function checkUser(userId: string): void {
  if (!USER_ID_FORMAT.test(userId)) {
    throw new KeyRingError("invalid_user", "user id must be 1–64 of A-Z a-z 0-9 _ . @ -");
  }
}

export class KeyRing {
  private readonly store: RelayStore;
  private readonly settings: KeyRingSettings;
  private readonly now: () => number;
  private readonly cache = new Map<string, CachedKey>();
  private operatorKeyHash: string | null = null;

  constructor(store: RelayStore, settings: KeyRingSettings, now: () => number = Date.now) {
    this.store = store;
    this.settings = settings;
    this.now = now;
  }

  /** Makes a key; the returned `key` is the only time its value exists outside the caller. */
  create(spec: NewKey): { record: ApiKeyRecord; key: string } {
    const key = generateApiKey();
    return { record: this.insert(key, spec), key };
  }

  /** Makes sure a key with exactly this value exists with these scopes, unrevoked, for `userId`. */
  ensure(key: string, spec: NewKey): ApiKeyRecord {
    if (!isApiKeyFormat(key)) {
      throw new KeyRingError(
        "bad_key",
        "admin key must be 'hybro_' followed by at least 32 letters or digits (A-Z a-z 0-9)",
      );
    }
    const existing = this.store.keyByHash(hashApiKey(key));
    if (!existing) return this.insert(key, spec);
    checkUser(spec.userId);
    checkScopes(spec.scopes);
    const updated: ApiKeyRecord = {
      ...existing,
      userId: spec.userId,
      name: spec.name,
      scopes: [...spec.scopes],
      expiresAt: normaliseExpiry(spec.expiresAt),
      revokedAt: null,
    };
    this.store.updateKey(updated);
    this.cache.delete(existing.keyHash);
    return updated;
  }

  /** `ensure`, and this key is the relay operator's from now on (see the file comment). */
  ensureOperator(key: string, spec: NewKey): ApiKeyRecord {
    const record = this.ensure(key, spec);
    this.operatorKeyHash = record.keyHash;
    return record;
  }

  /** True for the relay operator's key: the only one that may manage other users' keys. */
  isOperator(record: ApiKeyRecord): boolean {
    return this.operatorKeyHash !== null && record.keyHash === this.operatorKeyHash;
  }

  private insert(key: string, spec: NewKey): ApiKeyRecord {
    checkUser(spec.userId);
    checkName(spec.name);
    checkScopes(spec.scopes);
    const record: ApiKeyRecord = {
      id: `key_${randomBytes(8).toString("hex")}`,
      keyHash: hashApiKey(key),
      prefix: apiKeyPrefix(key),
      userId: spec.userId,
      name: spec.name,
      scopes: [...new Set(spec.scopes)],
      createdAt: new Date(this.now()).toISOString(),
      expiresAt: normaliseExpiry(spec.expiresAt),
      revokedAt: null,
      lastUsedAt: null,
    };
    this.store.insertKey(record);
    return record;
  }

  list(userId?: string): ApiKeyRecord[] {
    return this.store.listKeys(userId);
  }

  get(id: string): ApiKeyRecord | undefined {
    return this.store.keyById(id);
  }

  update(id: string, change: KeyChange): ApiKeyRecord | undefined {
    const existing = this.store.keyById(id);
    if (!existing) return undefined;
    const updated: ApiKeyRecord = { ...existing };
    if (change.name !== undefined) {
      checkName(change.name);
      updated.name = change.name;
    }
    if (change.scopes !== undefined) {
      checkScopes(change.scopes);
      updated.scopes = [...new Set(change.scopes)];
    }
    if (change.expiresAt !== undefined) updated.expiresAt = normaliseExpiry(change.expiresAt);
    this.store.updateKey(updated);
    this.cache.delete(existing.keyHash);
    return updated;
  }

  /** Revokes a key (idempotent); undefined when there is no such key. */
  revoke(id: string): ApiKeyRecord | undefined {
    const existing = this.store.keyById(id);
    if (!existing) return undefined;
    if (existing.revokedAt !== null) return existing;
    const updated = { ...existing, revokedAt: new Date(this.now()).toISOString() };
    this.store.updateKey(updated);
    this.cache.delete(existing.keyHash);
    return updated;
  }

  /** The key record behind a presented key, or a 401 `RelayHttpError` saying why not. */
  authenticate(presented: string | undefined): ApiKeyRecord {
    if (presented === undefined || presented === "") {
      throw new RelayHttpError(
        401,
        "missing_api_key",
        "No API key: send it as 'X-API-Key: hybro_…' or 'Authorization: Bearer hybro_…'",
      );
    }
    if (!isApiKeyFormat(presented)) {
      throw new RelayHttpError(401, "invalid_api_key", "Invalid API key");
    }
    const hash = hashApiKey(presented);
    const nowMs = this.now();
    let cached = this.cache.get(hash);
    if (!cached || nowMs - cached.loadedAtMs >= this.settings.keyCacheTtlMs) {
      const record = this.store.keyByHash(hash);
      if (!record) {
        this.cache.delete(hash);
        throw new RelayHttpError(401, "invalid_api_key", "Invalid API key");
      }
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      cached = { record, loadedAtMs: nowMs, lastTouchMs: cached?.lastTouchMs ?? 0 };
      this.cache.set(hash, cached);
    }
    const record = cached.record;
    if (record.revokedAt !== null) {
      throw new RelayHttpError(401, "revoked_api_key", "This API key has been revoked");
    }
    if (record.expiresAt !== null && Date.parse(record.expiresAt) <= nowMs) {
      throw new RelayHttpError(
        401,
        "expired_api_key",
        `This API key expired at ${record.expiresAt}`,
        {
          expires_at: record.expiresAt,
        },
      );
    }
    if (nowMs - cached.lastTouchMs >= this.settings.lastUsedWriteIntervalMs) {
      cached.lastTouchMs = nowMs;
      record.lastUsedAt = new Date(nowMs).toISOString();
      this.store.touchKey(record.id, record.lastUsedAt);
    }
    return record;
  }
}
