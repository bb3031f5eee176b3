import { createHash } from "node:crypto";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "0.0.0.0", "[::]", ""]);

/**
 * The agent's base URL as the Python hub hashes it: trailing `/` stripped, loopback aliases
 * (`127.0.0.1`, `::1`, `0.0.0.0`, `::`) written as `localhost`, port and path kept.
 */
export function normaliseAgentUrl(url: string): string {
  const trimmed = url.trim().replace(/\/+$/, "");
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(\[[^\]]*\]|[^/:?#]*)(.*)$/i.exec(trimmed);
  if (!match) return trimmed;
  const [, scheme, host, rest] = match as unknown as [string, string, string, string];
  const normalisedHost = LOOPBACK_HOSTS.has(host.toLowerCase()) ? "localhost" : host;
  return `${scheme}${normalisedHost}${rest}`;
}

/** First 12 hex chars of SHA-256 of the given string. */
function shortHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 12);
}

/** `local_agent_id` of an agent reached by URL; stable across restarts, same as the Python hub. */
export function localAgentIdForUrl(url: string): string {
  return shortHash(normaliseAgentUrl(url));
}

/** `local_agent_id` of an agent without a URL (a stdio process): hashed from its name. */
export function localAgentIdForCommand(name: string): string {
  return shortHash(`stdio:${name}`);
}
