// The stdio restart backoff on a fake clock, against a real child process: the delays are read
// from the hub's own "restarting in N ms" lines and the clock is moved by exactly that much, so
// nothing here depends on how fast the machine starts a process.
import { afterEach, describe, expect, it, vi } from "vitest";
import { StdioTransport } from "../../src/agents/transports/stdio.ts";
import { capturingLogger, fixture, NODE, v03Message } from "./support.ts";

const opts = () => ({ signal: new AbortController().signal, dialect: "0.3" as const });
let open: StdioTransport | null = null;

afterEach(async () => {
  vi.useRealTimers();
  await open?.close();
  open = null;
});

describe("StdioTransport restart backoff", () => {
  it("grows per crash and starts again from the base delay after a stable run", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const { logger, lines } = capturingLogger();
    const base = 1_000;
    const stableRunMs = 60_000;
    const agent = new StdioTransport({
      name: "Crashy",
      command: NODE,
      args: [fixture("crash-agent.mjs")],
      logger,
      settings: {
        restartBaseDelayMs: base,
        restartMaxDelayMs: 1_000_000,
        stableRunMs,
        crashLoopExits: 1_000,
      },
    });
    open = agent;
    await agent.start();

    /** Crashes the agent, returns the restart delay it logged, and lets the restart happen. */
    const crashAndRestart = async (): Promise<number> => {
      const before = lines.length;
      const error = await agent.call("message/send", v03Message("crash"), opts()).catch((e) => e);
      expect(error).toMatchObject({ errorType: "AgentExited" });
      const said = lines
        .slice(before)
        .map((l) => /restarting in (\d+) ms/.exec(l.msg)?.[1])
        .find((d) => d !== undefined);
      expect(said).toBeDefined();
      const delay = Number(said);
      await vi.advanceTimersByTimeAsync(delay);
      expect(await agent.call("message/send", v03Message("up?"), opts())).toBe("echo: up?");
      return delay;
    };

    // Quick crashes (the fake clock moves only by the restart delays): the ceiling doubles.
    const quick = [await crashAndRestart(), await crashAndRestart(), await crashAndRestart()];
    expect(quick[0]).toBeLessThanOrEqual(base);
    expect(quick[1]).toBeGreaterThanOrEqual(base);
    expect(quick[2]).toBeGreaterThanOrEqual(2 * base);

    // A run as long as stableRunMs: the next crash restarts after the base delay again.
    await vi.advanceTimersByTimeAsync(stableRunMs);
    const afterStable = await crashAndRestart();
    expect(afterStable).toBeLessThanOrEqual(base);
    expect(agent.health()).toMatchObject({ healthy: true, restarts: 4 });
  });
});
