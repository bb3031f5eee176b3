// Errors a user can fix (a folder not writable, a read-only or full disk, a folder the hub will
// not use) as the one line they need, instead of a stack trace. Anything else is a bug and keeps
// its stack.
import { accessSync, constants } from "node:fs";
import { dirname } from "node:path";
import { UnsafePathError } from "./private-files.ts";

/** The one line for `error`, or null when it is not a filesystem problem the user can fix. */
export function oneLineError(error: unknown): string | null {
  if (error instanceof UnsafePathError) return error.message;
  const failure = error as NodeJS.ErrnoException | null;
  if (typeof failure?.code !== "string" || typeof failure.path !== "string") return null;
  // A private temporary file (name.<pid>.tmp) stands for the file it was about to replace.
  const path = failure.path.replace(/\.\d+\.tmp$/, "");
  const folder = dirname(path);
  switch (failure.code) {
    case "EACCES":
    case "EPERM":
      if (!writable(folder)) {
        return `cannot write ${path}: the folder ${folder} is not writable by this user (uid ${process.getuid?.() ?? "?"}); fix its owner or mode, or set HYBRO_HUB_HOME to a folder of yours`;
      }
      return `cannot use ${path} (${failure.code}: permission denied); check its owner and mode`;
    case "EROFS":
      return `cannot write ${path}: the file system is read-only; set HYBRO_HUB_HOME to a writable folder`;
    case "ENOSPC":
    case "EDQUOT":
      return `cannot write ${path}: the disk is full (or over quota); free some space and try again`;
    case "ENOTDIR":
      return `cannot use ${path}: part of that path is a file, not a folder`;
    default:
      return null;
  }
}

function writable(folder: string): boolean {
  try {
    accessSync(folder, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
