// For a test file that starts A2A agents and clients: each one it starts is closed after the
// test that started it, last started first. Call `agentsPerTest()` once at the top of the file.

import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach } from "vitest";
import { HttpTransport } from "../../src/agents/transports/http.ts";
import {
  type ConnectedClient,
  connectTestClient,
  startTestAgent,
  type TestAgent,
  type TestAgentOptions,
} from "./a2a-agents.ts";

/** A JSON-RPC request as a raw agent receives it. */
export interface RawRequest {
  id: string | number;
  method: string;
  params: Record<string, unknown>;
}

export interface AgentsPerTest {
  /** A real SDK agent (see a2a-agents.ts). */
  agent(options: TestAgentOptions): Promise<TestAgent>;
  /** A client wired to `agent` from its card. */
  connect(agent: TestAgent, options?: { fallback?: boolean }): Promise<ConnectedClient>;
  /** An HTTP transport to `baseUrl`. */
  httpTransport(baseUrl: string): HttpTransport;
  /** A hand-written agent on loopback (`answer` writes the whole response) and a transport to it. */
  rawAgent(answer: (request: RawRequest, res: ServerResponse) => void): Promise<HttpTransport>;
}

export function agentsPerTest(): AgentsPerTest {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const httpTransport = (baseUrl: string): HttpTransport => {
    const t = new HttpTransport({ baseUrl });
    cleanups.push(() => t.close());
    return t;
  };

  return {
    async agent(options) {
      const a = await startTestAgent(options);
      cleanups.push(() => a.close());
      return a;
    },
    async connect(agent, options) {
      const c = await connectTestClient(agent, options);
      cleanups.push(() => c.transport.close());
      return c;
    },
    httpTransport,
    async rawAgent(answer) {
      const server = createServer((req, res) => {
        let text = "";
        req.on("data", (c) => {
          text += c;
        });
        req.on("end", () => answer(JSON.parse(text) as RawRequest, res));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return httpTransport(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    },
  };
}
