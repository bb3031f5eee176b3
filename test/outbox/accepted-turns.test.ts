// The durable accepted-turn ledger and the command stream's last event id, across restarts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RestartRecovery } from "../../src/hub/recovery.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { type Outbox, openOutbox } from "../../src/outbox/outbox.ts";
import type { OutboxSettings } from "../../src/outbox/settings.ts";
import { chunk, finished, submitted } from "./support.ts";

const dirs: string[] = [];
const opened: Outbox[] = [];
afterEach(() => {
  for (const box of opened.splice(0)) box.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hybro-ledger-"));
  dirs.push(dir);
  return dir;
}

function open(dir: string, settings: Partial<OutboxSettings> = {}): Outbox {
  const box = openOutbox({ dir, logger: silentLogger(), settings });
  opened.push(box);
  return box;
}

const turn = (id: string, extra: Record<string, unknown> = {}) => ({
  agentMessageId: id,
  roomId: `room-${id}`,
  localAgentId: "agent-1",
  userMessageId: `u-${id}`,
  ...extra,
});

describe("accepted turns, durable", () => {
  it("recognises a redelivered turn in the same run and after a restart", () => {
    const dir = tempDir();
    const first = open(dir);
    expect(first.acceptedTurns.accept(turn("a"))).toBe(true);
    expect(first.acceptedTurns.accept(turn("a"))).toBe(false);
    first.close();
    const second = open(dir);
    expect(second.acceptedTurns.has("a")).toBe(true);
    expect(second.acceptedTurns.accept(turn("a"))).toBe(false);
    expect(second.acceptedTurns.accept(turn("b"))).toBe(true);
  });

  it("finds, on the next start, exactly the turns whose terminal group never reached the outbox", async () => {
    const dir = tempDir();
    const first = open(dir);
    for (const id of ["done", "running", "queued", "reply"]) {
      first.acceptedTurns.accept(turn(id, id === "reply" ? { agentTaskId: "task-r" } : {}));
    }
    first.acceptedTurns.noteTaskId("running", "task-9");
    first.queue.append("room-done", [submitted("done"), chunk("done", 0)]);
    first.queue.append("room-running", [submitted("running"), chunk("running", 0)]);
    first.queue.append("room-done", [finished("done")]); // marks "done" in the same transaction
    // "done" is delivered and acknowledged: its rows go, its turn stays finished.
    const batch = first.queue.take("room-done", 10);
    first.queue.ack(batch as NonNullable<typeof batch>);
    first.close();

    const second = open(dir);
    expect(second.stats().unfinishedAtStart).toBe(3);
    const answered: string[] = [];
    // What the daemon does at start: the hub's recovery answers the turns the outbox hands out.
    const recovery = new RestartRecovery({
      logger: silentLogger(),
      roster: { get: () => undefined },
      // As the relay link does: the answers go into the same queue.
      sink: {
        publish: (room, events) => {
          answered.push(events[0]?.agent_message_id ?? "");
          second.queue.append(room, events);
        },
      },
    });
    await recovery.run(second.takeUnfinished());
    expect(answered.sort()).toEqual(["queued", "reply", "running"]);
    // Their failure groups are queued behind the events already in the outbox.
    const queued = second.queue.take("room-running", 10)?.events ?? [];
    expect(queued.map((e) => e.type)).toEqual([
      "task_submitted",
      "artifact_update",
      "agent_error",
      "processing_status",
    ]);
    expect(queued[2]?.data).toMatchObject({ error_type: "HubRestarted" });
    second.close();
    expect(open(dir).stats().unfinishedAtStart).toBe(0);
  });

  it("prunes finished turns past the retention time, never unfinished ones", async () => {
    const dir = tempDir();
    const first = open(dir, { acceptedTurnRetentionMs: 1 });
    first.acceptedTurns.accept(turn("finished"));
    first.acceptedTurns.accept(turn("open"));
    first.queue.append("room-finished", [finished("finished")]);
    first.close();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = open(dir, { acceptedTurnRetentionMs: 1 }); // prunes at open
    expect(second.acceptedTurns.has("finished")).toBe(false);
    expect(second.acceptedTurns.has("open")).toBe(true);
  });

  it("keeps the command stream's last event id between runs, for its relay and hub only", () => {
    const dir = tempDir();
    const first = open(dir);
    const scope = "http://relay.example abcdef";
    expect(first.eventIds.load(scope)).toBeNull();
    first.eventIds.save(scope, "run1-41");
    first.eventIds.save(scope, "run1-42");
    first.close();
    const second = open(dir);
    expect(second.eventIds.load(scope)).toBe("run1-42");
    expect(second.eventIds.load("http://other.example abcdef")).toBeNull();
    second.eventIds.save(scope, null);
    expect(second.eventIds.load(scope)).toBeNull();
  });

  it("in memory (no directory) still drops duplicates", () => {
    const box = openOutbox({ dir: null, logger: silentLogger() });
    opened.push(box);
    expect(box.durable).toBe(false);
    expect(box.acceptedTurns.accept(turn("a"))).toBe(true);
    expect(box.acceptedTurns.accept(turn("a"))).toBe(false);
    expect(box.eventIds.load("any")).toBeNull();
  });
});
