// The registry against real @a2a-js/sdk agents: a v1.0 streaming agent and a pure v0.3 one.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Registry } from "../../src/agents/registry.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { localAgentIdForUrl } from "../../src/wire/agent-id.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";

describe("Registry with real SDK agents", () => {
  let dir: string;
  let v1: TestAgent;
  let v03: TestAgent;
  let registry: Registry;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hub-registry-sdk-"));
    [v1, v03] = await Promise.all([
      startTestAgent({ dialect: "1.0", streaming: true, behaviour: "echo", name: "SDK v1" }),
      startTestAgent({ dialect: "0.3", streaming: false, behaviour: "echo", name: "SDK v03" }),
    ]);
    const file = join(dir, "agents.json");
    writeFileSync(
      file,
      JSON.stringify({
        agents: [
          { name: "One", url: v1.url },
          { name: "Zero three", url: v03.url },
        ],
      }),
    );
    registry = new Registry({
      agentsFile: file,
      logger: silentLogger(),
      settings: { debounceMs: 30 },
    });
    await registry.start();
  });
  afterAll(async () => {
    await registry?.close();
    await Promise.all([v1?.close(), v03?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads each card's dialect and streaming, and the client talks to the agent", async () => {
    const one = registry.get(localAgentIdForUrl(v1.url));
    const zero = registry.get(localAgentIdForUrl(v03.url));
    expect(one).toMatchObject({ name: "One", streaming: true, healthy: true });
    expect(one?.client.dialect).toBe("1.0");
    expect(zero).toMatchObject({ name: "Zero three", streaming: false });
    expect(zero?.client.dialect).toBe("0.3");
    expect(registry.syncPayload().map((a) => a.capabilities)).toEqual([
      ["streaming", "test", "echo"],
      ["test", "echo"],
    ]);

    const events: unknown[] = [];
    for await (const event of one!.client.stream(
      { role: "user", parts: [{ kind: "text", text: "ping" }] },
      { signal: AbortSignal.timeout(10_000) },
    )) {
      events.push(event);
    }
    expect(JSON.stringify(events)).toContain("ping");
    expect(v1.calls.map((c) => c.method)).toContain("SendStreamingMessage");

    const reply = await zero!.client.send(
      { role: "user", parts: [{ kind: "text", text: "pong" }] },
      { signal: AbortSignal.timeout(10_000) },
    );
    expect(JSON.stringify(reply)).toContain("pong");
    expect(v03.calls.map((c) => c.method)).toEqual(["message/send"]);
  });
});
