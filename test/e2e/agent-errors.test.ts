// Issue 15, finding 14: errors the hub published to the relay named the agent's internal URL
// (and a redirect showed as a bare "HTTP 307"). A raw node:http A2A agent (no SDK answers a
// call with a redirect) behind the real hub and the development relay: the relay gets what went
// wrong, "the agent" and no address; the hub's own log keeps the URLs for whoever runs it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withoutAddresses } from "../../src/hub/public-error.ts";
import { capturingLogger } from "../relay/scripted-server.ts";
import { type Stack, startStack } from "../support/stack.ts";

const INTERNAL = "http://internal-db.corp.example:8443/a2a?token=s3cret";

describe("what the relay learns of a failing agent", () => {
  let agent: Server;
  let base: string;
  let stack: Stack;
  const logs = capturingLogger("info");

  beforeAll(async () => {
    agent = createServer((req, res) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            name: "Redirector",
            description: "answers every call with a redirect",
            url: `${base}/`,
            version: "1.0.0",
            protocolVersion: "0.3.0",
            capabilities: { streaming: false },
            defaultInputModes: ["text/plain"],
            defaultOutputModes: ["text/plain"],
            skills: [{ id: "r", name: "R", description: "r", tags: ["r"] }],
          }),
        );
        return;
      }
      req.resume();
      res.writeHead(307, { location: INTERNAL }).end();
    });
    await new Promise<void>((resolve) => agent.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;
    stack = await startStack({ agents: [{ name: "Redirector", url: base }], logger: logs.logger });
  });
  afterAll(async () => {
    await stack?.close();
    agent.closeAllConnections();
    await new Promise((resolve) => agent.close(resolve));
  });

  it("the agent_error says it redirected, without the agent's address or where it pointed", async () => {
    const reply = await stack.send(await stack.agentId("Redirector"), "hello");
    const agentMessageId = String(reply.body.result?.metadata?.agent_message_id);
    const events = stack.relay.eventsFor(agentMessageId);
    const error = events.find((event) => event.type === "agent_error");
    const text = String(error?.data.error);
    expect(text).toContain("HTTP 307 redirect to [agent address] (not followed)");
    for (const secret of [base, "127.0.0.1", "internal-db", "s3cret", "http://"]) {
      expect(JSON.stringify(events)).not.toContain(secret);
    }
    // The hub's own log has both addresses, for whoever runs it.
    expect(logs.text()).toContain(`agent at ${base}/ answered HTTP 307 redirect to ${INTERNAL}`);
  });
});

describe("withoutAddresses", () => {
  it("takes URLs, IP addresses and looked-up host names out, and leaves the rest", () => {
    expect(
      withoutAddresses(
        "could not reach the agent at http://10.0.0.7:8080/a2a (ECONNREFUSED); is it running?",
      ),
    ).toBe("could not reach the agent at [agent address] (ECONNREFUSED); is it running?");
    expect(withoutAddresses("connect ECONNREFUSED 127.0.0.1:9001 (ws://[::1]:9/x)")).toBe(
      "connect ECONNREFUSED [agent address] ([agent address])",
    );
    expect(withoutAddresses("connect ECONNREFUSED [fe80::1]:8080")).toBe(
      "connect ECONNREFUSED [agent address]",
    );
    expect(withoutAddresses("getaddrinfo ENOTFOUND agent.internal.svc")).toBe(
      "getaddrinfo ENOTFOUND [agent host]",
    );
    expect(withoutAddresses("The agent did not finish within 600 s (turn deadline).")).toBe(
      "The agent did not finish within 600 s (turn deadline).",
    );
  });
});
