// Which TCP ports are listening on loopback, without root: /proc/net/tcp{,6} on Linux, lsof on
// macOS, and a connect scan over a range elsewhere (or when those fail). Parsers are pure.

import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { onFirstUse } from "../system/on-first-use.ts";
import type { PortRange } from "./config.ts";

const execaLibrary = onFirstUse<typeof import("execa")>("execa");

/** A listening port and the loopback address to reach it on. */
export interface ListeningPort {
  port: number;
  /** `127.0.0.1`, another `127.x` address, or `::1`. */
  host: string;
}

const LISTEN_STATE = "0A";

/** 8 hex chars of /proc/net/tcp (a little-endian u32) → dotted IPv4. */
function procIpv4(hex: string): string {
  const bytes = [6, 4, 2, 0].map((at) => Number.parseInt(hex.slice(at, at + 2), 16));
  return bytes.join(".");
}

/** 32 hex chars of /proc/net/tcp6 (four little-endian u32 words) → 16 address bytes. */
export function procIpv6Bytes(hex: string): number[] {
  const bytes: number[] = [];
  for (let word = 0; word < 4; word++) {
    const w = hex.slice(word * 8, word * 8 + 8);
    for (const at of [6, 4, 2, 0]) bytes.push(Number.parseInt(w.slice(at, at + 2), 16));
  }
  return bytes;
}

/** Where a client connects to reach a listener bound to this IPv4 address, or null (not local). */
function ipv4Target(address: string): string | null {
  if (address === "0.0.0.0") return "127.0.0.1";
  return address.startsWith("127.") ? address : null;
}

function ipv6Target(bytes: number[]): string | null {
  const zeroPrefix = bytes.slice(0, 10).every((b) => b === 0);
  if (zeroPrefix && bytes[10] === 0xff && bytes[11] === 0xff) {
    return ipv4Target(bytes.slice(12).join(".")); // ::ffff:a.b.c.d
  }
  if (bytes.slice(0, 15).every((b) => b === 0)) {
    // :: (any) or ::1 (loopback); both are reached on ::1
    return bytes[15] === 0 || bytes[15] === 1 ? "::1" : null;
  }
  return null;
}

/** Listening loopback/wildcard sockets in the text of /proc/net/tcp (4) or /proc/net/tcp6 (6). */
export function parseProcNetTcp(text: string, family: 4 | 6): ListeningPort[] {
  const out: ListeningPort[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || !/^\d+:$/.test(fields[0] ?? "")) continue;
    if ((fields[3] ?? "").toUpperCase() !== LISTEN_STATE) continue;
    const [addressHex, portHex] = (fields[1] ?? "").split(":");
    if (!addressHex || !portHex) continue;
    const port = Number.parseInt(portHex, 16);
    if (!(port > 0 && port < 65536)) continue;
    let host: string | null = null;
    if (family === 4 && addressHex.length === 8) host = ipv4Target(procIpv4(addressHex));
    if (family === 6 && addressHex.length === 32) host = ipv6Target(procIpv6Bytes(addressHex));
    if (host) out.push({ port, host });
  }
  return out;
}

/** `lsof -iTCP -sTCP:LISTEN -n -P` output → loopback/wildcard listeners. */
export function parseLsofListen(text: string): ListeningPort[] {
  const out: ListeningPort[] = [];
  for (const line of text.split("\n")) {
    const match = /\s(\S+):(\d+)\s+\(LISTEN\)\s*$/.exec(line);
    if (!match) continue;
    const [, address, portText] = match as unknown as [string, string, string];
    const port = Number(portText);
    if (!(port > 0 && port < 65536)) continue;
    const ipv6 = /\sIPv6\s/.test(line);
    let host: string | null = null;
    if (address === "*") host = ipv6 ? "::1" : "127.0.0.1";
    else if (address === "localhost") host = ipv6 ? "::1" : "127.0.0.1";
    else if (address === "[::1]" || address === "[::]") host = "::1";
    else if (address.startsWith("[::ffff:")) host = ipv4Target(address.slice(8, -1));
    else host = ipv4Target(address);
    if (host) out.push({ port, host });
  }
  return out;
}

/** One entry per port (IPv4 preferred), sorted by port. */
export function uniquePorts(ports: ListeningPort[]): ListeningPort[] {
  const byPort = new Map<number, ListeningPort>();
  for (const p of ports) {
    const seen = byPort.get(p.port);
    if (!seen || (seen.host.includes(":") && !p.host.includes(":"))) byPort.set(p.port, p);
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}

function inRanges(port: number, ranges: readonly PortRange[]): boolean {
  return ranges.some((r) => port >= r.from && port <= r.to);
}

/** What the connect-scan fallback covers when no ports are configured (no privileged ports). */
const DEFAULT_SCAN_RANGES: readonly PortRange[] = [{ from: 1024, to: 65535 }];

interface ListeningPortsOptions {
  /** Only these ports (the OS list is filtered, the fallback scans them); null = all. */
  ranges: readonly PortRange[] | null;
  scanConcurrency: number;
  scanTimeoutMs: number;
  lsofTimeoutMs: number;
  signal?: AbortSignal;
  /** For tests: pretend to be this platform. */
  platform?: NodeJS.Platform;
  /** For tests: where /proc lives. */
  procRoot?: string;
}

/** Listening loopback ports within `scanRanges`, by the best method this OS offers. */
export async function listListeningPorts(options: ListeningPortsOptions): Promise<{
  ports: ListeningPort[];
  method: "proc" | "lsof" | "scan";
}> {
  const platform = options.platform ?? process.platform;
  let found: ListeningPort[] | null = null;
  let method: "proc" | "lsof" | "scan" = "scan";
  if (platform === "linux") {
    found = await readProc(options.procRoot ?? "/proc");
    method = "proc";
  } else if (platform === "darwin") {
    found = await runLsof(options.lsofTimeoutMs, options.signal);
    method = "lsof";
  }
  if (found === null) {
    method = "scan";
    found = await connectScan(options.ranges ?? DEFAULT_SCAN_RANGES, options);
  }
  const { ranges } = options;
  return {
    ports: uniquePorts(ranges ? found.filter((p) => inRanges(p.port, ranges)) : found),
    method,
  };
}

async function readProc(root: string): Promise<ListeningPort[] | null> {
  const [v4, v6] = await Promise.all([
    readFile(`${root}/net/tcp`, "utf8").catch(() => null),
    readFile(`${root}/net/tcp6`, "utf8").catch(() => null),
  ]);
  if (v4 === null && v6 === null) return null;
  return [...parseProcNetTcp(v4 ?? "", 4), ...parseProcNetTcp(v6 ?? "", 6)];
}

async function runLsof(timeoutMs: number, signal?: AbortSignal): Promise<ListeningPort[] | null> {
  try {
    const result = await execaLibrary().execa("lsof", ["-iTCP", "-sTCP:LISTEN", "-n", "-P"], {
      timeout: timeoutMs,
      reject: false,
      encoding: "utf8",
      stdin: "ignore",
      ...(signal ? { cancelSignal: signal } : {}),
    });
    // lsof exits 1 when nothing matches; anything on stdout still counts.
    if (result.failed && result.stdout === "" && result.exitCode !== 1) return null;
    return parseLsofListen(result.stdout);
  } catch {
    return null;
  }
}

/** TCP connect scan of 127.0.0.1 over the ranges; a port that accepts is listening. */
export async function connectScan(
  ranges: readonly PortRange[],
  options: { scanConcurrency: number; scanTimeoutMs: number; signal?: AbortSignal },
): Promise<ListeningPort[]> {
  const ports: number[] = [];
  for (const r of ranges) for (let p = r.from; p <= r.to; p++) ports.push(p);
  const open: ListeningPort[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ports.length && !options.signal?.aborted) {
      const port = ports[next++] as number;
      if (await accepts("127.0.0.1", port, options.scanTimeoutMs)) {
        open.push({ port, host: "127.0.0.1" });
      }
    }
  };
  const workers = Math.max(1, Math.min(options.scanConcurrency, ports.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return open;
}

function accepts(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
