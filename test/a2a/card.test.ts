import { describe, expect, it } from "vitest";
import { analyseCard, syncCapabilities } from "../../src/a2a/card.ts";

const v03Card = {
  protocolVersion: "0.3.0",
  name: "Notes",
  description: "Summarises notes",
  url: "http://localhost:9001/a2a",
  preferredTransport: "JSONRPC",
  version: "1.0.0",
  capabilities: { streaming: true, pushNotifications: true },
  defaultInputModes: ["text/plain"],
  defaultOutputModes: ["text/plain"],
  skills: [
    { id: "s1", name: "Sum", description: "d", tags: ["notes", "summary"] },
    { id: "s2", name: "Other", description: "d", tags: ["notes"] },
  ],
};

const v1Card = {
  name: "Echo v1",
  description: "echo",
  supportedInterfaces: [
    { url: "http://localhost:9002/rpc", protocolBinding: "JSONRPC", protocolVersion: "1.0" },
  ],
  version: "1",
  capabilities: { streaming: false },
  defaultInputModes: [],
  defaultOutputModes: [],
  skills: [],
};

describe("analyseCard", () => {
  it("accepts a v0.3 card and uses its url as a v0.3 endpoint, no fallback", () => {
    const result = analyseCard(v03Card);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.card.primary).toEqual({ dialect: "0.3", url: "http://localhost:9001/a2a" });
    expect(result.card.fallback).toBeNull();
    expect(result.card.streaming).toBe(true);
    expect(syncCapabilities(result.card)).toEqual([
      "streaming",
      "push_notifications",
      "notes",
      "summary",
      "notes",
    ]);
    expect(result.card.raw).toBe(v03Card);
  });

  it("accepts a v1.0 card; the fallback is v0.3 at the same URL", () => {
    const result = analyseCard(v1Card);
    expect(result.ok && result.card.primary).toEqual({
      dialect: "1.0",
      url: "http://localhost:9002/rpc",
    });
    expect(result.ok && result.card.fallback).toEqual({
      dialect: "0.3",
      url: "http://localhost:9002/rpc",
    });
    expect(result.ok && syncCapabilities(result.card)).toEqual([]);
  });

  it("prefers 1.0 on a hybrid card and takes its explicit 0.3 interface as the fallback", () => {
    const hybrid = {
      ...v03Card,
      supportedInterfaces: [
        { url: "http://localhost:9001/v03", protocolBinding: "JSONRPC", protocolVersion: "0.3" },
        { url: "grpc://localhost:9003", protocolBinding: "GRPC", protocolVersion: "1.0" },
        "junk",
        { url: "http://localhost:9001/v1", protocolBinding: "JSONRPC", protocolVersion: "1.0.1" },
      ],
    };
    const result = analyseCard(hybrid);
    expect(result.ok && result.card.primary).toEqual({
      dialect: "1.0",
      url: "http://localhost:9001/v1",
    });
    expect(result.ok && result.card.fallback).toEqual({
      dialect: "0.3",
      url: "http://localhost:9001/v03",
    });
  });

  it("treats a missing interface version as 0.3 and skips future versions", () => {
    const card = {
      ...v1Card,
      supportedInterfaces: [
        { url: "http://h/future", protocolBinding: "JSONRPC", protocolVersion: "2.0" },
        { url: "http://h/old", protocolBinding: "JSONRPC" },
      ],
    };
    const result = analyseCard(card);
    expect(result.ok && result.card.primary).toEqual({ dialect: "0.3", url: "http://h/old" });
    expect(result.ok && result.card.fallback).toBeNull();
  });

  it("rejects a card whose interfaces are all unusable, even with a top-level url", () => {
    const card = {
      ...v03Card,
      supportedInterfaces: [
        { url: "http://h/x", protocolBinding: "JSONRPC", protocolVersion: "2.0" },
      ],
    };
    const result = analyseCard(card);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/no JSON-RPC interface/);
    expect(
      analyseCard({ ...v1Card, supportedInterfaces: [{ protocolBinding: "JSONRPC" }] }).ok,
    ).toBe(false);
  });

  it("rejects non-cards", () => {
    const bad: unknown[] = [
      {},
      null,
      [],
      "card",
      { error: "not found" },
      { name: "x" },
      { name: "x", url: "http://h" },
      { name: "x", capabilities: {} },
      { name: "x", skills: [] },
      { name: "x", foo: 1, bar: 2 },
      { name: "x", supportedInterfaces: [] },
      { name: "x", supportedInterfaces: "nope" },
      { ...v03Card, defaultInputModes: undefined },
      { ...v03Card, skills: [{ id: "s" }] },
      { ...v03Card, name: "  " },
    ];
    for (const raw of bad) {
      const result = analyseCard(raw);
      expect(result.ok, JSON.stringify(raw)).toBe(false);
      expect(!result.ok && result.error).toMatch(/^not a usable agent card: /);
    }
  });

  it("accepts a sparse but complete v0.3 card and vendor extensions", () => {
    const sparse = {
      name: "Sparse",
      description: "",
      url: "http://h",
      version: "0",
      capabilities: {},
      skills: [],
      defaultInputModes: [],
      defaultOutputModes: [],
      "x-vendor": { anything: true },
    };
    const result = analyseCard(sparse);
    expect(result.ok && result.card.primary.dialect).toBe("0.3");
    expect(result.ok && result.card.streaming).toBe(false);
  });

  it("accepts a v0.3 card without descriptions (VoltAgent's, for an agent with no purpose)", () => {
    // @voltagent/a2a-server 2.0.3 as served: no card description, and a skill's only when its tool has one.
    const volt = {
      name: "volt",
      url: "http://127.0.0.1:9101/a2a/volt",
      version: "0.1.0",
      capabilities: { streaming: true, pushNotifications: false, stateTransitionHistory: false },
      defaultInputModes: ["text"],
      defaultOutputModes: ["text"],
      skills: [{ id: "lookup", name: "lookup", tags: ["tool"] }],
    };
    const result = analyseCard(volt);
    expect(result.ok && result.card.description).toBe("");
    expect(result.ok && result.card.primary).toEqual({ dialect: "0.3", url: volt.url });
    expect(result.ok && result.card.skillTags).toEqual(["tool"]);
    // A description that is there must still be text.
    expect(analyseCard({ ...volt, description: 5 }).ok).toBe(false);
    expect(
      analyseCard({ ...volt, skills: [{ id: "s", name: "s", tags: [], description: 1 }] }).ok,
    ).toBe(false);
  });

  it("finds the JSON-RPC interface of a v0.3 card whose preferred transport is another", () => {
    const card = {
      ...v03Card,
      preferredTransport: "GRPC",
      url: "grpc://h:1",
      additionalInterfaces: [{ url: "http://h:2/rpc", transport: "JSONRPC" }],
    };
    const result = analyseCard(card);
    expect(result.ok && result.card.primary).toEqual({ dialect: "0.3", url: "http://h:2/rpc" });
    expect(analyseCard({ ...card, additionalInterfaces: [] }).ok).toBe(false);
  });

  it("keeps a v1 interface's tenant", () => {
    const card = {
      ...v1Card,
      supportedInterfaces: [
        { url: "http://h/rpc", protocolBinding: "JSONRPC", protocolVersion: "1.0", tenant: "acme" },
      ],
    };
    const result = analyseCard(card);
    expect(result.ok && result.card.primary).toEqual({
      dialect: "1.0",
      url: "http://h/rpc",
      tenant: "acme",
    });
  });

  it("resolves relative interface URLs against the card's URL", () => {
    const card = {
      ...v1Card,
      supportedInterfaces: [
        { url: "/a2a/jsonrpc", protocolBinding: "JSONRPC", protocolVersion: "1.0" },
      ],
    };
    const result = analyseCard(card, {
      baseUrl: "http://127.0.0.1:9/agents/x/.well-known/agent-card.json",
    });
    expect(result.ok && result.card.primary.url).toBe("http://127.0.0.1:9/a2a/jsonrpc");
  });
});
