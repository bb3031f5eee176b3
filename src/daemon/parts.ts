// The running process is a short list of parts: each is started in order and the ones started
// are closed in reverse, whether the start went through, stopped at a part, or the hub ran and
// stopped. Creating a part starts nothing.

/** One piece of the process (a socket, signal handlers, a watch, a server). */
export interface Part {
  /** For the log line when closing it fails. */
  readonly name: string;
  start(): Promise<void> | void;
  close?(): Promise<void> | void;
}

/** A part that cannot start for a reason the user can fix: reported as is, with this exit code. */
export class StartRefused extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "StartRefused";
    this.exitCode = exitCode;
  }
}

/** Parts started so far, to be closed in reverse. */
export class StartedParts {
  readonly #started: Part[] = [];

  /** Starts each part in order; stops at the first that throws (the error goes on). */
  async start(parts: readonly Part[]): Promise<void> {
    for (const part of parts) {
      await part.start();
      this.#started.push(part);
    }
  }

  /** Closes the started parts, last first; a failing close does not keep the others open. */
  async close(onError: (part: Part, error: unknown) => void): Promise<void> {
    for (const part of this.#started.splice(0).reverse()) {
      try {
        await part.close?.();
      } catch (error) {
        onError(part, error);
      }
    }
  }
}
