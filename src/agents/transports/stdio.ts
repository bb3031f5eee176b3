// An agent run as a child process and spoken to with NDJSON JSON-RPC over its stdin/stdout
// (local-agents.md section 2). This file is the process side: spawn, framing, stderr,
// supervision (restart with backoff, crash-loop detection) and the stop sequence. The
// JSON-RPC side is RpcPeer, wrapped as for WebSocket by PeerTransport.
//
// No orphans: the child is spawned without a shell, in a process group of its own, so a stop
// reaches it and every helper it started (see process-family.ts); whatever an agent that exits
// by itself leaves running is stopped before it is started again; a hub that exits without a
// stop signals every family on its way out; and when the hub is SIGKILLed (where nothing of ours
// can run) the kernel closes the pipe, the child sees EOF on stdin and, per the convention,
// exits. An agent that ignores stdin EOF survives a SIGKILLed hub; only an outer supervisor
// (systemd's KillMode=control-group, a container) covers that.
//
// Its stderr goes to the hub's log line by line within a byte budget (log-budget.ts); what does
// not fit is dropped and counted in one line at most every `stderrDropReportMs`.

import { existsSync } from "node:fs";
import type { Writable } from "node:stream";
import type { ResultPromise } from "execa";
import { TransportError } from "../../a2a/transport.ts";
import { Backoff } from "../../async/backoff.ts";
import { type Clock, systemClock, type Timer } from "../../async/clock.ts";
import { Deferred, untilSettled } from "../../async/deferred.ts";
import { onFirstUse } from "../../system/on-first-use.ts";
import { withDefaults } from "../../system/settings.ts";
import { childEnv, expandHome } from "./child-env.ts";
import { LogBudget } from "./log-budget.ts";
import { NdjsonLineReader, type OversizeLine, sniffRequestId } from "./ndjson-lines.ts";
import { PeerTransport, type PeerTransportOptions } from "./peer-transport.ts";
import { ProcessFamily } from "./process-family.ts";
import { DEFAULT_RPC_PEER_SETTINGS, preview, type RpcPeerSettings } from "./rpc-peer.ts";
import { ExitWindow, type TransportHealth } from "./supervision.ts";

const execaLibrary = onFirstUse<typeof import("execa")>("execa");

export interface StdioSettings extends RpcPeerSettings {
  /** Longest stdout line accepted; a longer one fails the request it answers. */
  maxLineBytes: number;
  /** How long `agent/getCard` may take before the entry's / a built card is used. */
  cardRequestTimeoutMs: number;
  /** First restart delay after an unexpected exit; doubles per exit up to the max (with jitter). */
  restartBaseDelayMs: number;
  restartMaxDelayMs: number;
  /** A run this long resets the backoff and ends a crash loop. */
  stableRunMs: number;
  /** This many exits within `crashLoopWindowMs` is a crash loop: reported, unhealthy. */
  crashLoopExits: number;
  crashLoopWindowMs: number;
  /** Stop: after closing stdin, wait this long for the child to exit before SIGTERM… */
  stopGraceMs: number;
  /** …and this long after SIGTERM (to the agent and everything it started) before SIGKILL. */
  killGraceMs: number;
  /** After the child exits, how long to wait for the rest of its stdout before ending its calls. */
  exitDrainMs: number;
  /**
   * Level for the agent's stderr lines. Info by default: stderr is where an agent says why it
   * failed, and that must be visible at the hub's default level; set "debug" for chatty agents.
   */
  stderrLevel: "trace" | "debug" | "info" | "warn";
  /** Longest stderr line logged; longer ones are cut. */
  stderrLineMaxChars: number;
  /** Steady rate of log bytes an agent's stderr may fill (text plus each line's envelope);
   * beyond it (and the burst) lines are dropped. */
  stderrBytesPerS: number;
  stderrBurstBytes: number;
  /** Dropped stderr lines are counted in one log line at most this often (and when it ends). */
  stderrDropReportMs: number;
}

const DEFAULT_STDIO_SETTINGS: StdioSettings = {
  ...DEFAULT_RPC_PEER_SETTINGS,
  maxLineBytes: 16 * 1024 * 1024,
  cardRequestTimeoutMs: 5_000,
  restartBaseDelayMs: 500,
  restartMaxDelayMs: 30_000,
  stableRunMs: 30_000,
  crashLoopExits: 5,
  crashLoopWindowMs: 60_000,
  stopGraceMs: 2_000,
  killGraceMs: 3_000,
  exitDrainMs: 200,
  stderrLevel: "info",
  stderrLineMaxChars: 4_000,
  stderrBytesPerS: 4 * 1024,
  stderrBurstBytes: 64 * 1024,
  stderrDropReportMs: 10_000,
};

export interface StdioTransportOptions extends PeerTransportOptions {
  command: string;
  args?: string[];
  /** Working directory; a leading `~` is the home directory. Default: the hub's. */
  cwd?: string;
  /** Added to the minimal environment (see child-env.ts). */
  env?: Record<string, string>;
  settings?: Partial<StdioSettings>;
}

type Phase = "idle" | "starting" | "running" | "waiting" | "closed";

/** One spawned process and what is known about it. */
interface ChildRun {
  process: ResultPromise;
  stdin: Writable;
  pid: number | null;
  lastStderr: string | null;
  /** The agent and what it started (null until it runs, or where groups do not exist). */
  family: ProcessFamily | null;
  /** Settles once the process has exited and its stdout is drained. */
  ended: Deferred<void>;
}

export class StdioTransport extends PeerTransport {
  readonly kind = "stdio" as const;
  readonly #command: string;
  readonly #args: string[];
  readonly #cwd: string | undefined;
  readonly #env: Record<string, string> | undefined;
  readonly #settings: StdioSettings;
  readonly #exits: ExitWindow;
  readonly #clock: Clock;
  readonly #backoff: Backoff;

  #phase: Phase = "idle";
  #run: ChildRun | null = null;
  /** Settles when the current or next start attempt succeeds (or fails to spawn). */
  #up = new Deferred<void>();
  #restartTimer: Timer | undefined;
  #stableTimer: Timer | undefined;
  #restarts = 0;
  #lastExit: string | null = null;
  #crashLooping = false;
  #startFailed = false;

  constructor(options: StdioTransportOptions) {
    const settings = withDefaults(DEFAULT_STDIO_SETTINGS, options.settings);
    super(options, "stdio", settings);
    this.#command = expandHome(options.command);
    this.#args = options.args ?? [];
    this.#cwd = options.cwd === undefined ? undefined : expandHome(options.cwd);
    this.#env = options.env;
    this.#settings = settings;
    this.#exits = new ExitWindow(settings.crashLoopExits, settings.crashLoopWindowMs);
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff(
      {
        baseDelayMs: settings.restartBaseDelayMs,
        maxDelayMs: settings.restartMaxDelayMs,
        jitter: "equal",
        stableRunMs: settings.stableRunMs,
      },
      { clock: this.#clock, random: options.random },
    );
  }

  override health(): TransportHealth {
    return {
      healthy: this.isHealthy(),
      restarts: this.#restarts,
      lastExit: this.#lastExit,
      pid: this.#phase === "running" ? (this.#run?.pid ?? null) : null,
    };
  }

  /** Spawns the process if it is not running yet; resolves once it runs. */
  protected override async ensureReady(signal: AbortSignal): Promise<void> {
    while (true) {
      signal.throwIfAborted();
      // Taken before #spawn: a start that fails at once settles this one, not the next.
      const up = this.#up;
      switch (this.#phase) {
        case "running":
          return;
        case "closed":
          throw this.stoppedError();
        case "idle":
          this.#spawn();
          break;
        case "waiting":
          if (this.#crashLooping) {
            throw new TransportError(
              "AgentExited",
              `agent "${this.name}" keeps exiting (last: ${this.#lastExit}); calls are refused until it runs stably`,
              { connectionClass: true },
            );
          }
          break;
        case "starting":
          break;
      }
      await untilSettled(up.promise, signal);
    }
  }

  #spawn(): void {
    this.#phase = "starting";
    const { env, refused } = childEnv(this.#env);
    if (refused.length > 0) {
      this.log.warn(
        `agent "${this.name}": env ${refused.join(", ")} would pass the hub's API key to the agent; left out`,
      );
    }
    let child: ResultPromise;
    try {
      child = execaLibrary().execa(this.#command, this.#args, {
        cwd: this.#cwd,
        env,
        extendEnv: false,
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
        buffer: false,
        reject: false,
        // A group of its own, signalled whole on stop (and on the hub's exit: process-family.ts).
        detached: GROUPS,
        cleanup: !GROUPS,
        forceKillAfterDelay: false,
        windowsHide: true,
      });
    } catch (error) {
      this.#startFailed = true;
      this.#afterEnd(this.#startFailure(error));
      return;
    }
    const { stdin, stdout, stderr } = child;
    if (!stdin || !stdout || !stderr) throw new Error("execa gave no stdio pipes"); // cannot happen with "pipe"
    const run: ChildRun = {
      process: child,
      stdin,
      pid: child.pid ?? null,
      lastStderr: null,
      family: null,
      ended: new Deferred<void>(),
    };
    this.#run = run;
    const node = child.nodeChildProcess;
    let spawned = false;
    let exitWords: string | null = null;
    let stdoutDone = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (run.ended.settled || exitWords === null) return;
      clearTimeout(drainTimer);
      run.ended.resolve();
      this.#onExit(run, exitWords);
    };

    node.once("spawn", () => {
      spawned = true;
      if (this.#run !== run) return;
      run.pid = node.pid ?? null;
      if (GROUPS && run.pid !== null) run.family = new ProcessFamily(run.pid);
      this.#backoff.runStarted();
      this.#startFailed = false;
      if (this.#phase === "starting") this.#phase = "running";
      this.log.info({ pid: run.pid }, `agent "${this.name}" started (pid ${run.pid})`);
      this.#stableTimer = this.#clock.timer(this.#settings.stableRunMs, () => this.#onStableRun());
      this.#up.resolve();
      this.healthMaybeChanged();
    });
    // A failed start shows as an "error" event (ENOENT, EACCES, bad cwd) or, when spawn()
    // throws (e.g. an empty command), only as a failed result; there is no exit event then.
    let startFailed = false;
    const failStart = (error: unknown) => {
      if (spawned || startFailed) return;
      startFailed = true;
      run.ended.resolve();
      if (this.#run !== run) return;
      this.#run = null;
      this.#startFailed = true;
      this.#afterEnd(this.#startFailure(error));
    };
    node.on("error", (error) => {
      if (spawned) this.log.warn({ err: error }, `agent "${this.name}" process error`);
      else failStart(error);
    });
    child.then(
      (result) => failStart(result),
      (error: unknown) => failStart(error),
    );
    node.once("exit", (code, signal) => {
      exitWords = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (stdoutDone) finish();
      else {
        // Answers written just before the exit may still be in the pipe.
        drainTimer = setTimeout(finish, this.#settings.exitDrainMs);
      }
    });

    const reader = new NdjsonLineReader(
      this.#settings.maxLineBytes,
      (line) => this.peer.receive(line),
      (line) => this.#onOversize(line),
    );
    stdout.on("data", (chunk: Buffer) => reader.push(chunk));
    stdout.once("close", () => {
      reader.end();
      stdoutDone = true;
      finish();
    });
    stdout.on("error", () => {});

    const logStderr = this.#stderrLogger();
    const maxChars = this.#settings.stderrLineMaxChars;
    const stderrLines = new NdjsonLineReader(
      maxChars * 4,
      (line) => {
        run.lastStderr = line;
        logStderr.line(preview(line, maxChars));
      },
      (line) => logStderr.line(`${preview(line.head, maxChars)} (line of ${line.bytes} bytes cut)`),
    );
    stderr.on("data", (chunk: Buffer) => stderrLines.push(chunk));
    stderr.once("end", () => {
      stderrLines.end();
      logStderr.end();
    });
    stderr.on("error", () => {});
    stdin.on("error", (error) => {
      this.log.debug({ err: error }, "agent stdin closed");
    });
  }

  /** Logs stderr lines within the byte budget; counts the rest in one line now and then. */
  #stderrLogger(): { line(text: string): void; end(): void } {
    const { stderrLevel, stderrBytesPerS, stderrBurstBytes, stderrDropReportMs } = this.#settings;
    const log = this.log.child({ stream: "stderr" });
    const budget = new LogBudget(
      { bytesPerS: stderrBytesPerS, burstBytes: stderrBurstBytes },
      Date.now(),
    );
    let timer: NodeJS.Timeout | undefined;
    const report = () => {
      clearTimeout(timer);
      timer = undefined;
      const dropped = budget.takeDropped();
      if (!dropped) return;
      const seconds = Math.max(1, Math.round((Date.now() - dropped.sinceMs) / 1000));
      log.warn(
        { droppedLines: dropped.lines, droppedBytes: dropped.bytes },
        `agent "${this.name}" writes more to stderr than the log takes: ${dropped.lines} lines (${dropped.bytes} bytes) dropped in the last ${seconds} s (limit ${stderrBytesPerS} bytes/s, bursts of ${stderrBurstBytes}; stderrBytesPerS in the stdio settings)`,
      );
    };
    return {
      line: (text) => {
        if (budget.take(Buffer.byteLength(text) + LOG_LINE_OVERHEAD_BYTES, Date.now())) {
          log[stderrLevel](text);
        } else if (!timer) {
          timer = setTimeout(report, stderrDropReportMs);
          timer.unref();
        }
      },
      end: report,
    };
  }

  protected override write(message: string): void {
    const stdin = this.#run?.stdin;
    if (this.#phase !== "running" || !stdin || !stdin.writable) {
      throw new TransportError("AgentExited", `agent "${this.name}" is not running`, {
        connectionClass: true,
      });
    }
    stdin.write(`${message}\n`);
  }

  #onOversize(line: OversizeLine): void {
    const id = sniffRequestId(line);
    const limit = this.#settings.maxLineBytes;
    const error = new TransportError(
      "InvalidAgentResponse",
      `agent "${this.name}" wrote a line of ${line.bytes} bytes, over the ${limit}-byte limit (maxLineBytes); answer dropped`,
    );
    if (id !== null && this.peer.fail(id, error)) return;
    this.log.warn(
      { head: preview(line.head) },
      `agent "${this.name}" wrote a line of ${line.bytes} bytes, over the ${limit}-byte limit (maxLineBytes), for no known request; skipped`,
    );
  }

  #onExit(run: ChildRun, words: string): void {
    if (this.#run !== run) return;
    this.#run = null;
    this.#stableTimer?.cancel();
    const lastStderr = run.lastStderr ? `; last stderr: ${preview(run.lastStderr)}` : "";
    this.#lastExit = `${words}${lastStderr}`;
    const stopping = this.#phase === "closed";
    this.peer.failAll(
      new TransportError(
        "AgentExited",
        stopping
          ? `agent "${this.name}" was stopped while answering`
          : `agent "${this.name}" ${words} while answering${lastStderr}`,
        { connectionClass: true },
      ),
    );
    if (stopping) {
      this.log.info(`agent "${this.name}" stopped (${words})`);
      return;
    }
    // What it started may still run; stop that before a new run starts its own.
    void this.#stopLeftovers(run);
    this.#backoff.runEnded(); // a stable run starts the backoff over
    this.#afterEnd(`agent "${this.name}" ${words}${lastStderr}`);
  }

  #startFailure(error: unknown): string {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    let detail = code ?? (error instanceof Error ? error.message : String(error));
    // spawn reports a missing cwd as ENOENT too, which reads like a missing command.
    if (code === "ENOENT" && this.#cwd !== undefined && !existsSync(this.#cwd)) {
      detail = `ENOENT: its cwd ${this.#cwd} does not exist`;
    }
    const words = `could not start "${this.#command}" (${detail}); check command, args and cwd in agents.json (the command is looked up on the hub's PATH)`;
    this.#lastExit = `failed to start: ${detail}`;
    const failure = new TransportError("ConnectError", `agent "${this.name}" ${words}`, {
      connectionClass: true,
    });
    this.#up.reject(failure);
    return `agent "${this.name}" ${words}`;
  }

  /** After an unexpected end (exit or failed start): schedule a restart, spot a crash loop. */
  #afterEnd(description: string): void {
    if (this.#phase === "closed") return;
    this.#phase = "waiting";
    if (this.#up.settled) this.#up = new Deferred<void>();
    const loop = this.#exits.record(this.#clock.now());
    const delayMs = this.#backoff.nextDelayMs();
    if (loop && !this.#crashLooping) {
      this.#crashLooping = true;
      const windowS = Math.round(this.#settings.crashLoopWindowMs / 1000);
      this.log.error(
        `agent "${this.name}" is crash-looping (${this.#exits.count} exits within ${windowS} s; last: ${this.#lastExit}); marked unhealthy, still retrying every ≤ ${Math.round(this.#settings.restartMaxDelayMs / 1000)} s; fix its entry in agents.json or its program`,
      );
    } else if (!this.#crashLooping) {
      this.log.warn(`${description}; restarting in ${delayMs} ms`);
    }
    this.#restartTimer = this.#clock.timer(delayMs, () => {
      this.#restartTimer = undefined;
      if (this.#phase !== "waiting") return;
      this.#restarts++;
      this.#spawn();
    });
    this.healthMaybeChanged();
  }

  /** Healthy again after a crash loop (the backoff itself starts over when the run ends). */
  #onStableRun(): void {
    this.#exits.clear();
    if (this.#crashLooping) {
      this.#crashLooping = false;
      this.log.info(`agent "${this.name}" runs stably again; marked healthy`);
      this.healthMaybeChanged();
    }
  }

  /** Stops the process: close stdin, wait, SIGTERM, wait, SIGKILL. */
  protected override async stop(): Promise<void> {
    const wasPhase = this.#phase;
    this.#phase = "closed";
    this.#restartTimer?.cancel();
    this.#stableTimer?.cancel();
    if (!this.#up.settled) this.#up.reject(this.stoppedError());
    const run = this.#run;
    if (run && wasPhase !== "idle") {
      const { process: child, stdin, family } = run;
      const { stopGraceMs, killGraceMs } = this.#settings;
      // The whole family: the group, and (noted while the agent still leads to them) any
      // descendants that left it.
      const signal = (name: NodeJS.Signals) => {
        family?.survey();
        if (family) family.signal(name);
        else child.kill(name);
      };
      family?.survey();
      if (stdin.writable) stdin.end();
      if (!(await settlesWithin(run.ended.promise, stopGraceMs, this.#clock))) {
        this.log.info(
          `agent "${this.name}" did not exit on stdin EOF within ${stopGraceMs} ms; SIGTERM`,
        );
        signal("SIGTERM");
        if (!(await settlesWithin(run.ended.promise, killGraceMs, this.#clock))) {
          this.log.warn(`agent "${this.name}" ignored SIGTERM for ${killGraceMs} ms; SIGKILL`);
          signal("SIGKILL");
          if (!(await settlesWithin(run.ended.promise, killGraceMs, this.#clock))) {
            this.log.error(
              `agent "${this.name}" (pid ${run.pid}) did not exit after SIGKILL; check it with ps`,
            );
          }
        }
      }
      await this.#stopLeftovers(run);
    }
    this.peer.failAll(this.stoppedError());
    this.healthMaybeChanged();
  }

  /** Stops what an ended agent left running (helpers it did not stop on its way out). */
  async #stopLeftovers(run: ChildRun): Promise<void> {
    const family = run.family;
    if (!family) return;
    const left = family.alive();
    if (left.length === 0) return;
    this.log.info(
      `agent "${this.name}" left ${left.length} process${left.length === 1 ? "" : "es"} running (pid ${left.join(", ")}); stopping them`,
    );
    const survivors = await family.stop(this.#settings.killGraceMs);
    if (survivors.length > 0) {
      this.log.error(
        `agent "${this.name}": pid ${survivors.join(", ")} did not exit after SIGKILL; check with ps`,
      );
    }
  }

  protected override isHealthy(): boolean {
    return this.#phase !== "closed" && !this.#crashLooping && !this.#startFailed;
  }
}

/** What a log line costs besides its text (level, time, pid, agent, stream): counted in the budget. */
const LOG_LINE_OVERHEAD_BYTES = 128;

/** Process groups exist (POSIX): an agent then runs as the leader of one of its own. */
const GROUPS = process.platform !== "win32";

/** True when `promise` settles within `ms` on `clock`. */
async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
  clock: Clock,
): Promise<boolean> {
  const done = new AbortController();
  const timeout = clock.sleep(ms, done.signal).then(
    () => false,
    () => false,
  );
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    done.abort();
  }
}
