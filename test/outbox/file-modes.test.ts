// The sqlite files hold message content (the outbox) and key hashes (the development relay):
// the database and its -wal and -shm companions are this user's only (0600), whatever the umask,
// including files an older version left readable.
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startDevRelay } from "../../src/devrelay/index.ts";
import { openOutboxDatabase } from "../../src/outbox/database.ts";

let dir: string;
let umask: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hybro-modes-"));
  umask = process.umask(0o022); // the usual umask: new files are 0644 unless made otherwise
});
afterEach(() => {
  process.umask(umask);
  rmSync(dir, { recursive: true, force: true });
});

/** Mode of every sqlite file in `folder`, by name. */
function modes(folder: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(folder)) {
    if (name.includes(".sqlite"))
      out[name] = (statSync(join(folder, name)).mode & 0o777).toString(8);
  }
  return out;
}

describe("sqlite file modes", () => {
  it("the outbox database, -wal and -shm are 0600", () => {
    const opened = openOutboxDatabase(dir);
    if (!opened.ok) throw new Error(opened.error);
    opened.db.setMeta("probe", "x"); // a write: the WAL has content
    expect(modes(dir)).toEqual({
      "outbox.sqlite": "600",
      "outbox.sqlite-wal": "600",
      "outbox.sqlite-shm": "600",
    });
    opened.db.close();
  });

  it("an outbox left readable by an older version is made private on open", () => {
    const first = openOutboxDatabase(dir);
    if (!first.ok) throw new Error(first.error);
    first.db.setMeta("probe", "x");
    for (const name of readdirSync(dir)) chmodSync(join(dir, name), 0o644);
    const again = openOutboxDatabase(dir);
    if (!again.ok) throw new Error(again.error);
    for (const mode of Object.values(modes(dir))) expect(mode).toBe("600");
    again.db.close();
    first.db.close();
  });

  it("the development relay's relay.sqlite, -wal and -shm are 0600", async () => {
    const relay = await startDevRelay({ port: 0, dataDir: dir });
    relay.createKey({ name: "probe", scopes: ["*"] });
    expect(modes(dir)).toEqual({
      "relay.sqlite": "600",
      "relay.sqlite-wal": "600",
      "relay.sqlite-shm": "600",
    });
    await relay.close();
  });
});
