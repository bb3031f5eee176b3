import { afterEach, describe, expect, it, vi } from "vitest";
import { InMemoryPublishQueue } from "../../src/outbox/publish-queue.ts";
import { RelayAuthError, RelayError } from "../../src/relay/errors.ts";
import { Publisher, type PublisherOptions } from "../../src/relay/publisher.ts";
import { type RelayLinkSettings, relayLinkSettings } from "../../src/relay/settings.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { bigAnswer } from "../support/a2a-agents.ts";
import { chunkText, roomOf, textChunk } from "../support/events.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { capturingLogger, seededRandom, waitUntil } from "./scripted-server.ts";

type Send = PublisherOptions["send"];

const chunk = (turn: string, n: number): PublishedEvent =>
  textChunk(turn, `t${n}`, { task_id: "t" });
const submitted = (turn: string): PublishedEvent => ({
  type: "task_submitted",
  agent_message_id: turn,
  data: { task_id: `task-${turn}`, agent_name: "echo" },
});
const done = (turn: string): PublishedEvent => ({
  type: "processing_status",
  agent_message_id: turn,
  data: { status: "completed", user_message_id: null, task_id: `task-${turn}` },
});

let publisher: Publisher | null = null;
afterEach(async () => {
  vi.useRealTimers();
  await publisher?.close();
  publisher = null;
});

function make(
  send: Send,
  settings: Partial<RelayLinkSettings> = {},
  extra: Partial<PublisherOptions> = {},
) {
  const logs = capturingLogger();
  const authErrors: RelayAuthError[] = [];
  let reregisters = 0;
  publisher = new Publisher({
    send,
    reregister: async () => {
      reregisters += 1;
    },
    onAuthError: (error) => authErrors.push(error),
    settings: relayLinkSettings({
      publishCoalesceMs: 5,
      publishRetryBaseDelayMs: 2,
      publishRetryMaxDelayMs: 10,
      ...settings,
    }),
    logger: logs.logger,
    random: seededRandom(1),
    ...extra,
  });
  return { publisher, logs, authErrors, reregisters: () => reregisters };
}

const transient = () =>
  new RelayError("transient", "publish", "relay answered publish with 503; retrying", {
    status: 503,
  });

describe("Publisher", () => {
  it("keeps per-room order under concurrent rooms and injected failures, never two POSTs per room at once", async () => {
    const random = seededRandom(99);
    const delivered = new Map<string, string[]>();
    const inFlight = new Set<string>();
    let overlap = false;
    const send: Send = async (roomId, events) => {
      if (inFlight.has(roomId)) overlap = true;
      inFlight.add(roomId);
      try {
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 4)));
        if (random() < 0.3) throw transient();
        const list = delivered.get(roomId) ?? [];
        for (const event of events) list.push(chunkText(event));
        delivered.set(roomId, list);
      } finally {
        inFlight.delete(roomId);
      }
    };
    const { publisher: p } = make(send);
    const rooms = ["r0", "r1", "r2", "r3", "r4"];
    const expected = new Map<string, string[]>(rooms.map((room) => [room, []]));
    const counters = new Map<string, number>(rooms.map((room) => [room, 0]));
    for (let round = 0; round < 60; round += 1) {
      const room = rooms[Math.floor(random() * rooms.length)]!;
      const size = 1 + Math.floor(random() * 6);
      const events: PublishedEvent[] = [];
      for (let i = 0; i < size; i += 1) {
        const n = counters.get(room)!;
        counters.set(room, n + 1);
        events.push(chunk(room, n));
        expected.get(room)!.push(`t${n}`);
      }
      p.publish(room, events);
      if (round % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(await p.flush(10_000)).toBe(true);
    expect(overlap).toBe(false);
    for (const room of rooms) expect(delivered.get(room) ?? []).toEqual(expected.get(room));
    const stats = p.stats();
    expect(stats.retries).toBeGreaterThan(0);
    expect(stats.dropped).toBe(0);
    expect(stats.queued).toBe(0);
    expect(stats.eventsSent).toBe([...counters.values()].reduce((a, b) => a + b, 0));
  });

  it("gives each event one response_seq (and a task_id if it had none), kept across retries", async () => {
    const attempts: string[][] = [];
    const send: Send = async (_roomId, events) => {
      attempts.push(events.map((event) => `${event.data.task_id}:${event.data.response_seq}`));
      if (attempts.length < 3) throw transient();
    };
    const { publisher: p } = make(send);
    const original = submitted("m1");
    const noTaskId = { ...done("m1"), data: { status: "completed", user_message_id: null } };
    p.publish("room", [original, noTaskId as PublishedEvent, done("m1")]);
    expect(await p.flush(5000)).toBe(true);
    expect(attempts).toHaveLength(3);
    expect(attempts[0]).toHaveLength(3);
    expect(new Set(attempts[0]).size).toBe(3);
    expect(attempts[1]).toEqual(attempts[0]);
    expect(attempts[2]).toEqual(attempts[0]);
    expect(attempts[0]![0]).toMatch(/^task-m1:\d+$/);
    // an event made without a task id gets its agent message id (which a retry cannot change)
    expect(attempts[0]![1]).toMatch(/^m1:\d+$/);
    expect(original.data).not.toHaveProperty("response_seq"); // the caller's object is not changed
  });

  it("a 422 naming one event loses only that event: the others go out in order; logged once", async () => {
    const delivered: string[] = [];
    let posts = 0;
    // As a relay refuses a whole POST for one event it cannot read (FastAPI's loc, or a field).
    const send: Send = async (_roomId, events) => {
      posts += 1;
      const bad = events.findIndex((event) => event.data.task_id === "poison");
      if (bad >= 0) {
        const detail =
          posts % 2 === 0
            ? { error: "validation_error", message: "bad", field: `events.${bad}.type` }
            : {
                error: "validation_error",
                message: JSON.stringify([{ loc: ["body", "events", bad, "type"], msg: "x" }]),
              };
        throw new RelayError("permanent", "publish", "relay refused publish with 422", {
          status: 422,
          code: "validation_error",
          detail,
        });
      }
      delivered.push(
        ...events.map((event) => (event.type === "artifact_update" ? chunkText(event) : "false")),
      );
    };
    const { publisher: p, logs } = make(send, { publishCoalesceMs: 600_000 });
    const poison = (n: number): PublishedEvent =>
      ({
        ...chunk("m", n),
        data: { ...chunk("m", n).data, task_id: "poison" },
      }) as PublishedEvent;
    p.publish("room", [
      chunk("m", 0),
      chunk("m", 1),
      poison(2),
      chunk("m", 3),
      poison(4),
      poison(5),
    ]);
    p.publish("room", [chunk("m", 6), done("m")]);
    expect(await p.flush(5000)).toBe(true);
    expect(delivered).toEqual(["t0", "t1", "t3", "t6", "false"]);
    expect(p.stats()).toMatchObject({ dropped: 3, queued: 0 });
    const errors = logs.lines().filter((line) => line.level === 50);
    expect(errors).toHaveLength(1);
    expect(String(errors[0]?.msg)).toContain("422");
  });

  it("a burst of 1,000 chunks goes out in a few full batches, in order", async () => {
    const posts: number[] = [];
    const texts: string[] = [];
    const send: Send = async (_roomId, events) => {
      posts.push(events.length);
      for (const event of events)
        if (event.type === "artifact_update") texts.push(chunkText(event));
      await new Promise((resolve) => setTimeout(resolve, 1));
    };
    const { publisher: p } = make(send, { publishCoalesceMs: 25 });
    p.publish("room", [submitted("m1")]);
    for (let i = 0; i < 1000; i += 1) {
      p.publish("room", [chunk("m1", i)]);
      if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    p.publish("room", [done("m1")]);
    expect(await p.flush(10_000)).toBe(true);
    expect(posts.reduce((a, b) => a + b, 0)).toBe(1002);
    expect(posts.length).toBeLessThanOrEqual(50);
    expect(texts).toEqual(Array.from({ length: 1000 }, (_, i) => `t${i}`));
  });

  it("a 1,000-chunk stream at one chunk per ms makes at most ~50 POSTs (fake clock)", async () => {
    vi.useFakeTimers();
    const posts: number[] = [];
    const send: Send = async (_roomId, events) => {
      posts.push(events.length);
      await new Promise((resolve) => setTimeout(resolve, 2)); // the relay's round trip
    };
    const { publisher: p } = make(send, { publishCoalesceMs: 25 });
    p.publish("room", [submitted("m1")]);
    for (let i = 0; i < 1000; i += 1) {
      p.publish("room", [chunk("m1", i)]);
      await vi.advanceTimersByTimeAsync(1);
    }
    p.publish("room", [done("m1")]);
    await vi.advanceTimersByTimeAsync(100);
    expect(p.depth()).toBe(0);
    expect(posts.reduce((a, b) => a + b, 0)).toBe(1002);
    expect(posts.length).toBeLessThanOrEqual(50);
    expect(posts.length).toBeGreaterThan(30); // one per window: the window is what bounds it
  });

  it("respects publishMaxBatchEvents", async () => {
    const sizes: number[] = [];
    const { publisher: p } = make(
      async (_roomId, events) => {
        sizes.push(events.length);
      },
      { publishMaxBatchEvents: 10 },
    );
    p.publish(
      "room",
      Array.from({ length: 35 }, (_, i) => chunk("m", i)),
    );
    expect(await p.flush(5000)).toBe(true);
    expect(sizes).toEqual([10, 10, 10, 5]);
  });

  it("sends non-chunk events at once, taking the waiting chunks with them", async () => {
    const posts: string[][] = [];
    const { publisher: p } = make(
      async (_roomId, events) => {
        posts.push(events.map((event) => event.type));
      },
      { publishCoalesceMs: 600_000 },
    );
    p.publish("room", [submitted("m1")]);
    await waitUntil(
      () => posts.length === 1,
      5000,
      "task_submitted without waiting for the window",
    );
    p.publish("room", [chunk("m1", 0)]);
    p.publish("room", [chunk("m1", 1)]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(posts).toHaveLength(1); // chunks wait for the (long) window
    p.publish("room", [done("m1")]);
    await waitUntil(() => posts.length === 2, 5000, "terminal group");
    expect(posts[1]).toEqual(["artifact_update", "artifact_update", "processing_status"]);
  });

  it("a progress task_status waits for the window like a chunk; a final one goes at once (fake clock)", async () => {
    vi.useFakeTimers();
    const posts: string[][] = [];
    const { publisher: p } = make(
      async (_roomId, events) => {
        posts.push(
          events.map((event) => `${event.type}:${"final" in event.data ? event.data.final : ""}`),
        );
      },
      { publishCoalesceMs: 1_000 },
    );
    const status = (final: boolean): PublishedEvent => ({
      type: "task_status",
      agent_message_id: "m1",
      data: { state: final ? "failed" : "working", status_text: "", final, task_id: "t" },
    });
    p.publish("room", [status(false)]);
    await vi.advanceTimersByTimeAsync(999);
    expect(posts).toEqual([]); // coalescing, not urgent
    p.publish("room", [status(true)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(posts).toEqual([["task_status:false", "task_status:true"]]);
  });

  it("flush sends chunks without waiting for the window", async () => {
    let sent = 0;
    const { publisher: p } = make(
      async (_roomId, events) => {
        sent += events.length;
      },
      { publishCoalesceMs: 600_000 },
    );
    p.publish("room", [chunk("m", 0), chunk("m", 1)]);
    expect(await p.flush(5000)).toBe(true);
    expect(sent).toBe(2);
  });

  it("a 404 re-registers, then retries the same batch", async () => {
    const calls: number[] = [];
    const send: Send = async (_roomId, events) => {
      calls.push(events.length);
      if (calls.length === 1)
        throw new RelayError("not_registered", "publish", "relay does not know this hub", {
          status: 404,
        });
    };
    const h = make(send);
    h.publisher.publish("room", [submitted("m1"), done("m1")]);
    expect(await h.publisher.flush(5000)).toBe(true);
    expect(h.reregisters()).toBe(1);
    expect(calls).toEqual([2, 2]);
  });

  it("a permanent 4xx drops the batch with one error line naming room and types", async () => {
    const seen: string[] = [];
    const send: Send = async (roomId) => {
      seen.push(roomId);
      if (roomId === "bad") {
        throw new RelayError(
          "permanent",
          "publish",
          "relay refused publish with 422: validation_error",
          { status: 422 },
        );
      }
    };
    const h = make(send);
    h.publisher.publish("bad", [submitted("m1"), done("m1")]);
    h.publisher.publish("good", [submitted("m2")]);
    expect(await h.publisher.flush(5000)).toBe(true);
    expect(h.publisher.stats()).toMatchObject({ dropped: 2, retries: 0, eventsSent: 1 });
    const errors = h.logs.lines().filter((line) => line.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      roomId: "bad",
      status: 422,
      types: ["task_submitted", "processing_status"],
    });
    expect(String(errors[0]?.msg)).toContain("room bad");
  });

  it("413 splits the batch instead of dropping it", async () => {
    const sizes: number[] = [];
    const send: Send = async (_roomId, events) => {
      sizes.push(events.length);
      if (events.length > 3)
        throw new RelayError("permanent", "publish", "too large", { status: 413 });
    };
    const h = make(send);
    h.publisher.publish(
      "room",
      Array.from({ length: 8 }, (_, i) => chunk("m", i)),
    );
    expect(await h.publisher.flush(5000)).toBe(true);
    expect(sizes).toEqual([8, 4, 2, 2, 2, 2]);
    expect(h.publisher.stats().dropped).toBe(0);
  });

  it("401/403 stop publishing, keep the events and report the auth error once", async () => {
    let calls = 0;
    const auth = new RelayAuthError(
      "publish",
      "the API key from --api-key has expired",
      "--api-key",
      null,
      { status: 401 },
    );
    const h = make(async () => {
      calls += 1;
      throw auth;
    });
    h.publisher.publish("a", [submitted("m1")]);
    h.publisher.publish("b", [submitted("m2")]);
    await waitUntil(() => h.authErrors.length === 1, 5000, "auth error");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.authErrors).toEqual([auth]);
    expect(h.publisher.depth()).toBe(2);
    expect(h.publisher.stoppedBy()).toBe(auth);
    expect(await h.publisher.flush(1000)).toBe(false);
    h.publisher.publish("a", [done("m1")]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toBeLessThanOrEqual(2);
    expect(h.publisher.depth()).toBe(3);
  });

  it("the coalesce window and the retry wait run on the injected clock", async () => {
    const clock = new ManualClock();
    const posts: string[][] = [];
    let calls = 0;
    const { publisher: p } = make(
      async (_roomId, events) => {
        calls += 1;
        if (calls === 1) {
          throw new RelayError("retry_after", "publish", "429", {
            status: 429,
            retryAfterMs: 60_000,
          });
        }
        posts.push(events.map((event) => event.type));
      },
      { publishCoalesceMs: 60_000 },
      { clock },
    );
    p.publish("room", [chunk("m1", 1)]);
    await clock.advance(59_999);
    expect(calls).toBe(0); // the window is the clock's, not real time
    await clock.advance(1);
    await waitUntil(() => calls === 1, 5000, "the first POST");
    await clock.advance(59_999);
    expect(calls).toBe(1); // Retry-After on the clock
    await clock.advance(1);
    await waitUntil(() => posts.length === 1, 5000, "the retry");
    expect(posts).toEqual([["artifact_update"]]);
    expect(await p.flush(0)).toBe(true);
  });

  it("waits Retry-After before retrying (fake clock)", async () => {
    vi.useFakeTimers();
    let calls = 0;
    const h = make(async () => {
      calls += 1;
      if (calls === 1) {
        throw new RelayError("retry_after", "publish", "429", { status: 429, retryAfterMs: 5000 });
      }
    });
    h.publisher.publish("room", [submitted("m1")]);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(4900);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(calls).toBe(2);
    expect(h.publisher.depth()).toBe(0);
  });

  it("while the relay fails, all rooms wait and one POST at a time probes it; a success lets all go (fake clock)", async () => {
    vi.useFakeTimers();
    let relayUp = false;
    const posts: string[] = [];
    let concurrent = 0;
    let mostConcurrent = 0;
    const delivered = new Set<string>();
    const h = make(
      async (roomId) => {
        posts.push(roomId);
        concurrent += 1;
        mostConcurrent = Math.max(mostConcurrent, concurrent);
        await new Promise((resolve) => setTimeout(resolve, 5));
        concurrent -= 1;
        if (!relayUp) throw transient();
        delivered.add(roomId);
      },
      { publishRetryBaseDelayMs: 500, publishRetryMaxDelayMs: 30_000 },
    );
    const rooms = Array.from({ length: 200 }, (_, i) => `room-${i}`);
    for (const room of rooms) h.publisher.publish(room, [submitted(room)]);
    await vi.advanceTimersByTimeAsync(100);
    const burst = posts.length; // what went out before the first 503 came back
    expect(burst).toBeLessThanOrEqual(rooms.length);
    await vi.advanceTimersByTimeAsync(120_000);
    // Two minutes of outage: a probe per backoff period (0.5 s doubling to 30 s), not a POST
    // per room per period.
    const probes = posts.length - burst;
    expect(probes).toBeGreaterThan(0);
    expect(probes).toBeLessThan(20);
    // Said once when the outage began, then every tenth probe: not once per room.
    const warned = h.logs.lines().filter((line) => line.level === 40);
    expect(warned.length).toBeLessThanOrEqual(2);
    expect(String(warned[0]?.msg)).toContain("every room waits for the relay");
    relayUp = true;
    await vi.advanceTimersByTimeAsync(35_000);
    expect(delivered.size).toBe(rooms.length);
    expect(h.publisher.depth()).toBe(0);
    expect(h.logs.text()).toContain("publishing to the relay works again");
  });

  it("never throws on bad input and bounds its memory", async () => {
    const h = make(async () => undefined, {
      publishMaxQueuedEvents: 3,
      publishCoalesceMs: 600_000,
    });
    expect(() => h.publisher.publish("", [submitted("x")])).not.toThrow();
    expect(() => h.publisher.publish("room", null as unknown as PublishedEvent[])).not.toThrow();
    h.publisher.publish("room", [chunk("m", 0), chunk("m", 1)]);
    h.publisher.publish("room", [chunk("m", 2), chunk("m", 3)]);
    expect(h.publisher.stats()).toMatchObject({ dropped: 2, queued: 2 });
    expect(h.logs.text()).toContain("publish queue is full");
  });

  it("resumes what a (durable) queue already holds, once told to (built idle)", async () => {
    const queue = new InMemoryPublishQueue();
    const old = submitted("old");
    queue.append("room", [{ ...old, data: { ...old.data, response_seq: 7 } } as PublishedEvent]);
    const ids: string[] = [];
    const h = make(
      async (_roomId, events) => {
        ids.push(...events.map((event) => `${event.data.task_id}:${event.data.response_seq}`));
      },
      {},
      { queue },
    );
    // Built idle: it sends what the queue holds once its owner resumes it, not before.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ids).toEqual([]);
    h.publisher.resume();
    expect(await h.publisher.flush(5000)).toBe(true);
    expect(ids).toEqual(["task-old:7"]);
  });

  it("close aborts in-flight POSTs and keeps their events", async () => {
    let aborted = false;
    const h = make(
      (_roomId, _events, signal) =>
        new Promise<void>((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            aborted = true;
            reject(signal.reason);
          });
        }),
    );
    h.publisher.publish("room", [submitted("m1")]);
    await waitUntil(() => h.publisher.stats().posts === 1, 5000, "a POST in flight");
    await h.publisher.close();
    expect(aborted).toBe(true);
    expect(h.publisher.depth()).toBe(1);
    expect(await h.publisher.flush(10)).toBe(false);
  });
});

describe("InMemoryPublishQueue", () => {
  it("hands out one batch per room and puts a released batch back at the head", () => {
    const queue = new InMemoryPublishQueue();
    queue.append("a", [chunk("m", 0), chunk("m", 1), chunk("m", 2)]);
    queue.append("b", [chunk("n", 0)]);
    const first = queue.take("a", 2)!;
    expect(first.events.map((e) => chunkText(e))).toEqual(["t0", "t1"]);
    expect(queue.take("a", 2)).toBeNull(); // one batch out per room
    expect(queue.take("b", 5)?.events).toHaveLength(1);
    queue.append("a", [chunk("m", 3)]);
    queue.release(first);
    expect(queue.roomDepth("a")).toBe(4);
    const again = queue.take("a", 10)!;
    expect(again.events.map((e) => chunkText(e))).toEqual(["t0", "t1", "t2", "t3"]);
    queue.ack(again);
    expect(queue.roomDepth("a")).toBe(0);
    expect(queue.depth()).toBe(1);
    expect(queue.rooms()).toEqual(["b"]);
  });
});

describe("Publisher: answers of any size", () => {
  const big = (turn: string, text: string): PublishedEvent =>
    textChunk(turn, text, { append: false, last_chunk: true, task_id: `task-${turn}` });
  const response = (turn: string): PublishedEvent => ({
    type: "agent_response",
    agent_message_id: turn,
    data: {
      content: "",
      agent_id: "a",
      artifacts: [{ artifactId: `${turn}-stream`, parts: [] }],
      append: true,
      task_id: `task-${turn}`,
    },
  });

  /** A relay that refuses bodies over `limit` bytes, as hybro.ai's proxy or ours would. */
  function relayWithLimit(limit: number, refusal: "413" | "413+max" | "cut" = "413+max") {
    const bodies: number[] = [];
    const received: PublishedEvent[] = [];
    const send: Send = async (roomId, events) => {
      const bytes = Buffer.byteLength(JSON.stringify({ room_id: roomId, events }));
      if (bytes > limit) {
        if (refusal === "cut") {
          throw new RelayError("transient", "publish", "socket closed", { code: "ReadError" });
        }
        throw new RelayError("permanent", "publish", "too large", {
          status: 413,
          code: "payload_too_large",
          detail:
            refusal === "413+max"
              ? { error: "payload_too_large", message: "too large", max_bytes: limit }
              : null,
        });
      }
      bodies.push(bytes);
      received.push(...events);
    };
    return { send, bodies, received };
  }

  const TEN_MIB = 10 * 1024 * 1024;
  const answer = bigAnswer(TEN_MIB);

  it("a 10 MiB chunk arrives whole, in bodies under the limit, each piece its own response_seq", async () => {
    const relay = relayWithLimit(1024 * 1024);
    const h = make(relay.send);
    h.publisher.publish("room", [submitted("m"), big("m", answer), response("m"), done("m")]);
    expect(await h.publisher.flush(30_000)).toBe(true);
    expect(Math.max(...relay.bodies)).toBeLessThanOrEqual(1024 * 1024);
    expect(roomOf(relay.received)).toMatchObject({ state: "completed", text: answer });
    const seqs = relay.received.map((e) => e.data.response_seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    // About one body per MiB, not one per event.
    expect(h.publisher.stats().posts).toBeLessThanOrEqual(14);
    expect(h.publisher.stats().dropped).toBe(0);
  });

  it("tells the observer what each event became, exactly as the relay receives it (stamped, split)", async () => {
    const relay = relayWithLimit(1024 * 1024);
    const h = make(relay.send);
    const seen: Array<readonly PublishedEvent[]> = [];
    const events = [submitted("m"), big("m", answer.slice(0, 3 * 1024 * 1024)), done("m")];
    h.publisher.publish("room", events, (queued) => seen.push(...queued));
    expect(seen.map((pieces) => pieces.length)).toEqual([1, 4, 1]);
    expect(await h.publisher.flush(30_000)).toBe(true);
    expect(seen.flat().map((e) => JSON.stringify(e))).toEqual(
      relay.received.map((e) => JSON.stringify(e)),
    );
    // Not told about events that are not queued.
    await h.publisher.close();
    h.publisher.publish("room", [done("n")], () => seen.push([]));
    expect(seen).toHaveLength(3);
  });

  it.each(["413+max", "413"] as const)(
    "a refusal (%s) lowers the limit; the refused event goes in pieces before what follows it",
    async (refusal) => {
      const relay = relayWithLimit(300_000, refusal);
      const h = make(relay.send, { publishMaxBodyBytes: 4 * 1024 * 1024 });
      const text = answer.slice(0, 2 * 1024 * 1024);
      h.publisher.publish("room", [big("m", text)]);
      h.publisher.publish("room", [response("m"), done("m")]);
      expect(await h.publisher.flush(30_000)).toBe(true);
      expect(relay.received.slice(-2).map((e) => e.type)).toEqual([
        "agent_response",
        "processing_status",
      ]);
      expect(roomOf(relay.received).text).toBe(text);
      expect(h.publisher.maxEventBytes()).toBeLessThan(300_000);
      expect(h.publisher.stats().dropped).toBe(0);
      const warnings = h.logs.lines().filter((line) => line.level === 40);
      expect(String(warnings[0]?.msg)).toMatch(/too large; publishing at most \d+ bytes/);
    },
  );

  it("a relay that cuts large bodies (no 413) gets smaller ones at once, not after a backoff", async () => {
    const relay = relayWithLimit(400_000, "cut");
    // A backoff would wait ten minutes: the flush below would time out.
    const h = make(relay.send, {
      publishMaxBodyBytes: 4 * 1024 * 1024,
      publishRetryBaseDelayMs: 600_000,
      publishRetryMaxDelayMs: 600_000,
    });
    const text = answer.slice(0, 3 * 1024 * 1024);
    h.publisher.publish("room", [big("m", text), response("m"), done("m")]);
    expect(await h.publisher.flush(30_000)).toBe(true);
    expect(roomOf(relay.received).text).toBe(text);
  });

  it("a part larger than any body the relay takes fails the turn, saying so", async () => {
    const relay = relayWithLimit(20_000);
    const h = make(relay.send, { publishMaxBodyBytes: 4 * 1024 * 1024 });
    const file: PublishedEvent = {
      type: "artifact_update",
      agent_message_id: "m",
      data: {
        artifacts: [
          {
            artifactId: "f",
            parts: [{ kind: "file", file: { name: "big.bin", bytes: "A".repeat(60_000) } }],
          },
        ],
        append: false,
        last_chunk: true,
        task_id: "task-m",
      },
    };
    h.publisher.publish("room", [submitted("m"), file, response("m"), done("m")]);
    expect(await h.publisher.flush(30_000)).toBe(true);
    expect(relay.received.map((e) => e.type)).toEqual([
      "task_submitted",
      "agent_error",
      "processing_status",
    ]);
    expect(relay.received[1]?.data).toMatchObject({
      error_type: "AnswerTooLarge",
      state: "failed",
      error: expect.stringMatching(/too large even alone/),
    });
    expect(relay.received[2]?.data).toMatchObject({ status: "failed" });
  });

  it("backpressure: a promise while a room holds more than the high-water mark, settled once it drains", async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const relay = relayWithLimit(1024 * 1024);
    const h = make(
      async (roomId, events, signal) => {
        await gate;
        await relay.send(roomId, events, signal);
      },
      { publishRoomHighWaterBytes: 100_000 },
    );
    expect(h.publisher.backpressure("room")).toBeNull();
    h.publisher.publish("room", [big("m", "x".repeat(300_000))]);
    const waiting = h.publisher.backpressure("room");
    expect(waiting).toBeInstanceOf(Promise);
    expect(h.publisher.backpressure("other room")).toBeNull();
    let settled = false;
    void waiting?.then(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    open();
    await waiting;
    expect(h.publisher.backpressure("room")).toBeNull();
  });
});

describe("Publisher intake backpressure (issue 15, finding 5: a flood was read from the command stream whatever the relay had yet to take)", () => {
  const rooms = ["a", "b", "c", "d"];

  it("holds the command stream while more events are unsent than the high-water mark and the relay takes them", async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const h = make(
      async () => {
        await gate;
      },
      { publishIntakeHighWaterEvents: 6 },
    );
    expect(h.publisher.intakeBackpressure()).toBeNull();
    for (const room of rooms) h.publisher.publish(room, [submitted(room), done(room)]);
    const waiting = h.publisher.intakeBackpressure();
    expect(waiting).toBeInstanceOf(Promise);
    let settled = false;
    void waiting?.then(() => {
      settled = true;
    });
    await waitUntil(() => h.publisher.stats().posts === rooms.length, 5_000, "the POSTs to go out");
    expect(settled).toBe(false); // every room's POST is out, none answered yet
    open();
    await waiting;
    expect(h.publisher.depth()).toBeLessThanOrEqual(3);
    expect(h.publisher.intakeBackpressure()).toBeNull();
  });

  it("does not hold it while the relay fails (the outbox takes the backlog), and lets a held stream go when it starts failing", async () => {
    let fail!: () => void;
    const failing = new Promise<void>((_resolve, reject) => {
      fail = () => reject(transient());
    });
    failing.catch(() => {});
    const h = make(
      async () => {
        await failing;
      },
      {
        publishIntakeHighWaterEvents: 6,
        publishRetryBaseDelayMs: 60_000,
        publishRetryMaxDelayMs: 60_000,
      },
    );
    for (const room of rooms) h.publisher.publish(room, [submitted(room), done(room)]);
    const waiting = h.publisher.intakeBackpressure();
    expect(waiting).toBeInstanceOf(Promise);
    fail();
    await waiting;
    expect(h.publisher.depth()).toBe(8);
    expect(h.publisher.intakeBackpressure()).toBeNull();
  });
});

describe("Publisher retry backoff", () => {
  it("grows per failure and starts over once a POST gets through (per room and relay-wide)", async () => {
    const failOn = new Set([1, 2, 4]); // POSTs 1, 2 and 4 fail; 3 and 5 get through
    let posts = 0;
    const delivered: string[] = [];
    const { publisher: p, logs } = make(
      async (_roomId, events) => {
        posts += 1;
        if (failOn.has(posts)) throw transient();
        for (const event of events) delivered.push(event.type);
      },
      { publishRetryBaseDelayMs: 10, publishRetryMaxDelayMs: 40 },
      { random: () => 0.999 },
    );
    p.publish("room-1", [submitted("a")]);
    await waitUntil(() => delivered.length === 1, 5000, "the first event after two failures");
    p.publish("room-1", [done("a")]);
    await waitUntil(() => delivered.length === 2, 5000, "the second event after one failure");
    const waits = (pattern: RegExp) =>
      [...logs.text().matchAll(pattern)].map((match) => Number(match[1]));
    // Ceilings 10, 20, then 10 again (not 40): a success resets the backoff.
    expect(waits(/this room's next try in (\d+) ms/g)).toEqual([9, 19, 9]);
    expect(waits(/every room waits for the relay; next try in (\d+) ms/g)).toEqual([9, 19, 9]);
  });
});
