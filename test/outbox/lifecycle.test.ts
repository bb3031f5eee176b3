// The outbox's life in order: building it opens no file and sets no timer; `open` opens
// outbox.sqlite (mode 0600) and reads it back; `start` sets the timers; `close` clears them.
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/log/logger.ts";
import { OUTBOX_DB_FILE } from "../../src/outbox/database.ts";
import { Outbox } from "../../src/outbox/outbox.ts";

const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hybro-outbox-life-"));
  dirs.push(dir);
  return dir;
}

describe("outbox lifecycle", () => {
  it("opens nothing when built; open opens the file (0600), start sets the TTL timer, close clears it", () => {
    vi.useFakeTimers();
    const dir = tempDir();
    const file = join(dir, OUTBOX_DB_FILE);
    const box = new Outbox({ dir, logger: silentLogger() });
    expect(existsSync(file)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    expect(box.file).toBe(file); // known, not opened
    expect(box.durable).toBe(false);

    box.open();
    expect(box.durable).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(vi.getTimerCount()).toBe(0);

    box.start();
    expect(vi.getTimerCount()).toBe(1);
    box.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a file that cannot be used is tried again only once started", () => {
    vi.useFakeTimers();
    const dir = tempDir();
    writeFileSync(join(dir, "plain-file"), "");
    const box = new Outbox({
      dir: join(dir, "plain-file", "data"),
      logger: silentLogger(),
      settings: { reopenIntervalMs: 1_000 },
    });
    box.open();
    expect(box.durable).toBe(false);
    expect(box.stats().failure).toMatch(/\S/);
    expect(vi.getTimerCount()).toBe(0);
    box.start();
    expect(vi.getTimerCount()).toBe(2); // the TTL sweep and the retry
    box.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
