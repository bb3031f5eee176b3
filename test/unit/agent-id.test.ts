import { describe, expect, it } from "vitest";
import { localAgentIdForUrl, normaliseAgentUrl } from "../../src/wire/agent-id.ts";

describe("local_agent_id", () => {
  it("matches the Python hub's ids for its documented examples", () => {
    expect(localAgentIdForUrl("http://127.0.0.1:10010/")).toBe("7a7160aa61ee");
    expect(localAgentIdForUrl("http://localhost:9001")).toBe("84d8cd1c8050");
    expect(localAgentIdForUrl("http://192.168.1.50:8080")).toBe("7b820584c251");
  });

  it("rewrites every loopback alias to localhost and keeps port and path", () => {
    expect(normaliseAgentUrl("http://[::1]:9001/a2a/")).toBe("http://localhost:9001/a2a");
    expect(normaliseAgentUrl("http://0.0.0.0:9001")).toBe("http://localhost:9001");
    expect(normaliseAgentUrl("http://[::]:9001")).toBe("http://localhost:9001");
    expect(normaliseAgentUrl("https://agents.example:443/x")).toBe("https://agents.example:443/x");
  });
});
