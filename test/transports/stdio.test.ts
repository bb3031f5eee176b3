// StdioTransport against real child processes: the example echo agent and the fixtures.
import { homedir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it, vi } from "vitest";
import { TransportError } from "../../src/a2a/transport.ts";
import {
  type StdioSettings,
  StdioTransport,
  type StdioTransportOptions,
} from "../../src/agents/transports/stdio.ts";
import type { TransportHealth } from "../../src/agents/transports/supervision.ts";
import { ManualClock } from "../support/manual-clock.ts";
import {
  capturingLogger,
  collect,
  ECHO_AGENT,
  fixture,
  isRunning,
  NODE,
  recorded,
  recordFile,
  v1Message,
  v03Message,
} from "./support.ts";

const FAST: Partial<StdioSettings> = {
  restartBaseDelayMs: 20,
  restartMaxDelayMs: 100,
  stopGraceMs: 500,
  killGraceMs: 500,
};

const open: StdioTransport[] = [];
const cleanups: (() => Promise<void>)[] = [];

function agent(options: Partial<StdioTransportOptions> & { script: string }): StdioTransport {
  const { script, ...rest } = options;
  const transport = new StdioTransport({
    name: "Test agent",
    command: NODE,
    args: [script],
    ...rest,
    settings: { ...FAST, ...rest.settings },
  });
  open.push(transport);
  return transport;
}

const opts = () => ({ signal: new AbortController().signal, dialect: "0.3" as const });

/**
 * Fires the planned restart each time the agent is down, until `done()` holds. Time moves only
 * here, and only while no child runs (the pending timer then is the restart, never the
 * stable-run timer), so no step depends on how fast the machine starts a process.
 */
async function restartUntil(
  transport: StdioTransport,
  clock: ManualClock,
  done: () => boolean,
): Promise<void> {
  await vi.waitFor(
    async () => {
      const dueInMs = clock.nextDueInMs();
      if (!done() && transport.health().pid === null && dueInMs !== null) {
        await clock.advance(dueInMs);
      }
      expect(done()).toBe(true);
    },
    { timeout: 30_000, interval: 20 },
  );
}

/** The crash agent with exact restart delays (random 0: base / 2, doubling) on a manual clock. */
function crashAgentOnManualClock(settings: Partial<StdioSettings> = {}) {
  const { logger, lines } = capturingLogger();
  const clock = new ManualClock();
  const crashy = agent({
    script: fixture("crash-agent.mjs"),
    logger,
    clock,
    random: () => 0,
    settings: { restartBaseDelayMs: 1_000, restartMaxDelayMs: 60_000, ...settings },
  });
  return { crashy, clock, lines };
}

/** The delays the transport announced in its "restarting in N ms" lines, in order. */
function restartDelays(lines: { msg: string }[]): number[] {
  return lines.flatMap((l) => {
    const match = /restarting in (\d+) ms/.exec(l.msg);
    return match ? [Number(match[1])] : [];
  });
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

type Task = {
  kind: string;
  status: { state: string };
  artifacts: { parts: { text: string }[] }[];
};

describe("StdioTransport with the example echo agent", () => {
  it("serves the agent's card and answers a blocking call", async () => {
    const echo = agent({ script: ECHO_AGENT });
    const card = await echo.fetchCard(new AbortController().signal);
    expect(card).toMatchObject({ name: "Echo (stdio)", capabilities: { streaming: true } });

    const task = (await echo.call("message/send", v03Message("hello world"), opts())) as Task;
    expect(task.kind).toBe("task");
    expect(task.status.state).toBe("completed");
    expect(task.artifacts[0]?.parts[0]?.text).toBe("echo: hello world");
    expect(echo.health()).toMatchObject({ healthy: true, restarts: 0 });
    expect(echo.health().pid).toBeTypeOf("number");
  });

  it("streams v0.3 events word by word, in order", async () => {
    const echo = agent({ script: ECHO_AGENT, env: { ECHO_DELAY_MS: "2" } });
    const events = (await collect(
      echo.stream("message/stream", v03Message("one two three"), opts()),
    )) as Record<string, unknown>[];
    expect(events[0]).toMatchObject({ kind: "task" });
    expect(events[1]).toMatchObject({ kind: "status-update", status: { state: "working" } });
    const chunks = events
      .filter((e) => e.kind === "artifact-update")
      .map((e) => (e as { artifact: { parts: { text: string }[] } }).artifact.parts[0]?.text);
    expect(chunks.join("")).toBe("echo: one two three");
    expect(chunks.length).toBe(4);
    expect(events.at(-1)).toMatchObject({ status: { state: "completed" }, final: true });
  });

  it("speaks v1.0 method names and shapes", async () => {
    const echo = agent({ script: ECHO_AGENT });
    const sent = (await echo.call("SendMessage", v1Message("hi"), opts())) as { task: unknown };
    expect(sent.task).toMatchObject({
      status: { state: "TASK_STATE_COMPLETED" },
      artifacts: [{ parts: [{ text: "echo: hi" }] }],
    });
    const events = (await collect(
      echo.stream("SendStreamingMessage", v1Message("a b"), opts()),
    )) as Record<string, unknown>[];
    expect(Object.keys(events[0] ?? {})).toEqual(["task"]);
    expect(events.some((e) => "artifactUpdate" in e)).toBe(true);
    expect(events.at(-1)).toMatchObject({
      statusUpdate: { status: { state: "TASK_STATE_COMPLETED" } },
    });
  });

  it("gives 20 concurrent calls each its own answer", async () => {
    const echo = agent({ script: ECHO_AGENT, env: { ECHO_DELAY_MS: "3" } });
    await echo.start();
    // Different lengths finish in a different order than they were sent.
    const texts = Array.from({ length: 20 }, (_, i) => `${"w ".repeat(20 - i)}#${i}`.trim());
    const answers = await Promise.all(
      texts.map((text, i) =>
        i % 2 === 0
          ? echo.call("message/send", v03Message(text), opts())
          : collect(echo.stream("message/stream", v03Message(text), opts())),
      ),
    );
    answers.forEach((answer, i) => {
      if (i % 2 === 0) {
        expect((answer as Task).artifacts[0]?.parts[0]?.text).toBe(`echo: ${texts[i]}`);
      } else {
        const text = (answer as Record<string, unknown>[])
          .filter((e) => e.kind === "artifact-update")
          .map((e) => (e as { artifact: { parts: { text: string }[] } }).artifact.parts[0]?.text)
          .join("");
        expect(text).toBe(`echo: ${texts[i]}`);
      }
    });
  });

  it("stops on stdin EOF, leaving no process behind, and fails later calls", async () => {
    // The stop graces run on a clock that never moves: however slow the machine, no SIGTERM.
    const clock = new ManualClock();
    const echo = agent({ script: ECHO_AGENT, clock });
    const { logger, lines } = capturingLogger();
    const logged = new StdioTransport({
      name: "Echo",
      command: NODE,
      args: [ECHO_AGENT],
      logger,
      settings: FAST,
      clock,
    });
    open.push(logged);
    await Promise.all([echo.start(), logged.start()]);
    const pids = [echo.health().pid, logged.health().pid] as number[];
    await Promise.all([echo.close(), logged.close()]);
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
    expect(lines.some((l) => l.msg.includes("SIGTERM"))).toBe(false);
    // The agent's stderr is logged under its name.
    expect(lines.some((l) => l.stream === "stderr" && l.msg.includes("ready"))).toBe(true);
    await expect(echo.call("message/send", v03Message("x"), opts())).rejects.toMatchObject({
      errorType: "AgentExited",
    });
    expect(echo.health().healthy).toBe(false);
  });

  it("rejects calls still pending at close with AgentExited", async () => {
    const silent = agent({ script: fixture("silent-agent.mjs") });
    await silent.start();
    const pending = silent.call("message/send", v03Message("never answered"), opts());
    const closing = silent.close();
    await expect(pending).rejects.toMatchObject({
      errorType: "AgentExited",
      connectionClass: true,
    });
    await closing;
  });
});

describe("StdioTransport framing", () => {
  it("skips garbage lines, accepts CRLF and logs what it skipped", async () => {
    const { logger, lines } = capturingLogger();
    const noisy = agent({ script: fixture("garbage-agent.mjs"), logger });
    expect(await noisy.call("message/send", v03Message("hi"), opts())).toBe("echo: hi");
    const events = await collect(noisy.stream("message/stream", v03Message("x"), opts()));
    expect(events).toEqual([
      { kind: "text", word: "a" },
      { kind: "text", word: "b" },
      { kind: "text", word: "c" },
    ]);
    const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warnings.some((m) => m.includes("not JSON"))).toBe(true);
    expect(warnings.some((m) => m.includes("unknown request id 999999"))).toBe(true);
    expect(warnings.some((m) => m.includes("neither a response nor a notification"))).toBe(true);
    expect(noisy.health().restarts).toBe(0);
  });

  it("fails the request an over-long line answers, then resyncs at the next line", async () => {
    const { logger, lines } = capturingLogger();
    const noisy = agent({
      script: fixture("garbage-agent.mjs"),
      logger,
      settings: { maxLineBytes: 1024 },
    });
    const huge = noisy.call("test/huge", { bytes: 5000 }, opts());
    await expect(huge).rejects.toMatchObject({ errorType: "InvalidAgentResponse" });
    await expect(huge).rejects.toThrow(/over the 1024-byte limit/);
    await expect(noisy.call("test/huge-tail-id", { bytes: 5000 }, opts())).rejects.toMatchObject({
      errorType: "InvalidAgentResponse",
    });
    expect(await noisy.call("test/huge-unknown", { bytes: 5000 }, opts())).toBe("after huge");
    expect(lines.some((l) => l.msg.includes("for no known request"))).toBe(true);
    expect(await noisy.call("message/send", v03Message("still here"), opts())).toBe(
      "echo: still here",
    );
  });
});

describe("StdioTransport supervision", () => {
  it("ends a turn in flight with AgentExited when the agent crashes, then restarts it after the backoff", async () => {
    const { crashy, clock, lines } = crashAgentOnManualClock();
    await crashy.start();
    const firstPid = crashy.health().pid;
    const error = await crashy.call("message/send", v03Message("crash"), opts()).catch((e) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ errorType: "AgentExited", connectionClass: true });
    expect((error as Error).message).toMatch(/exited with code 3/);
    expect(crashy.health().lastExit).toMatch(/code 3.*about to crash/);
    // The restart is planned for the first backoff delay (equal jitter, random 0: base / 2)…
    expect(clock.nextDueInMs()).toBe(500);
    const again = crashy.call("message/send", v03Message("again"), opts());
    await clock.advance(499);
    expect(crashy.health()).toMatchObject({ restarts: 0, pid: null });
    // …and the waiting call is answered by the new process once it is due.
    await clock.advance(1);
    expect(await again).toBe("echo: again");
    expect(crashy.health()).toMatchObject({ healthy: true, restarts: 1 });
    expect(crashy.health().pid).not.toBe(firstPid);
    expect(
      lines.some((l) => l.level === 40 && /exited with code 3.*restarting in 500 ms/.test(l.msg)),
    ).toBe(true);
  });

  it("doubles the restart delay per crash, and starts over after a stable run", async () => {
    const { crashy, clock, lines } = crashAgentOnManualClock({ stableRunMs: 10_000 });
    const crash = () => crashy.call("message/send", v03Message("crash"), opts()).catch(() => {});
    await crashy.start();
    await crash();
    await restartUntil(crashy, clock, () => crashy.health().restarts === 1);
    await crash();
    await restartUntil(crashy, clock, () => crashy.health().restarts === 2);
    expect(restartDelays(lines)).toEqual([500, 1_000]);
    // Up for stableRunMs: the next crash waits the first delay again, not 2000 ms.
    await vi.waitFor(() => expect(crashy.health().pid).not.toBeNull());
    await clock.advance(10_000);
    await crash();
    expect(restartDelays(lines)).toEqual([500, 1_000, 500]);
    // A run shorter than that does not: the delay grows from where it was.
    await restartUntil(crashy, clock, () => crashy.health().restarts === 3);
    await clock.advance(9_999);
    await crash();
    expect(restartDelays(lines)).toEqual([500, 1_000, 500, 1_000]);
  });

  it("delivers stream events received before a crash, then AgentExited", async () => {
    const crashy = agent({ script: fixture("crash-agent.mjs") });
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const event of crashy.stream("message/stream", v03Message("crash"), opts())) {
        seen.push(event);
      }
    })().catch((e) => e);
    expect(seen).toEqual([{ kind: "text", text: "first" }]);
    expect(error).toMatchObject({ errorType: "AgentExited" });
  });

  it("reports a crash loop once, as unhealthy, and refuses calls", async () => {
    const { logger, lines } = capturingLogger();
    const changes: TransportHealth[] = [];
    const clock = new ManualClock();
    const looping = agent({
      script: fixture("crash-agent.mjs"),
      env: { CRASH_AT_START: "1" },
      logger,
      clock,
      settings: { crashLoopExits: 3, restartBaseDelayMs: 10, restartMaxDelayMs: 40 },
      onHealthChange: (h) => changes.push(h),
    });
    await looping.start().catch(() => {});
    await restartUntil(looping, clock, () => !looping.health().healthy);
    expect(changes[0]).toMatchObject({ healthy: false });
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(/crash-looping \(3 exits within 60 s; last: exited with code 1/);
    expect(errors[0]?.msg).toMatch(/boom: cannot start/);
    // It keeps trying in the background at the capped delay.
    await restartUntil(looping, clock, () => looping.health().restarts >= 4);
    expect(restartDelays(lines).at(-1)).toBeLessThanOrEqual(40);
    expect(lines.filter((l) => l.level === 50)).toHaveLength(1);
    const refused = await looping
      .call("message/send", v03Message("x"), opts())
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ errorType: "AgentExited", connectionClass: true });
  });

  it("reports a command that cannot start as ConnectError and unhealthy", async () => {
    const missing = new StdioTransport({
      name: "Missing",
      command: "hybro-no-such-command-xyz",
      settings: FAST,
    });
    open.push(missing);
    const error = await missing.call("message/send", {}, opts()).catch((e: unknown) => e);
    expect(error).toMatchObject({ errorType: "ConnectError", connectionClass: true });
    expect((error as Error).message).toMatch(
      /could not start "hybro-no-such-command-xyz" \(ENOENT\)/,
    );
    expect(missing.health()).toMatchObject({ healthy: false, pid: null });
    await expect(missing.fetchCard(new AbortController().signal)).rejects.toBeInstanceOf(
      TransportError,
    );
    const badCwd = agent({ script: ECHO_AGENT, cwd: "/hybro-no-such-dir" });
    await expect(badCwd.start()).rejects.toThrow(/cwd \/hybro-no-such-dir does not exist/);
    const empty = agent({ script: ECHO_AGENT, command: "" });
    await expect(empty.start()).rejects.toMatchObject({ errorType: "ConnectError" });
  });

  it("SIGKILLs an agent that ignores stdin EOF and SIGTERM; no process remains", async () => {
    const file = await recordFile(cleanups);
    const clock = new ManualClock();
    const stubborn = agent({
      script: fixture("stubborn-agent.mjs"),
      env: { RECORD_FILE: file },
      clock,
      settings: { stopGraceMs: 200, killGraceMs: 300 },
    });
    await stubborn.fetchCard(new AbortController().signal);
    const pid = stubborn.health().pid as number;
    expect(isRunning(pid)).toBe(true);
    const closing = stubborn.close();
    // Each grace ends only once the agent has shown it ignores what came before.
    await vi.waitFor(() => expect(recorded(file)).toContainEqual({ eof: true }));
    expect(isRunning(pid)).toBe(true);
    await clock.advance(200);
    await vi.waitFor(() => expect(recorded(file)).toContainEqual({ signal: "SIGTERM" }));
    expect(isRunning(pid)).toBe(true);
    await clock.advance(300);
    await closing;
    expect(isRunning(pid)).toBe(false);
  });

  it("leaves no agent running when the hub itself is killed with SIGKILL", async () => {
    const hub = execa(NODE, [fixture("hub-parent.mjs")], { reject: false, buffer: false });
    const firstLine = await new Promise<string>((resolve, reject) => {
      let text = "";
      hub.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes("\n")) resolve(text.split("\n")[0] as string);
      });
      hub.stdout.on("end", () => reject(new Error(`hub-parent ended early: ${text}`)));
    });
    const { agentPid } = JSON.parse(firstLine) as { agentPid: number };
    expect(isRunning(agentPid)).toBe(true);
    hub.kill("SIGKILL");
    await hub;
    // The agent sees EOF on stdin when its parent's pipe closes, and exits.
    await vi.waitFor(() => expect(isRunning(agentPid)).toBe(false), { timeout: 10_000 });
  });
});

describe("StdioTransport timeouts and cancellation", () => {
  it("times out a call the agent never answers and sends $/cancelRequest", async () => {
    const file = await recordFile(cleanups);
    const silent = agent({
      script: fixture("silent-agent.mjs"),
      env: { RECORD_FILE: file },
      settings: { callTimeoutMs: 300 },
    });
    const error = await silent.call("message/send", v03Message("x"), opts()).catch((e) => e);
    expect(error).toMatchObject({ errorType: "ReadTimeout", connectionClass: false });
    // The agent may record what it got after the call timed out (a loaded machine): read late.
    await vi.waitFor(() => {
      const received = recorded(file).map((r) => r.received as { id?: number; method: string });
      const request = received.find((m) => m.method === "message/send");
      expect(request?.id).toBeDefined();
      expect(received).toContainEqual({
        jsonrpc: "2.0",
        method: "$/cancelRequest",
        params: { id: request?.id },
      });
    });
  });

  it("aborting an in-flight stream sends $/cancelRequest for its id", async () => {
    const file = await recordFile(cleanups);
    const silent = agent({ script: fixture("silent-agent.mjs"), env: { RECORD_FILE: file } });
    const controller = new AbortController();
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const event of silent.stream("message/stream", v03Message("x"), {
        signal: controller.signal,
        dialect: "0.3",
      })) {
        seen.push(event);
        controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ kind: "text", text: "started" }]);
    expect(error).toMatchObject({ name: "AbortError" });
    const streamId = recorded(file)
      .map((r) => r.received as { id?: number; method: string })
      .find((m) => m.method === "message/stream")?.id;
    expect(streamId).toBeTypeOf("number");
    await vi.waitFor(() =>
      expect(recorded(file).map((r) => r.received)).toContainEqual({
        jsonrpc: "2.0",
        method: "$/cancelRequest",
        params: { id: streamId },
      }),
    );
  });

  it("leaving a stream loop early and aborting a unary call also cancel", async () => {
    const file = await recordFile(cleanups);
    const silent = agent({ script: fixture("silent-agent.mjs"), env: { RECORD_FILE: file } });
    for await (const _ of silent.stream("message/stream", v03Message("x"), opts())) break;
    const controller = new AbortController();
    const call = silent.call("message/send", v03Message("y"), {
      signal: controller.signal,
      dialect: "0.3",
    });
    await vi.waitFor(() =>
      expect(
        recorded(file).some((r) => (r.received as { method: string }).method === "message/send"),
      ).toBe(true),
    );
    controller.abort(new Error("turn cancelled"));
    await expect(call).rejects.toThrow("turn cancelled");
    await vi.waitFor(() => {
      const cancelled = recorded(file)
        .map((r) => r.received as { method: string; params?: { id: number } })
        .filter((m) => m.method === "$/cancelRequest")
        .map((m) => m.params?.id);
      expect(cancelled).toEqual([1, 2]);
    });
  });

  it("uses the entry's card, or one built from the name, when agent/getCard is not answered", async () => {
    const { logger, lines } = capturingLogger();
    const silent = agent({
      name: "Quiet",
      script: fixture("silent-agent.mjs"),
      logger,
      settings: { cardRequestTimeoutMs: 200 },
    });
    const built = await silent.fetchCard(new AbortController().signal);
    expect(built).toMatchObject({ name: "Quiet", capabilities: { streaming: false } });
    expect(lines.filter((l) => l.msg.includes("serves no card"))).toHaveLength(1);

    const withCard = agent({
      script: fixture("silent-agent.mjs"),
      card: { name: "From entry", capabilities: { streaming: true } },
      settings: { cardRequestTimeoutMs: 200 },
    });
    expect(await withCard.fetchCard(new AbortController().signal)).toEqual({
      name: "From entry",
      capabilities: { streaming: true },
    });
  });
});

describe("StdioTransport environment", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  it("gives the child a minimal env plus its entry's env, never the hub's key", async () => {
    const key = "hk_live_0123456789abcdef";
    process.env.HYBRO_API_KEY = key;
    process.env.OPENAI_API_KEY = "sk-should-not-pass";
    process.env.HYBRO_TEST_UNRELATED = "not on the allowlist";
    process.env.LC_TIME = "C";
    const envAgent = agent({
      script: fixture("env-agent.mjs"),
      cwd: "~",
      env: { NOTES_DIR: "~/notes", AGENT_TOKEN: "agent-own-token", SNEAKY: key },
    });
    const { env, cwd } = (await envAgent.call("test/env", {}, opts())) as {
      env: Record<string, string>;
      cwd: string;
    };
    expect(env.HYBRO_API_KEY).toBeUndefined();
    expect(env.OPENAI_API_KEY).toBeUndefined();
    expect(env.HYBRO_TEST_UNRELATED).toBeUndefined();
    expect(env.SNEAKY).toBeUndefined();
    expect(Object.values(env)).not.toContain(key);
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.LC_TIME).toBe("C");
    expect(env.NOTES_DIR).toBe(join(homedir(), "notes"));
    expect(env.AGENT_TOKEN).toBe("agent-own-token"); // the entry may give the agent its own secret
    expect(cwd).toBe(homedir());
  });
});
