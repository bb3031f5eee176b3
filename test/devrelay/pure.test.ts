import { describe, expect, it } from "vitest";
import {
  generateApiKey,
  hashApiKey,
  isApiKeyFormat,
  isValidScope,
  scopesAllow,
} from "../../src/devrelay/api-key.ts";
import { maskAgentCard } from "../../src/devrelay/card-mask.ts";
import { matchScore, rankAgents } from "../../src/devrelay/discovery.ts";
import { jsonDepth, pathSegments } from "../../src/devrelay/http-io.ts";
import { cloudAgentId } from "../../src/devrelay/roster.ts";
import { taskResult } from "../../src/devrelay/task-result.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";

describe("API keys", () => {
  it("makes hybro_ + 40 base62 characters, all different", () => {
    const keys = new Set(Array.from({ length: 200 }, generateApiKey));
    expect(keys.size).toBe(200);
    for (const key of keys) expect(key).toMatch(/^hybro_[0-9A-Za-z]{40}$/);
  });

  it("accepts only hybro_ + at least 32 base62 characters", () => {
    expect(isApiKeyFormat(`hybro_${"a".repeat(32)}`)).toBe(true);
    expect(isApiKeyFormat(`hybro_${"a".repeat(31)}`)).toBe(false);
    expect(isApiKeyFormat(`hybro_${"a".repeat(31)}-`)).toBe(false);
    expect(isApiKeyFormat(`HYBRO_${"a".repeat(32)}`)).toBe(false);
    expect(hashApiKey("hybro_x")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("matches scopes exactly, by area wildcard, and by *", () => {
    expect(scopesAllow(["gateway:send"], "gateway:send")).toBe(true);
    expect(scopesAllow(["gateway:read"], "gateway:send")).toBe(false);
    expect(scopesAllow(["gateway:*"], "gateway:send")).toBe(true);
    expect(scopesAllow(["gateway:*"], "discovery:read")).toBe(false);
    expect(scopesAllow(["*"], "keys:admin")).toBe(true);
    expect(scopesAllow(["gateway:*"], "*")).toBe(false);
    expect(isValidScope("relay:*")).toBe(true);
    expect(isValidScope("bogus:*")).toBe(false);
    expect(isValidScope("gateway:write")).toBe(false);
  });
});

describe("discovery score", () => {
  const agent = (agentId: string, name: string, description: string, tags: string[] = []) => ({
    agentId,
    name,
    description,
    capabilities: ["streaming", ...tags],
    agentCard: { skills: [{ tags }] },
  });

  it("weighs name over tags over description, prefixes at half", () => {
    expect(matchScore("weather", agent("a", "Weather bot", "x"))).toBe(1);
    expect(matchScore("weather", agent("a", "Bot", "x", ["weather"]))).toBe(0.8);
    expect(matchScore("weather", agent("a", "Bot", "tells the weather"))).toBe(0.5);
    expect(matchScore("weath", agent("a", "Weather bot", "x"))).toBe(0.5);
    expect(matchScore("weather forecast", agent("a", "Weather bot", "x"))).toBe(0.5);
    expect(matchScore("", agent("a", "Weather bot", "x"))).toBe(0);
  });

  it("ranks deterministically and leaves out non-matches", () => {
    const agents = [
      agent("agt_2", "Notes", "summarise notes", ["summary"]),
      agent("agt_1", "Summariser", "summarise anything"),
      agent("agt_3", "Weather", "forecasts"),
    ];
    const ranked = rankAgents("summariser", agents, 10);
    expect(ranked.map((r) => r.agent.agentId)).toEqual(["agt_1"]);
    const broad = rankAgents("summarise", agents, 10);
    expect(broad.map((r) => r.agent.agentId)).toEqual(["agt_2", "agt_1"]);
    expect(rankAgents("", agents, 2).map((r) => r.agent.name)).toEqual(["Notes", "Summariser"]);
  });
});

describe("card masking", () => {
  it("replaces every agent URL with the gateway's", () => {
    const masked = maskAgentCard(
      {
        name: "x",
        url: "http://localhost:9001",
        supportedInterfaces: [{ url: "http://localhost:9001/v1", protocolBinding: "JSONRPC" }],
        additionalInterfaces: [{ url: "http://localhost:9001/grpc", transport: "GRPC" }],
      },
      "http://relay/api/v1/gateway/agents/agt_x",
    );
    expect(JSON.stringify(masked)).not.toContain("localhost:9001");
    expect(masked.supportedInterfaces).toEqual([
      { url: "http://relay/api/v1/gateway/agents/agt_x", protocolBinding: "JSONRPC" },
    ]);
  });
});

describe("paths", () => {
  it("decodes segments and refuses traversal", () => {
    expect(pathSegments("/api/v1/x?y=1")).toEqual(["api", "v1", "x"]);
    expect(pathSegments("/api/v1/x/")).toEqual(["api", "v1", "x"]);
    expect(() => pathSegments("/api/../x")).toThrow(/not allowed/);
    expect(() => pathSegments("/api/%2e%2e/x")).toThrow(/not allowed/);
    expect(() => pathSegments("/api/a%2fb")).toThrow(/not allowed/);
    expect(() => pathSegments("/api/%zz")).toThrow(/percent-encoding/);
    expect(() => pathSegments(`/${"a".repeat(5000)}`)).toThrow(/longer/);
  });

  it("measures JSON nesting, ignoring brackets inside strings", () => {
    expect(jsonDepth('{"a":[1,{"b":2}]}')).toBe(3);
    expect(jsonDepth('{"a":"[[[[\\"[["}')).toBe(1);
    expect(jsonDepth("[".repeat(500_000))).toBe(101);
  });

  it("gives agents stable cloud ids", () => {
    expect(cloudAgentId("0".repeat(32), "7a7160aa61ee")).toMatch(/^agt_[0-9a-f]{12}$/);
    expect(cloudAgentId("0".repeat(32), "7a7160aa61ee")).toBe(
      cloudAgentId("0".repeat(32), "7a7160aa61ee"),
    );
    expect(cloudAgentId("1".repeat(32), "7a7160aa61ee")).not.toBe(
      cloudAgentId("0".repeat(32), "7a7160aa61ee"),
    );
  });
});

describe("task result", () => {
  const outline = (events: unknown[]) => ({
    agentMessageId: "amsg_1",
    roomId: "room_1",
    contextId: "ctx_1",
    agentTaskId: null,
    agentContextId: null,
    events: events as PublishedEvent[],
  });
  const ev = (type: string, data: Record<string, unknown>) => ({
    type,
    agent_message_id: "amsg_1",
    data,
  });

  it("uses agent_response content when present", () => {
    const task = taskResult(
      outline([
        ev("agent_response", { content: "hello" }),
        ev("processing_status", { status: "completed" }),
      ]),
    );
    expect(task).toMatchObject({
      kind: "task",
      id: "amsg_1",
      contextId: "ctx_1",
      status: {
        state: "completed",
        message: { role: "agent", parts: [{ kind: "text", text: "hello" }] },
      },
      artifacts: [{ parts: [{ kind: "text", text: "hello" }] }],
      metadata: { agent_message_id: "amsg_1", room_id: "room_1", events: 2 },
    });
  });

  it("rebuilds the room's artifacts as hybro.ai does: append adds, a fresh chunk replaces", () => {
    const chunk = (artifactId: string, text: string, append: boolean) =>
      ev("artifact_update", {
        artifacts: [{ artifactId, parts: [{ kind: "text", text }] }],
        append,
      });
    const task = taskResult(
      outline([
        chunk("a1", "draft", false),
        chunk("a1", "The ", false),
        chunk("a1", "end", true),
        chunk("amsg_1-stream", "!", true),
        ev("processing_status", { status: "completed" }),
      ]),
    );
    expect(task.status.message).toMatchObject({ parts: [{ text: "The end!" }] });
    expect(task.artifacts).toEqual([
      {
        artifactId: "a1",
        parts: [
          { kind: "text", text: "The " },
          { kind: "text", text: "end" },
        ],
      },
      { artifactId: "amsg_1-stream", parts: [{ kind: "text", text: "!" }] },
    ]);
  });

  it("reads an update's artifacts where hybro.ai does: artifacts, raw.artifact, artifact, parts", () => {
    const task = taskResult(
      outline([
        // `text` is never read; an artifact without parts adds nothing.
        ev("artifact_update", { text: "lost", raw: { artifact: { artifactId: "r" } } }),
        ev("artifact_update", {
          text: "ignored",
          raw: { artifact: { artifactId: "r", parts: [{ text: "from raw " }] } },
          artifact: { artifactId: "x", parts: [{ kind: "text", text: "not read" }] },
        }),
        ev("artifact_update", {
          artifact: { artifactId: "d", name: "direct", parts: [{ kind: "text", text: "direct " }] },
        }),
        ev("artifact_update", { parts: [{ kind: "data", data: { k: 1 } }] }),
        ev("artifact_update", {
          artifacts: [{ artifactId: "n", parts: [{ kind: "text", text: "new" }] }],
          raw: { artifact: { artifactId: "r", parts: [{ text: "not read" }] } },
        }),
        ev("processing_status", { status: "completed" }),
      ]),
    );
    expect(task.artifacts).toEqual([
      { artifactId: "r", parts: [{ kind: "text", text: "from raw " }] },
      { artifactId: "d", name: "direct", parts: [{ kind: "text", text: "direct " }] },
      { artifactId: "amsg_1-stream", name: "stream", parts: [{ kind: "data", data: { k: 1 } }] },
      { artifactId: "n", parts: [{ kind: "text", text: "new" }] },
    ]);
    expect(task.status.message).toMatchObject({ parts: [{ text: "from raw direct new" }] });
  });

  it("maps failure and input-required", () => {
    const failed = taskResult(
      outline([
        ev("agent_error", { error: "boom", error_type: "AgentTaskFailed" }),
        ev("processing_status", { status: "failed" }),
      ]),
    );
    expect(failed.status.state).toBe("failed");
    expect(failed.status.message).toMatchObject({ parts: [{ text: "boom" }] });
    expect(failed.metadata).toMatchObject({ error_type: "AgentTaskFailed" });
    const asking = taskResult({
      ...outline([
        ev("task_interactive", {
          state: "auth-required",
          task_id: "t1",
          context_id: "c9",
          status_text: "log in",
        }),
        ev("processing_status", { status: "input_required" }),
      ]),
      agentTaskId: "t1",
      agentContextId: "c9",
    });
    expect(asking).toMatchObject({ id: "t1", contextId: "c9", status: { state: "auth-required" } });
    expect(asking.status.message).toMatchObject({ parts: [{ text: "log in" }] });
  });
});
