import { afterEach, describe, expect, it, vi } from "vitest";
import { StdioTransport, type StdioTransportOptions } from "../../src/agents/transports/stdio.ts";
import {
  capturingLogger,
  fixture,
  isRunning,
  type LogLine,
  NODE,
  recorded,
  recordFile,
} from "./support.ts";

const open: StdioTransport[] = [];
const cleanups: (() => Promise<void>)[] = [];
const strays: number[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone, as it should be
    }
  }
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function agent(script: string, options: Partial<StdioTransportOptions> = {}): StdioTransport {
  const transport = new StdioTransport({
    name: "Family",
    command: NODE,
    args: [fixture(script)],
    ...options,
    settings: {
      restartBaseDelayMs: 20,
      restartMaxDelayMs: 100,
      stopGraceMs: 300,
      killGraceMs: 500,
      ...options.settings,
    },
  });
  open.push(transport);
  return transport;
}

async function grandchildrenOf(file: string): Promise<number[]> {
  return vi.waitFor(
    () => {
      const entry = recorded(file).find((line) => "grandchildren" in line);
      if (!entry) throw new Error("no grandchildren recorded yet");
      const pids = entry.grandchildren as number[];
      strays.push(...pids);
      return pids;
    },
    { timeout: 10_000 },
  );
}

describe("a stdio agent's own children", () => {
  it("are stopped with the agent, even when the agent exits on EOF and leaves them", async () => {
    const file = await recordFile(cleanups);
    const family = agent("family-agent.mjs", { env: { RECORD_FILE: file } });
    await family.fetchCard(new AbortController().signal);
    const [grandchild] = await grandchildrenOf(file);
    expect(isRunning(grandchild as number)).toBe(true);
    await family.close();
    await vi.waitFor(() => expect(isRunning(grandchild as number)).toBe(false), {
      timeout: 10_000,
    });
  });

  it("are stopped even when one escaped into a session of its own", async () => {
    const file = await recordFile(cleanups);
    const family = agent("family-agent.mjs", { env: { RECORD_FILE: file, ESCAPE: "1" } });
    await family.fetchCard(new AbortController().signal);
    const pids = await grandchildrenOf(file);
    expect(pids).toHaveLength(2);
    await family.close();
    for (const pid of pids) {
      await vi.waitFor(() => expect(isRunning(pid)).toBe(false), { timeout: 10_000 });
    }
  });

  it("are stopped when the agent exits by itself, before it is restarted", async () => {
    const file = await recordFile(cleanups);
    const { logger, lines } = capturingLogger();
    const family = agent("family-agent.mjs", {
      env: { RECORD_FILE: file, EXIT_AFTER_CARD: "1" },
      logger,
    });
    await family.fetchCard(new AbortController().signal);
    const [grandchild] = await grandchildrenOf(file);
    await vi.waitFor(() => expect(lines.some((l) => /exited with code 0/.test(l.msg))).toBe(true));
    await vi.waitFor(() => expect(isRunning(grandchild as number)).toBe(false), {
      timeout: 10_000,
    });
  });
});

describe("a stdio agent flooding stderr", () => {
  it("is rate-limited into the log, and every line is either logged or counted as dropped", async () => {
    const total = 20_000;
    const file = await recordFile(cleanups);
    const { logger, lines } = capturingLogger();
    const startedAt = Date.now();
    const flood = agent("stderr-flood.mjs", {
      name: "Flood",
      env: { LINES: String(total), RECORD_FILE: file },
      logger,
      settings: { stderrBytesPerS: 2_048, stderrBurstBytes: 16_384 },
    });
    await flood.fetchCard(new AbortController().signal);
    await vi.waitFor(() => expect(recorded(file)).toContainEqual({ floodDone: true }), {
      timeout: 60_000,
    });
    await flood.close(); // its stderr ends: the last drops are reported
    const isReport = (l: LogLine) => l.droppedLines !== undefined;
    const logged = () => lines.filter((l) => l.stream === "stderr" && !isReport(l));
    const dropped = () => lines.reduce((sum, l) => sum + Number(l.droppedLines ?? 0), 0);
    // The agent wrote `total` noise lines and "flood done": each one is logged or counted.
    await vi.waitFor(() => expect(logged().length + dropped()).toBe(total + 1), {
      timeout: 10_000,
    });
    const elapsedS = (Date.now() - startedAt) / 1000;
    // What reached the log stays within the budget for the time the agent ran.
    const loggedBytes = logged().reduce((sum, l) => sum + Buffer.byteLength(l.msg) + 1, 0);
    expect(loggedBytes).toBeLessThanOrEqual(16_384 + 2_048 * elapsedS);
    expect(lines.find(isReport)?.msg).toMatch(
      /agent "Flood" writes more to stderr than the log takes: \d+ lines \(\d+ bytes\) dropped/,
    );
  });
});
