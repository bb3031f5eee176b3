// Files and folders only this user may touch, made so that another local user cannot slip
// anything in: a private folder is created 0700 and checked (ours, 0700, a real folder, not a
// link) before use; new files are created exclusively and never through a symbolic link; a file
// is replaced by renaming a private temporary file over it.
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

/** A folder or file the hub will not use, with one line saying why and what to do. */
export class UnsafePathError extends Error {
  readonly kind = "unsafe-path";
}

export interface FolderRole {
  /** What the folder is, for messages: "the runtime folder". */
  name: string;
  /** What to do instead when it cannot be used: "set XDG_RUNTIME_DIR … to a folder of yours". */
  instead: string;
}

const EXCLUSIVE_CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
// O_NOFOLLOW: never write through a symbolic link someone planted at the name.
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * Why `dir` is not a private folder of this user, or null when it is (or does not exist).
 * Private: a real folder (not a symbolic link), owned by this user, mode 0700.
 */
export function privateFolderProblem(dir: string, role: FolderRole): string | null {
  const uid = process.getuid?.();
  if (uid === undefined) return null; // Windows: no owners or modes to check
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null; // absent: nothing to trust yet
    return `cannot check ${role.name} ${dir} (${code ?? String(error)}): ${role.instead}`;
  }
  if (stat.isSymbolicLink()) {
    return `${role.name} ${dir} is a symbolic link; hybro-hub uses only a real folder of its own there: remove the link, or ${role.instead}`;
  }
  if (!stat.isDirectory())
    return `${role.name} ${dir} is not a folder: remove it, or ${role.instead}`;
  if (stat.uid !== uid) {
    return `${role.name} ${dir} belongs to another user (uid ${stat.uid}); hybro-hub will not use it (someone may be trying to take over the hub): have it removed, or ${role.instead}`;
  }
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return `${role.name} ${dir} is open to other users (mode ${octal(mode)}); run \`chmod 700 ${dir}\` (or remove it)`;
  }
  if (mode !== 0o700) {
    return `${role.name} ${dir} is not writable by you (mode ${octal(mode)}); run \`chmod 700 ${dir}\``;
  }
  return null;
}

/** Creates `dir` (and missing parents) for this user only, then checks it is private. */
export function ensurePrivateFolder(dir: string, role: FolderRole): void {
  mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
  try {
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o700); // the umask may have taken bits away
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const problem = privateFolderProblem(dir, role);
  if (problem) throw new UnsafePathError(problem);
}

/**
 * Creates an empty file with mode 0600 unless one exists. Never through a link: a symbolic link
 * (or anything but a plain file) at `file` is refused, since what opens it next would follow it.
 */
export function createPrivateFile(file: string): void {
  try {
    closeSync(openSync(file, EXCLUSIVE_CREATE | NO_FOLLOW, 0o600));
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const stat = lstatSync(file);
  if (!stat.isFile()) {
    const what = stat.isSymbolicLink() ? "a symbolic link" : "not a plain file";
    throw new UnsafePathError(
      `${file} is ${what}; hybro-hub writes only its own files there: remove it`,
    );
  }
}

/**
 * Replaces `file` with `text` (mode 0600) in one step: readers see the old or the new content,
 * never half. The temporary file is created exclusively and without following links, so a link
 * planted at its name makes this fail (EEXIST) instead of writing through it.
 */
export function writeFileAtomically(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  let fd: number;
  try {
    fd = openSync(temporary, EXCLUSIVE_CREATE | NO_FOLLOW, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // A leftover of a crashed run of this pid, or something planted: remove the name (unlink
    // removes a link itself, never its target) and create afresh, still exclusively.
    unlinkSync(temporary);
    fd = openSync(temporary, EXCLUSIVE_CREATE | NO_FOLLOW, 0o600);
  }
  try {
    fchmodSync(fd, 0o600); // the umask may have taken bits away; never added any
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temporary, file);
  } catch (error) {
    unlinkSync(temporary);
    throw error;
  }
}

/**
 * Makes a sqlite database private before sqlite opens it: the file is created 0600 if missing
 * (sqlite then gives its -wal, -shm and -journal the database's mode), and a database an older
 * version left readable is tightened, companions included.
 */
export function prepareSqliteFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  createPrivateFile(file);
  for (const name of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    if (!existsSync(name)) continue;
    const stat = lstatSync(name);
    if (stat.isFile() && stat.uid === process.getuid?.() && (stat.mode & 0o077) !== 0) {
      chmodSync(name, 0o600);
    }
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}
