// Watches agents.json and hands over each new good config. The file path itself is watched
// (chokidar waits from the nearest existing parent while it is missing), so editors that save by
// rename, a delete and a later re-create all arrive; events are debounced and the file is only
// re-parsed when its text changed. An invalid edit keeps the last good config and logs one line.
//
// A path reached through symbolic links can change without any event on it: a swapped folder
// link (how Kubernetes updates a mounted ConfigMap), a re-pointed linked folder, a dangling link
// whose target appears. A stat poll of the path (which follows the links) catches those, and
// file systems without change events (NFS); SIGHUP reads the file at once.

import { EventEmitter } from "node:events";
import { type Stats, unwatchFile, watchFile } from "node:fs";
import { readFile } from "node:fs/promises";
import { type FSWatcher, watch } from "chokidar";
import { type Logger, silentLogger } from "../log/logger.ts";
import { withDefaults } from "../system/settings.ts";
import {
  type AgentsConfig,
  type AgentsFileLoad,
  EMPTY_AGENTS_CONFIG,
  type ParseOptions,
  parseAgentsFile,
} from "./config.ts";

interface AgentsFileWatcherSettings {
  /** Quiet time after the last file event before the file is read again. */
  debounceMs: number;
  /** How often the path is also stat-ed through its links, for changes no event reports. */
  pollIntervalMs: number;
}

export const DEFAULT_AGENTS_FILE_WATCHER_SETTINGS: AgentsFileWatcherSettings = {
  debounceMs: 200,
  pollIntervalMs: 2_000,
};

export interface AgentsConfigUpdate {
  config: AgentsConfig;
  warnings: string[];
  /** The file does not exist (an empty roster). */
  missing: boolean;
}

interface AgentsFileWatcherEvents {
  /** A new good config (the file changed, was created or was removed). */
  config: [AgentsConfigUpdate];
  /** The file became invalid; the last good config stays. The line is already logged. */
  invalid: [string];
}

interface AgentsFileWatcherOptions {
  path: string;
  logger?: Logger;
  settings?: Partial<AgentsFileWatcherSettings>;
  parse?: ParseOptions;
}

const NOT_READ = Symbol("not read");

export class AgentsFileWatcher extends EventEmitter<AgentsFileWatcherEvents> {
  readonly path: string;
  readonly #logger: Logger;
  readonly #settings: AgentsFileWatcherSettings;
  readonly #parse: ParseOptions;
  #watcher: FSWatcher | null = null;
  #polling: ((current: Stats, previous: Stats) => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastText: string | null | typeof NOT_READ = NOT_READ;
  #current: AgentsConfig = EMPTY_AGENTS_CONFIG;
  #reading: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(options: AgentsFileWatcherOptions) {
    super();
    this.path = options.path;
    this.#logger = options.logger ?? silentLogger();
    this.#settings = withDefaults(DEFAULT_AGENTS_FILE_WATCHER_SETTINGS, options.settings);
    this.#parse = options.parse ?? {};
  }

  /** The last good config (empty before the first good read). */
  get current(): AgentsConfig {
    return this.#current;
  }

  /**
   * Starts watching, then reads the file once. Resolves with that first read (not emitted as
   * an event); an invalid or missing file is logged and leaves an empty config.
   */
  async start(): Promise<AgentsFileLoad> {
    const watcher = watch(this.path, {
      ignoreInitial: true,
      persistent: false,
      atomic: true,
      awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 },
    });
    this.#watcher = watcher;
    watcher.on("all", () => this.#schedule());
    watcher.on("error", (error) =>
      this.#logger.warn(
        { file: this.path, err: String(error) },
        "watching the agents file failed; edits may need a restart to apply",
      ),
    );
    await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
    // watchFile stats the path through its links; it calls back when what it finds differs
    // (another file behind the link, a changed size or time, the target appearing or going).
    this.#polling = () => this.#schedule();
    watchFile(
      this.path,
      { interval: this.#settings.pollIntervalMs, persistent: false },
      this.#polling,
    );
    const first = await this.#readOnce();
    if (!first.result.ok) {
      this.#logger.error(
        { file: this.path },
        `${first.result.error}; starting with no agents until it is fixed`,
      );
    } else if (first.result.missing) {
      this.#logger.info(
        { file: this.path },
        `no agents file at ${this.path}: starting with no agents (create it to add some; see agents.example.json)`,
      );
    }
    return first.result;
  }

  /** Reads the file now (e.g. on SIGHUP) instead of waiting for a file event. */
  reload(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        if (this.#closed) return;
        const { result, changed } = await this.#readOnce();
        if (!changed || this.#closed) continue;
        if (!result.ok) {
          const n = this.#current.agents.filter((a) => a.enabled).length;
          this.#logger.error(
            { file: this.path },
            `${result.error}; keeping the previous ${n} agent${n === 1 ? "" : "s"}`,
          );
          this.emit("invalid", result.error);
          continue;
        }
        if (result.missing) {
          this.#logger.info(
            { file: this.path },
            `agents file ${this.path} was removed: no configured agents until it is back`,
          );
        }
        this.emit("config", {
          config: result.config,
          warnings: result.warnings,
          missing: result.missing,
        });
      } while (this.#again);
    })().finally(() => {
      this.#reading = null;
    });
    return this.#reading;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const watcher = this.#watcher;
    this.#watcher = null;
    if (this.#polling) unwatchFile(this.path, this.#polling);
    this.#polling = null;
    await watcher?.close();
    await this.#reading;
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.reload();
    }, this.#settings.debounceMs);
  }

  /** Reads and parses; `changed` is false when the text is what was read last time. */
  async #readOnce(): Promise<{ result: AgentsFileLoad; changed: boolean }> {
    let text: string | null;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") {
        const message = `${this.path}: cannot read the agents file (${code ?? String(error)})`;
        return { result: { ok: false, error: message }, changed: true };
      }
      text = null;
    }
    const changed = text !== this.#lastText;
    this.#lastText = text;
    let result: AgentsFileLoad;
    if (text === null) {
      result = { ok: true, config: EMPTY_AGENTS_CONFIG, warnings: [], missing: true };
    } else {
      const parsed = parseAgentsFile(text, this.path, this.#parse);
      result = parsed.ok ? { ...parsed, missing: false } : parsed;
    }
    if (result.ok) {
      this.#current = result.config;
      if (changed) {
        for (const warning of result.warnings) this.#logger.warn({ file: this.path }, warning);
      }
    }
    return { result, changed };
  }
}
