// The durable accepted-turn ledger and the command stream's last event id, across restarts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RestartRecovery } from "../../src/hub/recovery.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { type Outbox, openOutbox } from "../../src/outbox/outbox.ts";
import type { OutboxSettings } from "../../src/outbox/settings.ts";
import { chunk, finished, submitted, until } from "./support.ts";

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

  // Issue 15, finding 5: a flood of 100,000 turns left 100,000 records on the heap (~35 MB),
  // although the database holds them all.
  it("keeps only the latest turns in memory while the database works; the others are found in it", () => {
    const box = open(tempDir(), { acceptedTurnsCachedMax: 3 });
    const ledger = box.acceptedTurns;
    for (let n = 0; n < 10; n++) ledger.accept(turn(`t${n}`, { hubTaskId: `hub-${n}` }));
    ledger.noteTaskId("t0", "task-0");
    expect(ledger.heldInMemory).toBe(3);
    expect(ledger.accept(turn("t0"))).toBe(false);
    expect(ledger.has("t1")).toBe(true);
    expect(ledger.find("t0")?.agentTaskId).toBe("task-0");
    expect(ledger.findByTaskId("task-0")?.agentMessageId).toBe("t0");
    expect(ledger.findByTaskId("hub-2")?.agentMessageId).toBe("t2");
    expect(ledger.findByTaskId("hub-9")?.agentMessageId).toBe("t9");
  });

  it("while the database is unusable, remembers every turn accepted meanwhile and writes them once it works", async () => {
    // The data folder is below a plain file: unusable until that file goes.
    const parent = tempDir();
    writeFileSync(join(parent, "in-the-way"), "");
    const dir = join(parent, "in-the-way", "data");
    const box = open(dir, { acceptedTurnsCachedMax: 2, reopenIntervalMs: 20 });
    const ledger = box.acceptedTurns;
    expect(box.durable).toBe(false);
    for (let n = 0; n < 6; n++) expect(ledger.accept(turn(`t${n}`))).toBe(true);
    ledger.noteTaskId("t1", "task-1");
    // Beyond the latest two: still recognised, from memory (the database has none of them).
    expect(ledger.accept(turn("t0"))).toBe(false);
    expect(ledger.findByTaskId("task-1")?.agentMessageId).toBe("t1");

    rmSync(join(parent, "in-the-way"));
    mkdirSync(dir, { recursive: true });
    await until(() => box.durable, "the outbox to use its database again");
    expect(ledger.heldInMemory).toBe(2);
    expect(ledger.accept(turn("t0"))).toBe(false);
    expect(ledger.find("t1")?.agentTaskId).toBe("task-1");
    box.close();
    const again = open(dir);
    expect(["t0", "t1", "t2", "t3", "t4", "t5"].every((id) => again.acceptedTurns.has(id))).toBe(
      true,
    );
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
