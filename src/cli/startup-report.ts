// How a starting daemon tells someone it is ready or has failed: the `start` that launched it in
// the background (a pipe on fd 3), systemd (`Type=notify`), or the terminal it runs in.
import { closeSync, writeSync } from "node:fs";
import type { StartupReport } from "../daemon/run.ts";
import type { Logger } from "../log/logger.ts";
import { notifySystemd } from "../service/systemd-notify.ts";

/** One line on the launcher pipe. */
export type StartupMessage =
  | { event: "progress"; message: string }
  /** The inspector's URL (it holds the per-run token: printed by the launcher, never logged). */
  | { event: "inspector"; url: string }
  | { event: "ready"; pid: number; agents: number }
  | { event: "failed"; message: string; exitCode: number };

/** The fd the background child reports on (the launcher's fourth stdio entry). */
const STARTUP_REPORT_FD = 3;

/** Background child → launcher. After the final message the pipe is closed. */
export function pipeStartupReport(fd = STARTUP_REPORT_FD): StartupReport {
  let open = true;
  const send = (message: StartupMessage, last: boolean) => {
    if (!open) return;
    try {
      writeSync(fd, `${JSON.stringify(message)}\n`);
    } catch {
      // the launcher is gone (it gave up waiting); nobody to tell
    }
    if (last) {
      open = false;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  };
  return {
    progress: (message) => send({ event: "progress", message }, false),
    inspector: (url) => send({ event: "inspector", url }, false),
    ready: ({ pid, agents }) => send({ event: "ready", pid, agents }, true),
    failed: (message, exitCode) => send({ event: "failed", message, exitCode }, true),
  };
}

/**
 * Foreground: one plain line on stdout when ready (the log has the rest), errors on stderr.
 * `showInspectorToken: false` (a service manager keeps stdout in its journal) prints the
 * inspector's address only; `hybro-hub status` shows the whole URL to its user.
 */
export function consoleStartupReport(
  options: { showInspectorToken?: boolean } = {},
): StartupReport {
  return {
    progress: () => {},
    inspector: (url) => {
      const shown =
        options.showInspectorToken === false
          ? `${new URL(url).origin}/ (its URL with the token: hybro-hub status)`
          : url;
      process.stdout.write(`inspector: ${shown}\n`);
    },
    ready: ({ agents }) => {
      process.stdout.write(`hub ready: ${agents} agent${agents === 1 ? "" : "s"} synced\n`);
    },
    failed: (message) => {
      process.stderr.write(`error: ${message}\n`);
    },
  };
}

/** Adds systemd's READY=1 (and a status line) to another report when NOTIFY_SOCKET was given. */
export function withSystemdNotify(
  inner: StartupReport,
  socket: string | null,
  logger: Logger,
): StartupReport {
  if (!socket) return inner;
  const notify = (notice: Parameters<typeof notifySystemd>[1]) => {
    void notifySystemd(socket, notice).then((problem) => {
      if (problem) logger.warn(`${problem}; systemd will not see the hub as started`);
    });
  };
  return {
    progress: (message) => {
      inner.progress(message);
      notify({ status: message });
    },
    inspector: (url) => inner.inspector(url),
    ready: (info) => {
      inner.ready(info);
      notify({
        ready: true,
        status: `ready: ${info.agents} agent${info.agents === 1 ? "" : "s"} synced`,
      });
    },
    failed: (message, exitCode) => inner.failed(message, exitCode),
  };
}
