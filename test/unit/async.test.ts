// The shared machinery of src/async on a manual clock: no test here waits for real time.
import { describe, expect, it } from "vitest";
import { Backoff } from "../../src/async/backoff.ts";
import { sleep, systemClock } from "../../src/async/clock.ts";
import { PollSchedule, pollUntil } from "../../src/async/poll.ts";
import { ManualClock } from "../support/manual-clock.ts";

const ceilingOf = (random: number, jitter: "full" | "equal", count: number) => {
  const backoff = new Backoff(
    { baseDelayMs: 100, maxDelayMs: 1_000, jitter },
    { random: () => random },
  );
  return Array.from({ length: count }, () => backoff.nextDelayMs());
};

describe("Backoff", () => {
  it("doubles per failure up to the cap; equal jitter waits at least half, full jitter from 0", () => {
    expect(ceilingOf(0.999_999_9, "full", 6)).toEqual([99, 199, 399, 799, 999, 999]);
    expect(ceilingOf(0, "full", 3)).toEqual([0, 0, 0]);
    expect(ceilingOf(0, "equal", 6)).toEqual([50, 100, 200, 400, 500, 500]);
    expect(ceilingOf(0.5, "equal", 2)).toEqual([75, 150]);
  });

  it("never waits less than a floor, and keeps growing under it", () => {
    const backoff = new Backoff(
      { baseDelayMs: 100, maxDelayMs: 10_000, jitter: "equal" },
      { random: () => 0 },
    );
    expect(backoff.nextDelayMs(5_000)).toBe(5_000);
    expect(backoff.nextDelayMs(5_000)).toBe(5_000);
    expect(backoff.failures).toBe(2);
    expect(backoff.nextDelayMs()).toBe(200);
  });

  it("starts over on success", () => {
    const backoff = new Backoff(
      { baseDelayMs: 100, maxDelayMs: 10_000, jitter: "equal" },
      { random: () => 0 },
    );
    backoff.nextDelayMs();
    backoff.nextDelayMs();
    backoff.reset();
    expect(backoff.failures).toBe(0);
    expect(backoff.nextDelayMs()).toBe(50);
  });

  it("starts over after a run that stayed up stableRunMs, not after a shorter one", async () => {
    const clock = new ManualClock();
    const backoff = new Backoff(
      { baseDelayMs: 100, maxDelayMs: 10_000, jitter: "equal", stableRunMs: 1_000 },
      { clock, random: () => 0 },
    );
    backoff.nextDelayMs();
    backoff.nextDelayMs();
    backoff.runStarted();
    await clock.advance(999);
    expect(backoff.runEnded()).toBe(false);
    expect(backoff.nextDelayMs()).toBe(200);

    backoff.runStarted();
    await clock.advance(1_000);
    expect(backoff.runEnded()).toBe(true);
    expect(backoff.nextDelayMs()).toBe(50);
    // An end without a start, or a policy without stableRunMs, resets nothing.
    expect(backoff.runEnded()).toBe(false);
    const never = new Backoff({ baseDelayMs: 100, maxDelayMs: 1_000, jitter: "full" }, { clock });
    never.nextDelayMs();
    never.runStarted();
    await clock.advance(1_000_000);
    expect(never.runEnded()).toBe(false);
    expect(never.failures).toBe(1);
  });
});

describe("PollSchedule", () => {
  it("waits the interval, growing by half to the cap", async () => {
    const clock = new ManualClock();
    const schedule = new PollSchedule({
      intervalMs: 100,
      maxIntervalMs: 300,
      deadlineAt: clock.now() + 100_000,
      clock,
    });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const waiting = schedule.wait();
      waits.push(clock.nextDueInMs() as number);
      await clock.advance(waits.at(-1) as number);
      expect(await waiting).toBe(true);
    }
    expect(waits).toEqual([100, 150, 225, 300, 300]);
  });

  it("starts no wait whose check could not end before the deadline", async () => {
    const clock = new ManualClock();
    const schedule = new PollSchedule({
      intervalMs: 100,
      deadlineAt: clock.now() + 1_000,
      checkTimeoutMs: 800,
      clock,
    });
    const first = schedule.wait();
    await clock.advance(100);
    expect(await first).toBe(true);
    // 100 + 100 + 800 reaches the deadline: no second wait, nothing scheduled.
    expect(await schedule.wait()).toBe(false);
    expect(clock.pendingCount).toBe(0);
  });

  it("rejects with the signal's reason on abort", async () => {
    const clock = new ManualClock();
    const schedule = new PollSchedule({ intervalMs: 100, deadlineAt: clock.now() + 1_000, clock });
    const controller = new AbortController();
    const waiting = schedule.wait(controller.signal);
    const reason = new Error("turn canceled");
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(clock.pendingCount).toBe(0);
  });
});

describe("pollUntil", () => {
  it("is true once the condition holds, false when the time is up", async () => {
    const clock = new ManualClock();
    let done = false;
    const ok = pollUntil(() => done, 1_000, 50, clock);
    await clock.advance(200);
    done = true;
    await clock.advance(50);
    expect(await ok).toBe(true);

    const never = pollUntil(() => false, 1_000, 50, clock);
    await clock.advance(1_000);
    expect(await never).toBe(false);
  });
});

describe("sleep", () => {
  it("rejects with the signal's reason, also when already aborted", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const sleeping = sleep(60_000, controller.signal);
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    await expect(sleep(1, controller.signal)).rejects.toBe(reason);
    await expect(systemClock.sleep(0)).resolves.toBeUndefined();
  });
});
