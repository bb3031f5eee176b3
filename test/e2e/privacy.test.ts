// The privacy guard on the real publish path: gateway → development relay → a real hub daemon →
// real @a2a-js/sdk agents → hub → relay. What the room shows and what the relay stored are the
// judges; the audit file is read as written.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/privacy/audit-log.ts";
import { startTestAgent, type TestAgent } from "../support/a2a-agents.ts";
import { type GatewayReply, type Stack, startStack, textOf } from "../support/stack.ts";

// A key split over two streamed chunks: neither half may leave.
const KEY_HEAD = "sk-proj-Q7vX2mN9";
const KEY_TAIL = "pL4kR8tW1yZ3bC6dF0gH5jK";
const EMAIL_HEAD = "alice.cooper@exam";

let stack: Stack;
let dir: string;
let auditFile: string;
let blocker: TestAgent;
const agents: TestAgent[] = [];

const turnOf = (reply: GatewayReply) => String(reply.body.result?.metadata?.agent_message_id);
const stored = (reply: GatewayReply) => stack.relay.eventsFor(turnOf(reply));
const auditLines = (): AuditRecord[] =>
  readFileSync(auditFile, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as AuditRecord);

async function until<T>(probe: () => T | null | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "hybro-privacy-e2e-"));
  auditFile = join(dir, "privacy-audit.jsonl");
  const leaky = await startTestAgent({
    dialect: "0.3",
    streaming: true,
    behaviour: "texts",
    name: "Leaky",
    texts: [`Here is the key: ${KEY_HEAD}`, `${KEY_TAIL} and the rest.`],
  });
  blocker = await startTestAgent({
    dialect: "1.0",
    streaming: true,
    behaviour: "texts",
    name: "Blocker",
    // The agent is still sleeping before its last chunk when the hub blocks and cancels.
    delayMs: 1_500,
    texts: ["Write to ", `${EMAIL_HEAD}`, "ple.org today.", " AFTER-THE-BLOCK"],
  });
  const echo = await startTestAgent({
    dialect: "0.3",
    streaming: false,
    behaviour: "echo",
    name: "Echo",
  });
  agents.push(leaky, blocker, echo);
  stack = await startStack({
    agents: agents.map((agent, i) => ({ name: ["Leaky", "Blocker", "Echo"][i], url: agent.url })),
    // Echo has secrets off: the hub's own key is still redacted.
    agentPolicies: { Blocker: { email: "block" }, Echo: { secrets: "off" } },
    privacy: {
      defaultSpec: {},
      audit: true,
      incoming: { keywords: [], patterns: [] },
    },
    auditFile,
  });
});

afterAll(async () => {
  await stack?.close();
  await Promise.all(agents.map((agent) => agent.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the privacy guard on the publish path", () => {
  it("redacts a key split over two streamed chunks; the relay never stores either half", async () => {
    const reply = await stack.send(await stack.agentId("Leaky"), "go");
    expect(reply.body.result?.status.state).toBe("completed");
    expect(textOf(reply)).toBe("Here is the key: [redacted:api_key] and the rest.");
    const everything = JSON.stringify(stored(reply));
    expect(everything).toContain("[redacted:api_key]");
    expect(everything).not.toContain(KEY_HEAD.slice(3));
    expect(everything).not.toContain(KEY_TAIL);
  });

  it("redacts the hub's own API key wherever it appears", async () => {
    const reply = await stack.send(await stack.agentId("Echo"), `my key is ${stack.key}`);
    expect(reply.body.result?.status.state).toBe("completed");
    expect(textOf(reply)).toMatch(/^echo: my key is \[redacted:api_key\]$/);
    expect(JSON.stringify(stored(reply))).not.toContain(stack.key);
  });

  it("blocks mid-stream: the turn fails PolicyBlocked, the agent is canceled, nothing after the match leaves", async () => {
    const reply = await stack.send(await stack.agentId("Blocker"), "go");
    const result = reply.body.result;
    expect(result?.status.state).toBe("failed");
    expect(result?.metadata).toMatchObject({ error_type: "PolicyBlocked" });
    const said = textOf(reply);
    expect(said).toMatch(/rule "email" \(kind email\)/);
    expect(said).not.toContain("alice");
    const events = stored(reply);
    const everything = JSON.stringify(events);
    expect(everything).toContain("Write to ");
    for (const leaked of ["alice", "exam", "ple.org", "AFTER-THE-BLOCK"]) {
      expect(everything).not.toContain(leaked);
    }
    expect(events.filter((e) => e.type === "processing_status")).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: "processing_status", data: { status: "failed" } });
    expect(blocker.cancels).toHaveLength(1);
  });

  it("audits every published event as the relay stored it (0600, digests, detections, no values)", async () => {
    const leak = await stack.send(await stack.agentId("Leaky"), "again");
    const block = await stack.send(await stack.agentId("Blocker"), "again");
    expect(statSync(auditFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(auditFile, "utf8");
    for (const value of [KEY_HEAD.slice(3), KEY_TAIL, "alice", stack.key, "the rest"]) {
      expect(text).not.toContain(value);
    }
    // One line per event the relay stored, in order, of its size as sent. (The relay stores its
    // schema's reading of an event, keys in its own order: that the audit sees each event as
    // serialized in the body is test/relay/publisher.test.ts, its digest test/privacy/audit.test.ts.)
    for (const reply of [leak, block]) {
      const turn = turnOf(reply);
      const events = stored(reply);
      const lines = await until(() => {
        const found = auditLines().filter((line) => line.turn === turn && !line.withheld);
        return found.length >= events.length && found;
      }, "the audit lines of the turn");
      expect(lines.map((line) => line.type)).toEqual(events.map((event) => event.type));
      expect(lines.every((line) => /^[0-9a-f]{64}$/.test(line.sha256 ?? ""))).toBe(true);
      expect(lines.map((line) => line.bytes)).toEqual(
        events.map((event) => Buffer.byteLength(JSON.stringify(event))),
      );
    }
    const leakLines = auditLines().filter((line) => line.turn === turnOf(leak));
    expect(leakLines.every((line) => line.agent === "Leaky" && line.room !== "")).toBe(true);
    expect(leakLines.flatMap((line) => line.detections)).toEqual([
      { kind: "api_key", rule: "sk_key", action: "redact", count: 1 },
    ]);
    const blockLines = auditLines().filter((line) => line.turn === turnOf(block));
    const withheld = blockLines.filter((line) => line.withheld);
    expect(withheld.length).toBeGreaterThan(0);
    expect(withheld.every((line) => line.bytes === 0 && line.sha256 === undefined)).toBe(true);
    expect(withheld.flatMap((line) => line.detections)).toEqual([
      { kind: "email", rule: "email", action: "block", count: 1 },
    ]);
    // The counters behind the Prometheus metrics saw the same.
    const counts = stack.daemon.privacy.counts();
    expect(counts.blockedTurns).toBe(2);
    expect(counts.detections).toEqual(
      expect.arrayContaining([
        { kind: "api_key", action: "redact", count: 3 },
        { kind: "email", action: "block", count: 2 },
      ]),
    );
  });

  it("status shows each agent's policy", () => {
    const byName = new Map(stack.daemon.snapshot().agents.map((a) => [a.name, a.privacy]));
    expect(byName.get("Blocker")).toContain("email block");
    expect(byName.get("Leaky")).toBe("secrets redact, personal log, custom none");
    expect(stack.daemon.snapshot().privacyAudit).toBe(auditFile);
  });
});
