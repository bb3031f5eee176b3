// The API-key model the seed documents describe: format, hashing and scope matching. Pure.
import { createHash, randomBytes } from "node:crypto";

export const API_KEY_PREFIX = "hybro_";
/** Random base62 characters after the prefix in a key we make (at least 32 are required). */
const API_KEY_RANDOM_CHARS = 40;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_FORMAT = /^hybro_[0-9A-Za-z]{32,128}$/;

/** The areas a scope can name; `area:*` covers every scope of that area. */
const SCOPE_AREAS = ["relay", "gateway", "discovery", "keys"] as const;
const KNOWN_SCOPES = [
  "relay:hub",
  "gateway:read",
  "gateway:send",
  "discovery:read",
  "keys:admin",
] as const;

const VALID_SCOPES = new Set<string>([
  ...KNOWN_SCOPES,
  ...SCOPE_AREAS.map((area) => `${area}:*`),
  "*",
]);

/** A new key: `hybro_` + 40 base62 characters from the CSPRNG (~238 bits). */
export function generateApiKey(): string {
  let out = API_KEY_PREFIX;
  while (out.length < API_KEY_PREFIX.length + API_KEY_RANDOM_CHARS) {
    for (const byte of randomBytes(64)) {
      // Rejection sampling keeps every character equally likely (248 = 4 × 62).
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === API_KEY_PREFIX.length + API_KEY_RANDOM_CHARS) break;
    }
  }
  return out;
}

export function isApiKeyFormat(key: string): boolean {
  return KEY_FORMAT.test(key);
}

/** Keys are high-entropy random strings, so a plain SHA-256 is a sound at-rest hash. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** What is shown in listings to recognise a key: never enough to use it. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 4);
}

export function isValidScope(scope: string): boolean {
  return VALID_SCOPES.has(scope);
}

/** True when `granted` (one scope a key holds) allows `required`. */
function scopeCovers(granted: string, required: string): boolean {
  if (granted === "*" || granted === required) return true;
  if (granted.endsWith(":*")) {
    const area = granted.slice(0, -1); // keeps the ':'
    return required.startsWith(area) || required === `${area}*`;
  }
  return false;
}

export function scopesAllow(granted: readonly string[], required: string): boolean {
  for (const scope of granted) if (scopeCovers(scope, required)) return true;
  return false;
}
