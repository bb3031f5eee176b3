// The hub-wide response_seq (pure, fake clock and store): never repeats within a run, across
// runs that keep their high-water mark, nor across runs that lost it (the clock floor).
import { describe, expect, it } from "vitest";
import {
  RESERVE_BLOCK,
  type ResponseSeqStore,
  ResponseSequence,
  stampEvent,
} from "../../src/outbox/response-seq.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";

function memoryStore(): ResponseSeqStore & { saved: number[] } {
  const saved: number[] = [];
  return {
    saved,
    load: () => saved.at(-1) ?? null,
    save: (highWater) => {
      saved.push(highWater);
    },
  };
}

const take = (sequence: ResponseSequence, n: number) =>
  Array.from({ length: n }, () => sequence.next());

describe("ResponseSequence", () => {
  it("counts up from the clock floor and reserves blocks in the store", () => {
    const store = memoryStore();
    const sequence = new ResponseSequence({ store, now: () => 1_000 });
    expect(take(sequence, 3)).toEqual([1_000_000, 1_000_001, 1_000_002]);
    expect(store.saved).toEqual([1_000_000 + RESERVE_BLOCK]);
    take(sequence, RESERVE_BLOCK);
    expect(store.saved).toEqual([1_000_000 + RESERVE_BLOCK, 1_000_000 + 2 * RESERVE_BLOCK]);
  });

  it("a restart with the same store starts above everything handed out, even if the clock went back", () => {
    const store = memoryStore();
    const first = new ResponseSequence({ store, now: () => 5_000 });
    const before = take(first, RESERVE_BLOCK + 10);
    const second = new ResponseSequence({ store, now: () => 4_000 });
    const after = take(second, 10);
    expect(Math.min(...after)).toBeGreaterThan(Math.max(...before));
  });

  it("a restart that lost its store (memory fallback, deleted outbox) starts above by the clock", () => {
    const first = new ResponseSequence({ now: () => 5_000 });
    const before = take(first, 500);
    const second = new ResponseSequence({ now: () => 5_001 });
    expect(second.next()).toBeGreaterThan(Math.max(...before));
  });

  it("a store that fails is ignored (the clock floor remains)", () => {
    const broken: ResponseSeqStore = {
      load: () => {
        throw new Error("disk gone");
      },
      save: () => {
        throw new Error("disk gone");
      },
    };
    const sequence = new ResponseSequence({ store: broken, now: () => 7 });
    expect(take(sequence, 2)).toEqual([7_000, 7_001]);
  });
});

describe("stampEvent", () => {
  const event: PublishedEvent = {
    type: "processing_status",
    agent_message_id: "amsg",
    data: { status: "completed", user_message_id: null, task_id: "t" },
  };

  it("adds response_seq once and keeps a stamped event as it is", () => {
    const sequence = new ResponseSequence({ now: () => 1 });
    const stamped = stampEvent(event, sequence);
    expect(stamped.data).toEqual({ ...event.data, response_seq: 1_000 });
    expect(event.data).not.toHaveProperty("response_seq");
    expect(stampEvent(stamped, sequence)).toBe(stamped);
  });

  it("gives an event made without a task id its agent message id", () => {
    const bare = { ...event, data: { status: "completed", user_message_id: null } };
    const stamped = stampEvent(bare as PublishedEvent, new ResponseSequence({ now: () => 1 }));
    expect(stamped.data.task_id).toBe("amsg");
  });
});
