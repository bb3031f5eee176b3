// A loopback HTTP endpoint for Prometheus (`/metrics`) and for health checks that reflect real
// connectivity (`/ready`: 200 only while the relay link is connected; `/healthz`: the process).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Parses `host:port`, `[v6]:port` or a bare port (then loopback). */
export function parseListenAddress(value: string): { host: string; port: number } | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value.trim()) ?? null;
  const bare = /^\d+$/.test(value.trim()) ? value.trim() : null;
  const host = bare ? "127.0.0.1" : (match?.[1] ?? (match?.[2] || "127.0.0.1"));
  const port = Number(bare ?? match?.[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65_535 || (!bare && !match)) return null;
  return { host, port };
}

export async function startMetricsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  ready: () => boolean;
}): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { "content-type": options.registry.contentType }).end(text);
        },
        (error: unknown) => {
          response.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`);
        },
      );
      return;
    }
    if (path === "/ready") {
      const ready = options.ready();
      response
        .writeHead(ready ? 200 : 503, { "content-type": "text/plain" })
        .end(ready ? "ready\n" : "not connected to the relay\n");
      return;
    }
    if (path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("try /metrics or /ready\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.unref();
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
