// The durable publish queue on real sqlite files in temp dirs: order across a restart, delete on
// acknowledge (and no content left on disk), the Publisher draining an earlier run's events,
// bounds and TTL dropping whole turns with one warning, and the memory fallback when the
// database is damaged, unwritable, or fails while running.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log/logger.ts";
import {
  OUTBOX_DB_FILE,
  type OutboxDatabase,
  openOutboxDatabase,
} from "../../src/outbox/database.ts";
import { DurablePublishQueue } from "../../src/outbox/durable-queue.ts";
import { openOutbox } from "../../src/outbox/outbox.ts";
import { DEFAULT_OUTBOX_SETTINGS, type OutboxSettings } from "../../src/outbox/settings.ts";
import { OutboxStore } from "../../src/outbox/store.ts";
import { RelayError } from "../../src/relay/errors.ts";
import { Publisher } from "../../src/relay/publisher.ts";
import { relayLinkSettings } from "../../src/relay/settings.ts";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { capturingLogger, chunk, finished, label, submitted, until } from "./support.ts";

const dirs: string[] = [];
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
  for (const dir of dirs.splice(0)) {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hybro-outbox-"));
  dirs.push(dir);
  return dir;
}

function outbox(
  dir: string | null,
  settings: Partial<OutboxSettings> = {},
  logger = silentLogger(),
) {
  const made = openOutbox({ dir, logger, settings });
  open.push(made);
  return made;
}

const ids = (events: readonly PublishedEvent[]) => events.map(label);
/** The relay's idempotency key parts of each event. */
const keys = (events: readonly PublishedEvent[]) =>
  events.map((event) => `${event.data.task_id}:${event.data.response_seq}`);

describe("durable publish queue", () => {
  it("keeps each room's order across a restart, a batch that was out included", () => {
    const dir = tempDir();
    const first = outbox(dir);
    first.queue.append("r1", [submitted("t1"), chunk("t1", 0)]);
    first.queue.append("r2", [submitted("t2")]);
    first.queue.append("r1", [chunk("t1", 1), finished("t1")]);
    const out = first.queue.take("r1", 2);
    expect(ids(out?.events ?? [])).toEqual(["t1-s", "t1-c0"]);
    first.close(); // the batch was never acknowledged

    const second = outbox(dir);
    expect(second.queue.depth()).toBe(5);
    expect(second.queue.rooms().sort()).toEqual(["r1", "r2"]);
    const again = second.queue.take("r1", 10);
    expect(ids(again?.events ?? [])).toEqual(["t1-s", "t1-c0", "t1-c1", "t1-p"]);
    expect(second.queue.take("r1", 10)).toBeNull(); // one batch per room at a time
    second.queue.ack(again as NonNullable<typeof again>);
    second.close();

    const third = outbox(dir);
    expect(third.queue.depth()).toBe(1);
    expect(ids(third.queue.take("r2", 10)?.events ?? [])).toEqual(["t2-s"]);
  });

  it("puts a released batch back at the head of its room, before later events", () => {
    const dir = tempDir();
    const box = outbox(dir);
    box.queue.append("r", [chunk("t", 0), chunk("t", 1)]);
    const batch = box.queue.take("r", 1);
    box.queue.append("r", [chunk("t", 2)]);
    box.queue.release(batch as NonNullable<typeof batch>);
    expect(ids(box.queue.take("r", 10)?.events ?? [])).toEqual(["t-c0", "t-c1", "t-c2"]);
  });

  it("leaves no message content on disk once the relay has acknowledged it", () => {
    const dir = tempDir();
    const box = outbox(dir);
    const secret = "the-secret-answer-4711";
    box.queue.append("r", [chunk("t", 0, secret), finished("t")]);
    const onDisk = () =>
      [OUTBOX_DB_FILE, `${OUTBOX_DB_FILE}-wal`]
        .map((name) => join(dir, name))
        .filter((file) => existsSync(file))
        .map((file) => readFileSync(file).toString("latin1"))
        .join("");
    expect(onDisk()).toContain(secret); // written before it may be sent
    const batch = box.queue.take("r", 10);
    box.queue.ack(batch as NonNullable<typeof batch>);
    box.close();
    expect(onDisk()).not.toContain(secret);
  });

  it("feeds a Publisher: events queued while the relay was down go out after a restart, in order, with the same keys", async () => {
    const dir = tempDir();
    const settings = relayLinkSettings({
      publishCoalesceMs: 1,
      publishRetryBaseDelayMs: 5,
      publishRetryMaxDelayMs: 20,
    });
    const down = outbox(dir);
    let attempts = 0;
    const failing = new Publisher({
      send: async () => {
        attempts++;
        throw new RelayError("transient", "publish", "relay down", { status: 503 });
      },
      reregister: async () => {},
      onAuthError: () => {},
      settings,
      logger: silentLogger(),
      queue: down.queue,
      sequence: down.responseSeq,
    });
    const published: PublishedEvent[] = [];
    for (const turn of ["a", "b"]) {
      const events = [submitted(turn), chunk(turn, 0), chunk(turn, 1), finished(turn)];
      for (const event of events) failing.publish("room", [event]);
    }
    await until(() => attempts >= 2, "a failed attempt");
    await failing.close();
    const stamped = down.queue.take("room", 100)?.events ?? [];
    expect(stamped).toHaveLength(8);
    expect(stamped.every((event) => Number.isSafeInteger(event.data.response_seq))).toBe(true);
    expect(new Set(keys(stamped)).size).toBe(8);
    down.close();

    const up = outbox(dir);
    const working = new Publisher({
      send: async (_room, events) => {
        published.push(...events);
      },
      reregister: async () => {},
      onAuthError: () => {},
      settings,
      logger: silentLogger(),
      queue: up.queue,
      sequence: up.responseSeq,
    });
    open.push(working);
    // Built idle (its owner starts it once the outbox is open): nothing sent until resume().
    expect(published).toHaveLength(0);
    working.resume();
    expect(await working.flush(5_000)).toBe(true);
    expect(ids(published)).toEqual(ids(stamped));
    expect(keys(published)).toEqual(keys(stamped));
    expect(up.queue.depth()).toBe(0);
    up.close();
    expect(outbox(dir).queue.depth()).toBe(0);
  });

  it("keeps the response_seq high-water mark in the file: a restart never repeats a number", () => {
    const dir = tempDir();
    const first = outbox(dir);
    const handed = Array.from({ length: 5 }, () => first.responseSeq.next());
    first.close();
    const db = openOutboxDatabase(dir);
    if (!db.ok) throw new Error(db.error);
    const mark = Number(db.db.getMeta("response_seq_high_water"));
    db.db.close();
    expect(mark).toBeGreaterThan(Math.max(...handed));
    const second = outbox(dir);
    expect(second.responseSeq.next()).toBeGreaterThanOrEqual(mark);
  });

  it("stamps, once and on disk, the events and turns an older version (schema 1) left", () => {
    const dir = tempDir();
    const raw = new DatabaseSync(join(dir, OUTBOX_DB_FILE));
    raw.exec(`
      CREATE TABLE outbox_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, room_id TEXT NOT NULL,
        agent_message_id TEXT NOT NULL, event_json TEXT NOT NULL, bytes INTEGER NOT NULL,
        created_at INTEGER NOT NULL);
      CREATE TABLE accepted_turns (agent_message_id TEXT PRIMARY KEY, room_id TEXT NOT NULL,
        local_agent_id TEXT NOT NULL, user_message_id TEXT, agent_task_id TEXT,
        terminal INTEGER NOT NULL DEFAULT 0, accepted_at INTEGER NOT NULL);
      CREATE TABLE outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      PRAGMA user_version = 1;`);
    const old = {
      type: "processing_status",
      agent_message_id: "old",
      event_id: "e1",
      data: { status: "completed", user_message_id: null },
    };
    const json = JSON.stringify(old);
    raw
      .prepare(
        "INSERT INTO outbox_events (room_id, agent_message_id, event_json, bytes, created_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run("r", "old", json, json.length, Date.now());
    raw
      .prepare(
        "INSERT INTO accepted_turns (agent_message_id, room_id, local_agent_id, agent_task_id, accepted_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run("old", "r", "a", "agent-task", Date.now());
    raw.close();

    const first = outbox(dir);
    const loaded = first.queue.take("r", 10)?.events[0];
    expect(loaded?.data).toMatchObject({ task_id: "old", response_seq: expect.any(Number) });
    expect(first.acceptedTurns.findByTaskId("agent-task")).toMatchObject({ agentMessageId: "old" });
    first.close();
    // The stamp was written back: the next run sends the very same key.
    const second = outbox(dir);
    expect(second.queue.take("r", 10)?.events[0]?.data).toEqual(loaded?.data);
  });

  it("drops whole oldest turns at the count bound, says so once, and counts every drop", () => {
    const { logger, at } = capturingLogger();
    const box = outbox(tempDir(), { maxEvents: 6 }, logger);
    box.queue.append("r", [submitted("old"), chunk("old", 0), chunk("old", 1)]);
    box.queue.append("r", [submitted("mid"), chunk("mid", 0)]);
    box.queue.append("r2", [submitted("new"), chunk("new", 0)]); // 7 > 6: "old" goes
    expect(box.queue.depth()).toBe(4);
    box.queue.append("r", [finished("old")]); // a dropped turn's tail is dropped too
    box.queue.append("r", [chunk("mid", 1), finished("mid")]);
    box.queue.append("r2", [finished("new")]); // 7 > 6 again: "mid" goes
    expect(box.queue.dropped()).toBe(3 + 1 + 4);
    expect(ids(box.queue.take("r2", 10)?.events ?? [])).toEqual(["new-s", "new-c0", "new-p"]);
    expect(box.queue.take("r", 10)).toBeNull();
    const warnings = at("warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/outbox is full .*dropped 3 unsent events of the 1 oldest turns/);
  });

  it("under sustained pressure at 100,000 events, each new turn drops the oldest whole turn, in age order", () => {
    const store = new OutboxStore(null, null, silentLogger());
    const settings = { ...DEFAULT_OUTBOX_SETTINGS, maxEvents: 100_000 };
    const queue = new DurablePublishQueue({ store, settings, logger: silentLogger() });
    const events = (turn: string) => [
      submitted(turn),
      chunk(turn, 0),
      chunk(turn, 1),
      finished(turn),
    ];
    for (let t = 0; t < 25_000; t++) queue.append(`room-${t % 100}`, events(`old-${t}`));
    expect(queue.depth()).toBe(100_000);
    // The oldest turn has a batch out: its in-flight events stay, the next oldest goes instead.
    const out = queue.take("room-0", 2) as NonNullable<ReturnType<typeof queue.take>>;
    expect(ids(out.events)).toEqual(["old-0-s", "old-0-c0"]);
    for (let t = 0; t < 2_000; t++) {
      queue.append(`room-${t % 100}`, events(`new-${t}`));
      expect(queue.depth()).toBeLessThanOrEqual(100_000);
    }
    // old-0 lost its two queued events (it was the oldest), then old-1 … old-2000 went whole,
    // one per new turn (the first new turn needed two: old-0's in-flight events still count).
    expect(queue.dropped()).toBe(2 + 2_000 * 4);
    expect(queue.depth()).toBe(99_998);
    // Room 0: the batch out goes back to the head; behind it what is left, in order.
    queue.release(out);
    const head = queue.take("room-0", 6);
    expect(ids(head?.events ?? [])).toEqual([
      "old-0-s",
      "old-0-c0",
      "old-2100-s",
      "old-2100-c0",
      "old-2100-c1",
      "old-2100-p",
    ]);
    // A dropped turn's later events are refused too (no tail without its head).
    queue.append("room-7", [chunk("old-7", 9)]);
    expect(queue.dropped()).toBe(2 + 2_000 * 4 + 1);
  });

  it("keeps dropping correctly while batches are taken, acknowledged and released", () => {
    const box = outbox(tempDir(), { maxEvents: 12 });
    const q = box.queue;
    q.append("a", [submitted("t1"), chunk("t1", 0)]);
    q.append("b", [submitted("t2"), chunk("t2", 0)]);
    q.append("a", [submitted("t3"), chunk("t3", 0)]);
    const batchA = q.take("a", 3) as NonNullable<ReturnType<typeof q.take>>; // t1-s t1-c0 t3-s
    q.ack(batchA);
    q.append("b", [finished("t2")]);
    q.append("a", [chunk("t3", 1), finished("t3")]);
    q.append("c", [submitted("t4"), chunk("t4", 0), chunk("t4", 1), finished("t4")]); // 10
    const batchB = q.take("b", 1) as NonNullable<ReturnType<typeof q.take>>; // t2-s out
    q.append("c", [submitted("t5"), chunk("t5", 0), chunk("t5", 1), finished("t5")]); // 14 > 12
    // t1 is gone (acknowledged); t2 is the oldest: its queued two go, t2-s is out and stays.
    expect(q.depth()).toBe(12);
    q.release(batchB);
    expect(ids(q.take("b", 10)?.events ?? [])).toEqual(["t2-s"]);
    expect(ids(q.take("a", 10)?.events ?? [])).toEqual(["t3-c0", "t3-c1", "t3-p"]);
    expect(ids(q.take("c", 10)?.events ?? [])).toEqual([
      "t4-s",
      "t4-c0",
      "t4-c1",
      "t4-p",
      "t5-s",
      "t5-c0",
      "t5-c1",
      "t5-p",
    ]);
    box.close();
    // On disk: exactly what was not acknowledged or dropped (the batches out were not acked).
    const again = outbox(box.file ? join(box.file, "..") : tempDir());
    expect(again.queue.depth()).toBe(12);
  });

  it("drops whole turns at the byte bound", () => {
    const box = outbox(tempDir(), { maxBytes: 1_000 });
    box.queue.append("r", [chunk("a", 0, "x".repeat(500))]);
    box.queue.append("r", [chunk("b", 0, "y".repeat(500))]);
    expect(ids(box.queue.take("r", 10)?.events ?? [])).toEqual(["b-c0"]);
    expect(box.queue.stats()).toMatchObject({ dropped: 1, depth: 1 });
  });

  it("drops turns whose events outlived the TTL, with their younger events", () => {
    const store = new OutboxStore(null, null, silentLogger());
    let now = 0;
    const settings = { ...DEFAULT_OUTBOX_SETTINGS, eventTtlMs: 500 };
    const { logger, at } = capturingLogger();
    const queue = new DurablePublishQueue({ store, settings, logger, now: () => now });
    queue.append("r", [submitted("stale")]);
    now = 400;
    queue.append("r", [submitted("fresh"), chunk("stale", 0)]);
    now = 600;
    expect(queue.sweepExpired()).toBe(2);
    expect(ids(queue.take("r", 10)?.events ?? [])).toEqual(["fresh-s"]);
    expect(at("warn")[0]).toMatch(/dropped 2 unsent events of 1 turns older than/);
  });

  it("reports a damaged database in one line and keeps serving from memory", () => {
    const dir = tempDir();
    const file = join(dir, OUTBOX_DB_FILE);
    const garbage = Buffer.from("this is not a sqlite database at all ".repeat(200));
    writeFileSync(file, garbage);
    const { logger, at } = capturingLogger();
    const box = outbox(dir, {}, logger);
    expect(box.durable).toBe(false);
    expect(box.stats().failure).toMatch(/not a database/);
    const errors = at("error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(file);
    expect(errors[0]).toMatch(/in memory only.*move it aside/);
    box.queue.append("r", [submitted("t"), finished("t")]);
    expect(ids(box.queue.take("r", 10)?.events ?? [])).toEqual(["t-s", "t-p"]);
    expect(
      box.acceptedTurns.accept({
        agentMessageId: "x",
        roomId: "r",
        localAgentId: "a",
        userMessageId: null,
      }),
    ).toBe(true);
    expect(box.acceptedTurns.accept("x")).toBe(false);
    expect(readFileSync(file).equals(garbage)).toBe(true); // left for the user to inspect
  });

  it.each([
    ["a read-only directory", readOnlyDirectory],
    ["a path below a regular file", pathBelowAFile],
  ])("reports %s in one line and keeps serving from memory", (_name, place) => {
    const dir = place();
    const { logger, at } = capturingLogger();
    const box = outbox(dir, {}, logger);
    expect(box.durable).toBe(false);
    const errors = at("error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(join(dir, OUTBOX_DB_FILE));
    expect(errors[0]).toMatch(/make it writable/);
    box.queue.append("r", [submitted("t")]);
    expect(box.queue.depth()).toBe(1);
  });

  // Issue 15, finding 14: the outbox stayed memory-only after the disk was usable again, until
  // a restart (which lost what memory held).
  it("leaves memory-only mode by itself once the folder is usable again, losing nothing", async () => {
    const dir = pathBelowAFile();
    const { logger, at } = capturingLogger();
    const box = outbox(dir, { reopenIntervalMs: 20 }, logger);
    expect(box.durable).toBe(false);
    const accept = (id: string) =>
      box.acceptedTurns.accept({
        agentMessageId: id,
        roomId: "r",
        localAgentId: "a",
        userMessageId: null,
      });
    accept("done");
    accept("running");
    box.queue.append("r", [submitted("done"), finished("done")]);
    box.queue.append("r", [submitted("running"), chunk("running", 0)]);
    box.queue.append("r2", [submitted("sent"), finished("sent")]);
    box.queue.ack(box.queue.take("r2", 10) as NonNullable<ReturnType<typeof box.queue.take>>);
    box.acceptedTurns.noteTaskId("running", "agent-task-7");

    // The folder becomes usable (the file in the way is gone): no restart.
    rmSync(join(dir, ".."));
    mkdirSync(dir, { recursive: true });
    await until(() => box.durable, "the outbox to use its database again");
    expect(box.stats().failure).toBeNull();
    expect(at("info").some((line) => /works again/.test(line))).toBe(true);
    box.queue.append("r", [chunk("running", 1)]); // written to disk at once now
    box.close();

    const again = outbox(dir);
    expect(again.durable).toBe(true);
    expect(ids(again.queue.take("r", 10)?.events ?? [])).toEqual([
      "done-s",
      "done-p",
      "running-s",
      "running-c0",
      "running-c1",
    ]);
    expect(again.queue.rooms()).toEqual(["r"]); // what was delivered meanwhile is not back
    // "done" ended while memory-only: not unfinished; "running" is, with its task id.
    expect(again.stats().unfinishedAtStart).toBe(1);
    expect(again.acceptedTurns.find("running")?.agentTaskId).toBe("agent-task-7");
    expect(again.acceptedTurns.has("done")).toBe(true);
  });

  it("goes on in memory when the database fails while running (one error line)", () => {
    const { logger, at } = capturingLogger();
    const failing = {
      file: "/somewhere/outbox.sqlite",
      eachEvent: () => {},
      insertEvents: () => {
        throw new Error("disk I/O error");
      },
      deleteEvents: () => {},
      close: () => {},
    } as unknown as OutboxDatabase;
    const store = new OutboxStore(failing, failing.file, logger);
    const queue = new DurablePublishQueue({ store, settings: DEFAULT_OUTBOX_SETTINGS, logger });
    queue.append("r", [submitted("t")]);
    queue.append("r", [finished("t")]);
    expect(store.durable).toBe(false);
    expect(ids(queue.take("r", 10)?.events ?? [])).toEqual(["t-s", "t-p"]);
    const errors = at("error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/disk I\/O error.*in memory only/);
  });
});

/** A directory the process cannot write: /proc when running as root (root ignores modes). */
function readOnlyDirectory(): string {
  if (process.getuid?.() === 0 && existsSync("/proc/self")) return "/proc";
  const dir = tempDir();
  chmodSync(dir, 0o555);
  return dir;
}

function pathBelowAFile(): string {
  const dir = tempDir();
  writeFileSync(join(dir, "plain-file"), "");
  return join(dir, "plain-file", "data");
}
