// Issue 15, finding 14: a 100 MB card was read whole and then reported as "no agent card", and a
// card path that redirects was reported the same way. The registry against raw node:http agents
// (no SDK serves such answers): the card is cut off at its limit and called too large, with the
// limit; a redirect is named, with where it points, and not followed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Registry } from "../../src/agents/registry.ts";

let dir: string | null = null;
let registry: Registry | null = null;
let server: Server | null = null;

afterEach(async () => {
  await registry?.close();
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  registry = null;
  server = null;
  dir = null;
});

async function serve(onCard: (res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    if (req.method === "GET" && req.url?.startsWith("/.well-known/")) return onCard(res);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startRegistry(url: string) {
  dir = mkdtempSync(join(tmpdir(), "hub-hostile-card-"));
  const file = join(dir, "agents.json");
  writeFileSync(file, JSON.stringify({ agents: [{ name: "Hostile", url }] }));
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(line) });
  registry = new Registry({ agentsFile: file, logger, settings: { httpProbeTimeoutMs: 10_000 } });
  await registry.start(new AbortController().signal);
  return { registry, lines };
}

describe("an agent card the hub will not take", () => {
  it("a 100 MB card is cut off at the limit and reported as too large, not as no card", async () => {
    const sent = { bytes: 0, closed: false };
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const url = await serve((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.on("close", () => {
        sent.closed = true;
      });
      res.write('{"name":"Huge","description":"');
      const pump = () => {
        while (!res.destroyed && sent.bytes < 100 * 1024 * 1024) {
          sent.bytes += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        if (!res.destroyed) res.end('"}');
      };
      pump();
    });
    const { registry: r } = await startRegistry(url);
    const status = r.status().find((agent) => agent.name === "Hostile");
    expect(status?.state).toBe("unreachable");
    expect(status?.lastError).toContain(
      `the agent card at ${url}/.well-known/agent-card.json is larger than 1024 KiB`,
    );
    expect(status?.lastError).not.toContain("no agent card");
    // Nothing like 100 MB was read: the hub hung up at the limit (socket buffers aside).
    expect(sent.bytes).toBeLessThan(16 * 1024 * 1024);
  });

  it("a card that declares a size beyond the limit is not read at all", async () => {
    const url = await serve((res) => {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": String(100 * 1024 * 1024),
      });
      res.write("{");
    });
    const { registry: r } = await startRegistry(url);
    expect(r.status()[0]?.lastError).toContain("is larger than 1024 KiB");
  });

  it("card paths that redirect are named as redirects with where they point", async () => {
    const url = await serve((res) => {
      res.writeHead(307, { location: "http://elsewhere.invalid/card.json" }).end();
    });
    const { registry: r } = await startRegistry(url);
    expect(r.status()[0]?.lastError).toContain(
      `${url}/.well-known/agent-card.json answered HTTP 307 redirect to http://elsewhere.invalid/card.json (not followed)`,
    );
  });
});
