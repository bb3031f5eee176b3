// The daemon's side of the control socket: a Unix socket (mode 0600, in the runtime folder,
// which is made 0700 and checked to be ours before anything is put in it) answering newline-delimited JSON requests from `hybro-hub status`,
// `agents`, `stop` and `config set-key`.
import { chmodSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { ensureRuntimeFolder } from "../config/runtime-files.ts";
import type { Logger } from "../log/logger.ts";
import { isSocketLive } from "./client.ts";
import {
  type ControlCommand,
  type ControlResponse,
  type ControlResults,
  isControlCommand,
} from "./protocol.ts";

export type ControlHandlers = {
  [C in ControlCommand]: () => ControlResults[C] | Promise<ControlResults[C]>;
};

/** A request line longer than this is refused (the protocol's lines are tiny). */
const MAX_CONTROL_LINE_BYTES = 64 * 1024;

export class ControlSocketInUseError extends Error {
  readonly kind = "control-socket-in-use";
}

export class ControlServer {
  readonly socketPath: string;
  readonly #handlers: ControlHandlers;
  readonly #logger: Logger;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(options: { socketPath: string; handlers: ControlHandlers; logger: Logger }) {
    this.socketPath = options.socketPath;
    this.#handlers = options.handlers;
    this.#logger = options.logger;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  /**
   * Binds the socket. A live socket at the path means another daemon: ControlSocketInUseError;
   * a runtime folder that is not a private folder of ours: UnsafePathError.
   */
  async listen(): Promise<void> {
    ensureRuntimeFolder(dirname(this.socketPath));
    if (await isSocketLive(this.socketPath)) {
      throw new ControlSocketInUseError(`another hub answers on ${this.socketPath}`);
    }
    try {
      unlinkSync(this.socketPath); // a leftover of a daemon that was killed
    } catch {
      // none
    }
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.socketPath, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    chmodSync(this.socketPath, 0o600);
    this.#server.unref();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    try {
      unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setEncoding("utf8");
    let buffered = "";
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_CONTROL_LINE_BYTES) {
        this.#reply(socket, {
          ok: false,
          error: { kind: "bad-request", message: "request line too long" },
        });
        socket.end();
        return;
      }
      for (;;) {
        const newline = buffered.indexOf("\n");
        if (newline < 0) break;
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) void this.#answer(socket, line);
      }
    });
  }

  async #answer(socket: Socket, line: string): Promise<void> {
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch {
      return this.#reply(socket, {
        ok: false,
        error: { kind: "bad-request", message: "request is not JSON" },
      });
    }
    const command = (request as { command?: unknown } | null)?.command;
    if (!isControlCommand(command)) {
      return this.#reply(socket, {
        ok: false,
        error: { kind: "unknown-command", message: `unknown command ${JSON.stringify(command)}` },
      });
    }
    try {
      const result = await this.#handlers[command]();
      this.#reply(socket, { ok: true, result });
    } catch (error) {
      this.#logger.warn({ command, err: String(error) }, "control request failed");
      this.#reply(socket, { ok: false, error: { kind: "failed", message: String(error) } });
    }
  }

  #reply(socket: Socket, response: ControlResponse): void {
    if (!socket.writable) return;
    socket.write(`${JSON.stringify(response)}\n`);
  }
}
