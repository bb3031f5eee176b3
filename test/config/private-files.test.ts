// Private folders and files against what another user (or a stray link) could leave in the way.
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createPrivateFile,
  ensurePrivateFolder,
  UnsafePathError,
  writeFileAtomically,
} from "../../src/system/private-files.ts";
import {
  descendantsOf,
  isProcessAlive,
  liveGroupMembers,
  type ProcessEntry,
  processStartIdentity,
} from "../../src/system/processes.ts";

const role = { name: "the test folder", instead: "use another one" };
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hybro-private-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("private folder", () => {
  it("is made 0700 whatever the umask, and kept when it already is", () => {
    const umask = process.umask(0o077);
    try {
      ensurePrivateFolder(join(dir, "a", "b"), role);
    } finally {
      process.umask(umask);
    }
    expect(statSync(join(dir, "a", "b")).mode & 0o777).toBe(0o700);
    ensurePrivateFolder(join(dir, "a", "b"), role);
  });

  it("is refused when open to others or a symbolic link, with what to do", () => {
    mkdirSync(join(dir, "open"));
    chmodSync(join(dir, "open"), 0o755);
    expect(() => ensurePrivateFolder(join(dir, "open"), role)).toThrow(
      /the test folder .*open is open to other users \(mode 0755\); run `chmod 700 /,
    );
    mkdirSync(join(dir, "real"), { mode: 0o700 });
    symlinkSync(join(dir, "real"), join(dir, "link"));
    expect(() => ensurePrivateFolder(join(dir, "link"), role)).toThrow(UnsafePathError);
  });
});

describe("private files", () => {
  it("a link planted at the temporary name is never written through", () => {
    const victim = join(dir, "victim");
    writeFileSync(victim, "the victim's file\n");
    const file = join(dir, "hub.lock.holder");
    symlinkSync(victim, `${file}.${process.pid}.tmp`);
    writeFileAtomically(file, "ours\n");
    expect(readFileSync(victim, "utf8")).toBe("the victim's file\n");
    expect(readFileSync(file, "utf8")).toBe("ours\n");
    expect(lstatSync(file).isFile()).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("a link in place of a file to create is refused, its target untouched", () => {
    const victim = join(dir, "victim");
    writeFileSync(victim, "x");
    symlinkSync(victim, join(dir, "hub.lock"));
    expect(() => createPrivateFile(join(dir, "hub.lock"))).toThrow(/is a symbolic link/);
    createPrivateFile(join(dir, "fresh"));
    expect(statSync(join(dir, "fresh")).mode & 0o777).toBe(0o600);
  });
});

describe("processes", () => {
  it("tells a live process from a gone one, and names it by its start", () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 12_345)).toBe(false);
    const identity = processStartIdentity(process.pid);
    expect(identity).not.toBeNull();
    expect(processStartIdentity(process.pid)).toBe(identity);
    expect(processStartIdentity(2 ** 22 + 12_345)).toBeNull();
  });

  it("finds descendants through the parent links and the live members of a group", () => {
    const table: ProcessEntry[] = [
      { pid: 10, ppid: 1, pgid: 10, zombie: false },
      { pid: 11, ppid: 10, pgid: 10, zombie: false },
      { pid: 12, ppid: 11, pgid: 12, zombie: false }, // escaped into its own group
      { pid: 13, ppid: 12, pgid: 12, zombie: false },
      { pid: 14, ppid: 10, pgid: 10, zombie: true },
      { pid: 20, ppid: 1, pgid: 20, zombie: false },
    ];
    expect(descendantsOf(10, table).sort()).toEqual([11, 12, 13, 14]);
    expect(liveGroupMembers(10, table).sort()).toEqual([10, 11]);
  });
});
