// One hub per data folder (one hub id), whatever happens to the runtime folder. The hub holds
// an advisory write lock on `hub.lock` in its data folder for its whole life. Node has no
// flock(2), and a native addon is not wanted, so the lock is taken through node:sqlite: an
// open write transaction (`BEGIN IMMEDIATE`, never committed) is an fcntl(2) lock on the file,
// on Linux and macOS alike. The kernel drops it when the process ends, however it ends (crash,
// SIGKILL, power loss), so a stale lock never has to be guessed at and cleaned up.
//
// Beside it, `hub.lock.holder` names the holder (pid and start identity), written once the lock
// is held. `stop` and `status` trust it only while the lock is held and only if that pid still
// has that start identity, so neither a leftover file nor a reused pid is ever taken for a hub.
//
// Nothing in this process may open hub.lock other than through sqlite: closing any other
// descriptor of the file would drop the process's fcntl locks on it (sqlite guards its own).
import { existsSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createPrivateFile, writeFileAtomically } from "../system/private-files.ts";
import { processStartIdentity } from "../system/processes.ts";

export const HUB_LOCK_FILE = "hub.lock";
export const HUB_LOCK_HOLDER_FILE = "hub.lock.holder";

/** SQLITE_BUSY, SQLITE_LOCKED: another connection holds the write lock. */
const BUSY_CODES = new Set([5, 6]);

export interface LockHolder {
  pid: number;
  /** processStartIdentity(pid) when it took the lock. */
  start: string;
}

type HubLockClaim =
  | { ok: true; lock: HubLock }
  | { ok: false; holder: LockHolder | null; file: string; message: string };

type HubLockState =
  | { held: false }
  /** holder is null when the record does not name the live process (a hub just starting). */
  | { held: true; holder: LockHolder | null; file: string };

/** The lock held by this process. Constructed only by acquireHubLock. */
export class HubLock {
  readonly file: string;
  readonly #holderFile: string;
  readonly #db: DatabaseSync;
  readonly #self: LockHolder;
  #released = false;

  constructor(file: string, holderFile: string, db: DatabaseSync, self: LockHolder) {
    this.file = file;
    this.#holderFile = holderFile;
    this.#db = db;
    this.#self = self;
  }

  /** Removes the holder record (if still ours) and drops the lock. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const record = readHolderRecord(this.#holderFile);
    if (record?.pid === this.#self.pid && record.start === this.#self.start) {
      try {
        unlinkSync(this.#holderFile);
      } catch {
        // already gone
      }
    }
    try {
      this.#db.exec("ROLLBACK");
    } finally {
      this.#db.close();
    }
  }
}

/** Takes the data folder's hub lock for this process, or says who holds it. */
export function acquireHubLock(dataDir: string): HubLockClaim {
  const file = join(dataDir, HUB_LOCK_FILE);
  const holderFile = join(dataDir, HUB_LOCK_HOLDER_FILE);
  const db = openLockFile(file);
  if (!tryWriteLock(db)) {
    db.close();
    const holder = provenHolder(holderFile);
    const who = holder ? `pid ${holder.pid}` : "a hub that is starting";
    return {
      ok: false,
      holder,
      file,
      message: `hybro-hub is already running (${who}, holding ${file}); use \`hybro-hub restart\` or \`hybro-hub stop\``,
    };
  }
  const self: LockHolder = {
    pid: process.pid,
    start: processStartIdentity(process.pid) ?? "unknown",
  };
  try {
    writeFileAtomically(holderFile, `${JSON.stringify(self)}\n`);
  } catch (error) {
    db.exec("ROLLBACK");
    db.close();
    throw error;
  }
  return { ok: true, lock: new HubLock(file, holderFile, db, self) };
}

/** Whether a hub holds the data folder's lock now, and which process (when provable). */
export function hubLockState(dataDir: string): HubLockState {
  const file = join(dataDir, HUB_LOCK_FILE);
  if (!existsSync(file)) return { held: false }; // no hub ever ran on this data folder
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file);
  } catch {
    return { held: false }; // not ours to open: no hub of ours holds it
  }
  try {
    if (tryWriteLock(db)) {
      db.exec("ROLLBACK");
      return { held: false };
    }
  } finally {
    db.close();
  }
  return { held: true, holder: provenHolder(join(dataDir, HUB_LOCK_HOLDER_FILE)), file };
}

function openLockFile(file: string): DatabaseSync {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  createPrivateFile(file); // 0600 and never through a link; sqlite would create it 0644
  return new DatabaseSync(file);
}

function tryWriteLock(db: DatabaseSync): boolean {
  db.exec("PRAGMA busy_timeout = 0");
  try {
    db.exec("BEGIN IMMEDIATE");
    return true;
  } catch (error) {
    if (BUSY_CODES.has((error as { errcode?: number }).errcode ?? -1)) return false;
    throw error;
  }
}

/** The record's holder if that pid runs with the recorded start identity, else null. */
function provenHolder(holderFile: string): LockHolder | null {
  const record = readHolderRecord(holderFile);
  if (!record) return null;
  return processStartIdentity(record.pid) === record.start ? record : null;
}

function readHolderRecord(holderFile: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(holderFile, "utf8")) as Partial<LockHolder>;
    if (Number.isSafeInteger(parsed.pid) && typeof parsed.start === "string") {
      return { pid: parsed.pid as number, start: parsed.start };
    }
  } catch {
    // missing or damaged: no holder known
  }
  return null;
}
