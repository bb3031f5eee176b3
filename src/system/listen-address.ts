// `--metrics` and `--inspect` addresses: host:port, [v6]:port or a bare port.

/** Parses `host:port`, `[v6]:port` or a bare port (then loopback). */
export function parseListenAddress(value: string): { host: string; port: number } | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value.trim()) ?? null;
  const bare = /^\d+$/.test(value.trim()) ? value.trim() : null;
  const host = bare ? "127.0.0.1" : (match?.[1] ?? (match?.[2] || "127.0.0.1"));
  const port = Number(bare ?? match?.[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65_535 || (!bare && !match)) return null;
  return { host, port };
}
