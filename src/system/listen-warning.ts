// Listening beyond loopback is allowed but never silent: the warning a user needs, and for a
// listener on every interface the URL other machines would use. Likewise a relay reached over
// plain http beyond loopback (the API key would cross the network in clear).
import { networkInterfaces } from "node:os";

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", ""]);

export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(host.trim());
}

/** Addresses only this machine can reach. */
function isLoopbackHost(host: string): boolean {
  const bare = host
    .trim()
    .replace(/^\[|\]$/g, "")
    .toLowerCase();
  return bare === "localhost" || bare === "::1" || /^(::ffff:)?127\./.test(bare);
}

const where = (host: string) => (isWildcardHost(host) ? "every interface" : host);

/** The warning for `--metrics <listen>` on a reachable address, or null on loopback. */
export function metricsExposureWarning(listen: string, host: string): string | null {
  if (isLoopbackHost(host)) return null;
  return `--metrics ${listen} listens on ${where(host)}: other machines can read the hub's metrics and status (agent names, turn counts, relay state); use 127.0.0.1:PORT unless you mean it`;
}

/** The warning for the development relay on a reachable address, or null on loopback. */
export function relayExposureWarning(host: string): string | null {
  if (isLoopbackHost(host)) return null;
  const shown = isWildcardHost(host) ? `every interface (${host})` : host;
  return `the relay listens on ${shown}: other machines can reach it and try keys, and it speaks plain http (keys travel in clear); use --host 127.0.0.1 unless you mean it`;
}

/** The flag that lets `start` use a plain-http relay beyond loopback. */
export const ALLOW_PLAIN_HTTP_FLAG = "--allow-plain-http";

/**
 * Why a relay URL would send the API key in clear (plain http to a host other than this
 * machine), or null for https and loopback.
 */
export function plainHttpRelayProblem(gatewayUrl: string): string | null {
  let url: URL;
  try {
    url = new URL(gatewayUrl);
  } catch {
    return null; // not a URL at all: the relay link says so
  }
  if (url.protocol !== "http:" || isLoopbackHost(url.hostname)) return null;
  return `the relay URL ${url.origin} is plain http to another machine: the API key and every message would cross the network unencrypted`;
}

/** For a listener on every interface: this machine's first address others can reach, else loopback. */
export function outsideAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === "IPv4" && !address.internal) return address.address;
    }
  }
  return "127.0.0.1";
}
