import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMPTY_AGENTS_CONFIG, parseAgentsFile } from "../../src/agents/config.ts";
import {
  DEFAULT_EXCLUDED_PORTS,
  discoveryCandidates,
  discoveryUrl,
  excludedPorts,
} from "../../src/agents/discovery.ts";
import {
  connectScan,
  listListeningPorts,
  parseLsofListen,
  parseProcNetTcp,
  procIpv6Bytes,
  uniquePorts,
} from "../../src/agents/listening-ports.ts";

const PROC_TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 11 1 0000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12 1 0000 100 0 0 10 0
   2: 0101A8C0:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 13 1 0000 100 0 0 10 0
   3: 0100007F:A5CA 0100007F:B2FB 01 00000000:00000000 00:00000000 00000000  1000        0 14 1 0000 100 0 0 10 0
   4: 0101007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 15 1 0000 100 0 0 10 0
garbage line
`;

const PROC_TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 21 1 0000 100 0 0 10 0
   1: 00000000000000000000000000000000:1F93 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 22 1 0000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F94 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 23 1 0000 100 0 0 10 0
   3: B80D0120000000000000000001000000:1F95 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 24 1 0000 100 0 0 10 0
   4: 00000000000000000000000001000000:1F96 00000000000000000000000001000000:D431 01 00000000:00000000 00:00000000 00000000  1000        0 25 1 0000 100 0 0 10 0
`;

const LSOF = `COMMAND     PID USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME
node      41234   me   22u  IPv4 0x1234567890abcdef      0t0  TCP 127.0.0.1:3000 (LISTEN)
node      41234   me   23u  IPv6 0x1234567890abcdef      0t0  TCP [::1]:3001 (LISTEN)
rapportd    512   me    4u  IPv4 0x1234567890abcdef      0t0  TCP *:49152 (LISTEN)
rapportd    512   me    5u  IPv6 0x1234567890abcdef      0t0  TCP *:49153 (LISTEN)
postgres    700   me    7u  IPv4 0x1234567890abcdef      0t0  TCP 192.168.1.5:5433 (LISTEN)
Python      800   me    3u  IPv4 0x1234567890abcdef      0t0  TCP localhost:8000 (LISTEN)
Python      800   me    4u  IPv4 0x1234567890abcdef      0t0  TCP 127.0.0.1:8000->127.0.0.1:50000 (ESTABLISHED)
`;

describe("/proc/net/tcp parsing", () => {
  it("IPv4: listening loopback and wildcard sockets, little-endian addresses", () => {
    expect(parseProcNetTcp(PROC_TCP, 4)).toEqual([
      { port: 8080, host: "127.0.0.1" },
      { port: 22, host: "127.0.0.1" }, // 0.0.0.0 is reached on 127.0.0.1
      { port: 9000, host: "127.0.1.1" },
    ]);
  });

  it("IPv6: four little-endian words; ::1, ::, and v4-mapped loopback", () => {
    expect(procIpv6Bytes("00000000000000000000000001000000")).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ]);
    expect(procIpv6Bytes("B80D0120000000000000000001000000").slice(0, 4)).toEqual([
      0x20, 0x01, 0x0d, 0xb8,
    ]);
    expect(parseProcNetTcp(PROC_TCP6, 6)).toEqual([
      { port: 8082, host: "::1" },
      { port: 8083, host: "::1" },
      { port: 8084, host: "127.0.0.1" },
    ]);
  });

  it("one entry per port, IPv4 preferred, sorted", () => {
    expect(
      uniquePorts([
        { port: 9, host: "::1" },
        { port: 3, host: "127.0.0.1" },
        { port: 9, host: "127.0.0.1" },
        { port: 3, host: "::1" },
      ]),
    ).toEqual([
      { port: 3, host: "127.0.0.1" },
      { port: 9, host: "127.0.0.1" },
    ]);
  });
});

describe("lsof parsing", () => {
  it("keeps loopback and wildcard listeners only", () => {
    expect(parseLsofListen(LSOF)).toEqual([
      { port: 3000, host: "127.0.0.1" },
      { port: 3001, host: "::1" },
      { port: 49152, host: "127.0.0.1" },
      { port: 49153, host: "::1" },
      { port: 8000, host: "127.0.0.1" },
    ]);
  });
});

describe("listing ports", () => {
  let server: Server;
  let port: number;
  let closedPort: number;
  const dir = mkdtempSync(join(tmpdir(), "hub-proc-"));

  beforeAll(async () => {
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("connect scan finds the listening port and not the closed one", async () => {
    const open = await connectScan(
      [
        { from: port, to: port },
        { from: closedPort, to: closedPort },
      ],
      { scanConcurrency: 4, scanTimeoutMs: 1_000 },
    );
    expect(open).toEqual([{ port, host: "127.0.0.1" }]);
  });

  it("falls back to the scan on platforms without a port table", async () => {
    const result = await listListeningPorts({
      ranges: [{ from: port, to: port }],
      platform: "win32",
      scanConcurrency: 4,
      scanTimeoutMs: 1_000,
      lsofTimeoutMs: 1_000,
    });
    expect(result).toEqual({ method: "scan", ports: [{ port, host: "127.0.0.1" }] });
  });

  it("reads a /proc root and filters by range", async () => {
    mkdirSync(join(dir, "net"));
    writeFileSync(join(dir, "net", "tcp"), PROC_TCP);
    writeFileSync(join(dir, "net", "tcp6"), PROC_TCP6);
    const result = await listListeningPorts({
      ranges: [{ from: 8000, to: 9000 }],
      platform: "linux",
      procRoot: dir,
      scanConcurrency: 4,
      scanTimeoutMs: 1_000,
      lsofTimeoutMs: 1_000,
    });
    expect(result.method).toBe("proc");
    expect(result.ports.map((p) => p.port)).toEqual([8080, 8082, 8083, 8084, 9000]);
  });

  it.runIf(process.platform === "linux")("finds a real listener in /proc on Linux", async () => {
    const result = await listListeningPorts({
      ranges: [{ from: port, to: port }],
      scanConcurrency: 4,
      scanTimeoutMs: 1_000,
      lsofTimeoutMs: 1_000,
    });
    expect(result).toEqual({ method: "proc", ports: [{ port, host: "127.0.0.1" }] });
  });

  it("discovery candidates leave out default, hub, configured and excluded ports", async () => {
    const parsed = parseAgentsFile(
      JSON.stringify({
        agents: [{ name: "Mine", url: "http://localhost:8083", enabled: false }],
        autoDiscover: true,
        autoDiscoverPorts: ["1-65535"],
        autoDiscoverExcludePorts: [8084],
      }),
      "agents.json",
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const settings = {
      excludePorts: [9000],
      portScanConcurrency: 4,
      portScanTimeoutMs: 500,
      lsofTimeoutMs: 500,
    };
    const excluded = excludedPorts(parsed.config, settings);
    for (const p of [...DEFAULT_EXCLUDED_PORTS, 9000, 8083, 8084])
      expect(excluded.has(p)).toBe(true);
    expect(excluded.has(8080)).toBe(false);

    const { candidates } = await discoveryCandidates(
      { ...EMPTY_AGENTS_CONFIG, autoDiscover: true, autoDiscoverPorts: [{ from: port, to: port }] },
      settings,
    );
    expect(candidates).toEqual([{ port, host: "127.0.0.1" }]);
    expect(discoveryUrl({ port: 1, host: "::1" })).toBe("http://[::1]:1");
  });
});
