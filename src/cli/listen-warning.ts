// Listening beyond loopback is allowed but never silent: the warning a user needs, and for a
// listener on every interface the URL other machines would use.
import { networkInterfaces } from "node:os";

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", ""]);

export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(host.trim());
}

/** Addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
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

/** For a listener on every interface: this machine's first address others can reach, else loopback. */
export function outsideAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === "IPv4" && !address.internal) return address.address;
    }
  }
  return "127.0.0.1";
}
