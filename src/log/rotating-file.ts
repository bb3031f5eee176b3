// A size-bounded log file for the background daemon: hub.log, rotated to hub.log.1 … .N when it
// would grow past the limit (the newest rotation is .1, the oldest beyond N is deleted). The path
// of the live file never changes, so `hybro-hub logs -f` and `tail -F` can follow it.
// pino-roll numbers its live file (hub.1.log, hub.2.log …), hence this small writer instead.
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { DestinationStream } from "pino";
import { withDefaults } from "../system/settings.ts";

export interface RotatingFileSettings {
  /** Rotate before the live file would exceed this size. */
  maxFileBytes: number;
  /** Rotated files kept besides the live one. */
  keepFiles: number;
}
const DEFAULT_ROTATING_FILE_SETTINGS: RotatingFileSettings = {
  maxFileBytes: 10 * 1024 * 1024,
  keepFiles: 3,
};

export class RotatingFile implements DestinationStream {
  readonly path: string;
  readonly #settings: RotatingFileSettings;
  #fd: number;
  #size: number;

  constructor(path: string, settings: Partial<RotatingFileSettings> = {}) {
    this.path = path;
    this.#settings = withDefaults(DEFAULT_ROTATING_FILE_SETTINGS, settings);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#fd = openSync(path, "a", 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  /** Synchronous, so the last lines before an exit are on disk. */
  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.#size > 0 && this.#size + bytes > this.#settings.maxFileBytes) this.#rotate();
    try {
      writeSync(this.#fd, line);
      this.#size += bytes;
    } catch {
      // A full or vanished disk must not take the daemon down; the line is lost.
    }
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
  }

  #rotate(): void {
    this.close();
    const { keepFiles } = this.#settings;
    rmSync(`${this.path}.${keepFiles}`, { force: true });
    for (let index = keepFiles - 1; index >= 1; index--) {
      try {
        renameSync(`${this.path}.${index}`, `${this.path}.${index + 1}`);
      } catch {
        // that generation does not exist yet
      }
    }
    try {
      if (keepFiles > 0) renameSync(this.path, `${this.path}.1`);
      else rmSync(this.path, { force: true });
    } catch {
      // someone removed it; start a fresh one below
    }
    this.#fd = openSync(this.path, "a", 0o600);
    this.#size = fstatSync(this.#fd).size;
  }
}
