// `hybro-hub logs [-f] [-n N]`: the background daemon's log file, pretty on a terminal, raw
// JSON lines otherwise (or with --json). `-f` follows the file across rotations.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { hubPaths } from "../config/paths.ts";
import { logFilePath } from "../config/runtime-files.ts";
import { serviceFilePath } from "../service/install.ts";
import { ExitCode } from "../system/exit-codes.ts";

const LOG_FOLLOW_INTERVAL_MS = 250;

export function registerLogsCommand(program: Command): void {
  program
    .command("logs")
    .description("show the hub's log (background mode and launchd; systemd logs to the journal)")
    .option("-f, --follow", "keep printing new lines")
    .option("-n, --lines <count>", "how many of the last lines to show", "50")
    .option("--json", "raw JSON lines even on a terminal")
    .option("--file <file>", "another log file")
    .action(async (options: { follow?: boolean; lines: string; json?: boolean; file?: string }) => {
      process.exitCode = await showLogs(options);
    });
}

async function showLogs(options: {
  follow?: boolean;
  lines: string;
  json?: boolean;
  file?: string;
}): Promise<number> {
  const file = options.file ?? logFilePath(hubPaths());
  if (!existsSync(file) && !options.follow) {
    const unit = serviceFilePath("systemd");
    process.stderr.write(
      existsSync(unit)
        ? `no log file at ${file}: the systemd service logs to the journal: journalctl --user -u hybro-hub -f\n`
        : `no log file at ${file} yet (it is written by a hub started in the background)\n`,
    );
    return ExitCode.error;
  }
  const format = await lineFormatter(options.json !== true && process.stdout.isTTY === true);
  const count = Math.max(0, Number.parseInt(options.lines, 10) || 0);
  let position = 0;
  let inode = -1;
  if (existsSync(file)) {
    const { text, end, ino } = tail(file, count);
    for (const line of text) process.stdout.write(format(line));
    position = end;
    inode = ino;
  }
  if (!options.follow) return ExitCode.ok;
  let partial = "";
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  while (!stop.signal.aborted) {
    try {
      const stats = statSync(file);
      if (stats.ino !== inode || stats.size < position) {
        // Rotated (a new hub.log) or truncated: read the new file from its start.
        inode = stats.ino;
        position = 0;
        partial = "";
      }
      if (stats.size > position) {
        const fd = openSync(file, "r");
        const buffer = Buffer.alloc(stats.size - position);
        readSync(fd, buffer, 0, buffer.length, position);
        closeSync(fd);
        position = stats.size;
        const lines = (partial + buffer.toString("utf8")).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) if (line) process.stdout.write(format(line));
      }
    } catch {
      // not there right now (between rotation steps, or not created yet)
    }
    await sleep(LOG_FOLLOW_INTERVAL_MS, undefined, { signal: stop.signal }).catch(() => {});
  }
  return ExitCode.ok;
}

/** The last `count` lines of a file, reading backwards in blocks (log files can be large). */
export function tail(file: string, count: number): { text: string[]; end: number; ino: number } {
  const fd = openSync(file, "r");
  try {
    const { size, ino } = fstatSync(fd);
    let start = size;
    let collected = "";
    const block = 64 * 1024;
    while (start > 0 && collected.split("\n").length <= count + 1) {
      const from = Math.max(0, start - block);
      const buffer = Buffer.alloc(start - from);
      readSync(fd, buffer, 0, buffer.length, from);
      collected = buffer.toString("utf8") + collected;
      start = from;
    }
    const lines = collected.split("\n").filter((line) => line.length > 0);
    return { text: count === 0 ? [] : lines.slice(-count), end: size, ino };
  } finally {
    closeSync(fd);
  }
}

async function lineFormatter(pretty: boolean): Promise<(line: string) => string> {
  if (!pretty) return (line) => `${line}\n`;
  const { prettyFactory } = await import("pino-pretty");
  const prettify = prettyFactory({
    colorize: true,
    ignore: "pid,hostname",
    translateTime: "SYS:HH:MM:ss",
  });
  return (line) => {
    try {
      return prettify(JSON.parse(line) as object);
    } catch {
      return `${line}\n`;
    }
  };
}
