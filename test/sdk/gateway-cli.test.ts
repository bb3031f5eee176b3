// `hybro-hub discover / send / chat` as child processes against the development relay, with
// the scripted hub echoing the context id it received.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import {
  echoScript,
  type ScriptedHub,
  type ScriptedTurn,
  startScriptedHub,
  streamingEchoScript,
  type TurnScript,
} from "../support/scripted-hub.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;

const script: TurnScript = async (turn) => {
  if (turn.command.type === "user_reply") {
    await turn.submitted();
    await turn.respond(`thanks, ${turn.text}`);
    return turn.complete();
  }
  if (turn.text === "ask") {
    await turn.submitted();
    return turn.askInput("What is your name?");
  }
  if (turn.text.startsWith("stream ")) return streamingEchoScript(turn);
  if (turn.text === "fail") return turn.submitted().then(() => turn.fail("it broke"));
  if (turn.text in ANSWERS) return answerScript(turn, ANSWERS[turn.text]!);
  return echoScript(turn);
};

const text = (t: string) => ({ kind: "text" as const, text: t });
/** Answers as the hub publishes them: artifact updates (id, parts, append), then the end. */
const ANSWERS: Record<string, Array<{ id: string; parts: unknown[]; append?: boolean }>> = {
  structured: [
    { id: "code", parts: [text("def fib(n):\n    return n\n")] },
    {
      id: "report",
      parts: [
        { kind: "data", data: { rows: 3, ok: true } },
        text("see the file"),
        { kind: "file", file: { name: "notes.txt", mimeType: "text/plain", bytes: "bm90ZXMK" } },
      ],
    },
    { id: "status", parts: [text("Generated files: fib.py, report")] },
  ],
  "data only": [{ id: "d", parts: [{ kind: "data", data: { rows: 3 } }] }],
  nothing: [],
  // Chunks, then the whole text again as a replace (append: false), as some frameworks do.
  "resend whole": [
    { id: "a", parts: [text("Par")] },
    { id: "a", parts: [text("tial ")], append: true },
    { id: "a", parts: [text("answer")], append: true },
    { id: "a", parts: [text("Partial answer")], append: false },
  ],
  "replace differently": [
    { id: "a", parts: [text("first draft")] },
    { id: "a", parts: [text("Final.")], append: false },
  ],
};

/** How `send` and `chat` show the "structured" answer. */
const STRUCTURED_SHOWN = [
  "def fib(n):",
  "    return n",
  '{"rows":3,"ok":true}',
  "see the file",
  "[file: notes.txt, text/plain]",
  "Generated files: fib.py, report",
].join("\n");

async function answerScript(
  turn: ScriptedTurn,
  updates: Array<{ id: string; parts: unknown[]; append?: boolean }>,
): Promise<void> {
  await turn.submitted();
  for (const update of updates) {
    await turn.publish({
      type: "artifact_update",
      agent_message_id: turn.command.agent_message_id,
      data: {
        artifacts: [{ artifactId: update.id, parts: update.parts as never }],
        append: update.append ?? false,
        last_chunk: false,
      },
    });
  }
  const ids = [...new Set(updates.map((update) => update.id))];
  await turn.publish({
    type: "agent_response",
    agent_message_id: turn.command.agent_message_id,
    data: {
      content: "",
      agent_id: "x",
      ...(ids.length > 0
        ? { artifacts: ids.map((artifactId) => ({ artifactId, parts: [] })), append: true }
        : {}),
    },
  });
  await turn.complete();
}

let relay: DevRelay;
let hub: ScriptedHub;
let key: string;
let home: string;

beforeAll(async () => {
  relay = await startDevRelay({ port: 0, memory: true });
  const hubKey = relay.createKey({ name: "hub", scopes: ["relay:hub"] }).key;
  key = relay.createKey({ name: "cli", scopes: ["gateway:*"] }).key;
  hub = await startScriptedHub({ relayUrl: relay.url, apiKey: hubKey, script });
  home = mkdtempSync(join(tmpdir(), "hybro-cli-"));
});

afterAll(async () => {
  await hub?.close();
  await relay?.close();
  if (home) rmSync(home, { recursive: true, force: true });
  expect(hub.scriptErrors).toEqual([]);
});

/** Runs the CLI with a clean environment: no saved config unless the test writes one. */
function cli(
  args: string[],
  options: { input?: string; env?: Record<string, string | undefined> } = {},
) {
  return execa(process.execPath, [MAIN, ...args], {
    input: options.input ?? "",
    reject: false,
    timeout: 15_000,
    extendEnv: false,
    env: {
      PATH: process.env.PATH,
      HYBRO_HUB_HOME: home,
      HYBRO_API_KEY: key,
      HYBRO_GATEWAY_URL: relay.url,
      ...options.env,
    },
  });
}

describe("hybro-hub send", () => {
  it("prints the answer, and --context keeps the conversation across two calls", async () => {
    const first = await cli(["send", hub.agentId, "hello", "--context", "ctx-cli-1"]);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toBe("echo: hello [context ctx-cli-1]");
    const second = await cli(["send", hub.agentId, "again", "--context", "ctx-cli-1"]);
    expect(second.stdout).toBe("echo: again [context ctx-cli-1]");
  });

  it("--json prints the raw result", async () => {
    const run = await cli(["send", hub.agentId, "hi", "--json"]);
    expect(run.exitCode).toBe(0);
    const raw = JSON.parse(run.stdout) as {
      result: { kind: string; status: { state: string }; contextId: string };
    };
    expect(raw.result.kind).toBe("task");
    expect(raw.result.status.state).toBe("completed");
  });

  it("shows every artifact: text exactly, files by name, data as compact JSON, the closing message", async () => {
    const run = await cli(["send", hub.agentId, "structured"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe(STRUCTURED_SHOWN);
  });

  it("a data-only answer prints its JSON and exits 0; an empty one prints no empty line", async () => {
    const data = await cli(["send", hub.agentId, "data only"]);
    expect([data.exitCode, data.stdout]).toEqual([0, '{"rows":3}']);
    const nothing = await cli(["send", hub.agentId, "nothing"]);
    expect([nothing.exitCode, nothing.stdout]).toEqual([0, ""]);
    expect(nothing.stderr).toBe("(the agent answered with nothing)");
  });

  it("a failed turn prints the agent's error and exits 1", async () => {
    const run = await cli(["send", hub.agentId, "fail"]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toBe("error: the agent failed: it broke");
  });
});

describe("hybro-hub discover", () => {
  it("lists the agent, or prints JSON", async () => {
    const run = await cli(["discover", "echo", "--limit", "3"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain(`${hub.agentId}  Echo Agent`);
    const json = await cli(["discover", "echo", "--json"]);
    expect(
      (JSON.parse(json.stdout) as Array<{ agent_id: string }>).map((a) => a.agent_id),
    ).toContain(hub.agentId);
  });
});

describe("hybro-hub chat", () => {
  it("keeps the context id across turns with piped stdin and streams replies", async () => {
    const run = await cli(["chat", hub.agentId], {
      input: "first turn\nsecond turn\nstream a b\n",
    });
    expect(run.exitCode).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines).toHaveLength(3);
    const context = /\[context (.+)\]$/.exec(lines[0] ?? "")?.[1];
    expect(context).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines[0]).toBe(`echo: first turn [context ${context}]`);
    expect(lines[1]).toBe(`echo: second turn [context ${context}]`);
    expect(lines[2]).toBe("echo: stream a b");
  });

  it("/quit ends the loop; --context continues a given conversation; a failed turn does not end it", async () => {
    const run = await cli(["chat", hub.agentId, "--context", "ctx-chat"], {
      input: "fail\none\n/quit\nnever sent\n",
    });
    expect(run.stdout).toBe("echo: one [context ctx-chat]");
    expect(run.stderr).toContain("error: the agent failed: it broke (AgentTaskFailed)");
    expect(run.exitCode).toBe(1);
  });

  it("answers an agent that asked for input in the same task", async () => {
    const run = await cli(["chat", hub.agentId], { input: "ask\nBob\n" });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe("What is your name?\nthanks, Bob");
    const reply = await hub.waitForCommand("user_reply", (c) => c.reply_text === "Bob");
    expect(reply.task_id).toMatch(/^task-/);
  });

  it("a replacing chunk replaces: the whole text resent after its chunks is not printed twice", async () => {
    const same = await cli(["chat", hub.agentId], { input: "resend whole\n" });
    expect([same.exitCode, same.stdout, same.stderr]).toEqual([0, "Partial answer", ""]);
    const other = await cli(["chat", hub.agentId], { input: "replace differently\n" });
    expect(other.stdout).toBe("first draft\nFinal.");
    expect(other.stderr).toBe("(the agent replaced its answer:)");
  });

  it("shows files by name and data as JSON as they stream", async () => {
    const run = await cli(["chat", hub.agentId], { input: "structured\n" });
    expect(run.stdout).toBe(STRUCTURED_SHOWN);
  });

  it("an unknown agent ends at once with exit code 4", async () => {
    const run = await cli(["chat", "agt_000000000000"], { input: "hi\n" });
    expect(run.exitCode).toBe(4);
    expect(run.stderr).toMatch(/^error: agent "agt_000000000000" not found/);
  });
});

describe("keys and failures", () => {
  it("takes the key from --api-key-file, then from the saved config file", async () => {
    const keyFile = join(home, "key.txt");
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    const fromFile = await cli(
      ["send", hub.agentId, "k", "--context", "c", "--api-key-file", keyFile],
      {
        env: { HYBRO_API_KEY: undefined },
      },
    );
    expect(fromFile.stdout).toBe("echo: k [context c]");

    mkdirSync(join(home, "config"), { recursive: true });
    writeFileSync(join(home, "config", "config.json"), JSON.stringify({ apiKey: key }), {
      mode: 0o600,
    });
    try {
      const fromConfig = await cli(["send", hub.agentId, "k", "--context", "c"], {
        env: { HYBRO_API_KEY: undefined },
      });
      expect(fromConfig.stdout).toBe("echo: k [context c]");
    } finally {
      rmSync(join(home, "config"), { recursive: true, force: true });
    }
  });

  it("no key and a refused key exit 3 without echoing the key; --api-key is refused with 2", async () => {
    const none = await cli(["discover", "x"], { env: { HYBRO_API_KEY: undefined } });
    expect(none.exitCode).toBe(3);
    expect(none.stderr).toMatch(/^error: no API key/);

    const bad = "hybro_0000000000000000000000000000000000000000";
    const refused = await cli(["discover", "x"], { env: { HYBRO_API_KEY: bad } });
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toBe(
      "error: the gateway refused the API key from HYBRO_API_KEY (invalid_api_key): Invalid API key",
    );
    expect(refused.stderr).not.toContain(bad);

    const onCommandLine = await cli(["send", hub.agentId, "hi", "--api-key", bad]);
    expect(onCommandLine.exitCode).toBe(2);
    expect(onCommandLine.stderr).toMatch(/^error: --api-key is not accepted here/);
    expect(onCommandLine.stderr).not.toContain(bad);
  });

  it("a usage error exits 2", async () => {
    const run = await cli(["send", hub.agentId]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("missing required argument 'text'");
  });

  it("an exhausted rate limit exits 5 and says when to retry", async () => {
    const limited = await startDevRelay({
      port: 0,
      memory: true,
      // A window years long, so no automatic retry (short Retry-After) can succeed.
      rateLimits: { gateway: { key: [{ limit: 1, windowMs: 1e12 }] } },
    });
    try {
      const limitedKey = limited.createKey({ name: "cli", scopes: ["gateway:*"] }).key;
      const env = { HYBRO_API_KEY: limitedKey, HYBRO_GATEWAY_URL: limited.url };
      expect((await cli(["discover", "x"], { env })).exitCode).toBe(0);
      const run = await cli(["discover", "x"], { env });
      expect(run.exitCode).toBe(5);
      expect(run.stderr).toMatch(
        /^error: rate limit exceeded, retry in \d+ s \(Rate limit exceeded: 1 request per /,
      );
    } finally {
      await limited.close();
    }
  });
});
