import { describe, expect, it } from "vitest";
import { AgentSlots } from "../../src/hub/agent-slots.ts";
import { AcceptedTurns } from "../../src/outbox/accepted-turns.ts";

describe("AgentSlots", () => {
  it("grants up to the limit and queues the rest in arrival order", async () => {
    const slots = new AgentSlots(2);
    const signal = new AbortController().signal;
    const order: number[] = [];
    const r1 = await slots.acquire(signal);
    const r2 = await slots.acquire(signal);
    const third = slots.acquire(signal).then((release) => {
      order.push(3);
      return release;
    });
    const fourth = slots.acquire(signal).then((release) => {
      order.push(4);
      return release;
    });
    expect(slots.running).toBe(2);
    expect(slots.waiting).toBe(2);
    r1();
    r1(); // releasing twice frees one slot only
    const r3 = await third;
    expect(slots.running).toBe(2);
    expect(slots.waiting).toBe(1);
    r2();
    const r4 = await fourth;
    expect(order).toEqual([3, 4]);
    r3();
    r4();
    expect(slots.running).toBe(0);
  });

  it("a waiting turn leaves the queue when its signal aborts", async () => {
    const slots = new AgentSlots(1);
    const release = await slots.acquire(new AbortController().signal);
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    controller.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
    expect(slots.waiting).toBe(0);
    release();
    expect(slots.running).toBe(0);
  });
});

describe("AgentSlots with a long queue", () => {
  it("says when a turn would wait; aborted waiters are skipped, the rest keep their order", async () => {
    const slots = new AgentSlots(1);
    expect(slots.busy).toBe(false);
    const first = await slots.acquire(new AbortController().signal);
    expect(slots.busy).toBe(true);
    const controllers = Array.from({ length: 5_000 }, () => new AbortController());
    const granted: number[] = [];
    const waits = controllers.map((controller, i) =>
      slots.acquire(controller.signal).then(
        (release) => {
          granted.push(i);
          release();
        },
        () => undefined,
      ),
    );
    expect(slots.waiting).toBe(5_000);
    // Every odd waiter leaves (cancelled): the count follows at once.
    controllers.forEach((controller, i) => {
      if (i % 2 === 1) controller.abort(new Error("cancelled"));
    });
    expect(slots.waiting).toBe(2_500);
    first();
    await Promise.all(waits);
    expect(granted).toEqual(Array.from({ length: 2_500 }, (_, i) => i * 2));
    expect([slots.running, slots.waiting, slots.busy]).toEqual([0, 0, false]);
  });
});

describe("AcceptedTurns", () => {
  it("accepts an id once and forgets the oldest beyond its capacity", () => {
    const accepted = new AcceptedTurns(2);
    expect(accepted.accept("a")).toBe(true);
    expect(accepted.accept("a")).toBe(false);
    accepted.accept("b");
    accepted.accept("c");
    expect(accepted.has("a")).toBe(false);
    expect(accepted.has("c")).toBe(true);
  });
});
