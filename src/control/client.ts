// The CLI's side of the control socket: ask the running daemon one question. The socket is
// trusted only inside a private runtime folder of ours: in one another user could enter, the
// "hub" answering could be theirs.
import { connect } from "node:net";
import { dirname } from "node:path";
import { runtimeFolderProblem } from "../config/runtime-files.ts";
import type { ControlCommand, ControlResponse, ControlResults } from "./protocol.ts";

const DEFAULT_CONTROL_TIMEOUT_MS = 5_000;

/** No daemon answers on the socket (none running, or it died and left the file behind). */
export class DaemonNotRunningError extends Error {
  readonly kind = "not-running";
}

/** The daemon answered with an error, or the answer could not be read. */
export class ControlRequestError extends Error {
  readonly kind: string;
  constructor(kind: string, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** The runtime folder holding the socket is not a private folder of ours: nothing there is trusted. */
export class UnsafeRuntimeFolderError extends Error {
  readonly kind = "unsafe-runtime-folder";
}

const NOT_RUNNING_CODES = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK", "ENOTDIR"]);

export function askDaemon<C extends ControlCommand>(
  socketPath: string,
  command: C,
  options: { timeoutMs?: number } = {},
): Promise<ControlResults[C]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
  const problem = runtimeFolderProblem(dirname(socketPath));
  if (problem) return Promise.reject(new UnsafeRuntimeFolderError(problem));
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let buffered = "";
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      outcome();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new ControlRequestError("timeout", `the hub did not answer within ${timeoutMs} ms`),
          ),
        ),
      timeoutMs,
    );
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify({ command })}\n`));
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      const line = buffered.slice(0, newline);
      finish(() => {
        let response: ControlResponse<ControlResults[C]>;
        try {
          response = JSON.parse(line) as ControlResponse<ControlResults[C]>;
        } catch {
          reject(new ControlRequestError("bad-response", "the hub's answer is not JSON"));
          return;
        }
        if (response.ok) resolve(response.result);
        else reject(new ControlRequestError(response.error.kind, response.error.message));
      });
    });
    socket.on("error", (error: NodeJS.ErrnoException) =>
      finish(() =>
        reject(
          NOT_RUNNING_CODES.has(error.code ?? "")
            ? new DaemonNotRunningError("hybro-hub is not running")
            : new ControlRequestError("socket", `cannot reach the hub: ${error.message}`),
        ),
      ),
    );
    socket.on("close", () =>
      finish(() => reject(new ControlRequestError("closed", "the hub closed the connection"))),
    );
  });
}

/** Whether something accepts connections on the socket path. */
export function isSocketLive(socketPath: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const done = (live: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(live);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("connect", () => done(true));
    socket.on("error", () => done(false));
  });
}
