// What the ends of command-stream sessions say about the hub's setup, and how slowly to
// reconnect because of it. Pure (clock and randomness injected): the stream loop reports each
// session's end here and waits at least `floorMs()` before the next connect.
//
// Two patterns are setup problems, not network ones, and reconnecting fast cannot fix them:
// - refused: the relay answers the stream with `{"type":"error","error":"…"}` (hybro.ai does so
//   when the hub id is not registered to the key's account). The first refusal gets one normal
//   retry after registering again (a relay that forgot the hub takes it back); a refusal right
//   after that is the setup problem, retried slowly.
// - duplicate hub: the relay ends a hub's stream when another stream opens for the same hub id,
//   so two processes with one hub id end each other's streams right after they open. Several
//   clean ends of streams that had opened, within a window, are that pattern.
import { Backoff, type Random } from "../async/backoff.ts";

export interface StreamHealthSettings {
  /** Clean ends by the relay of streams that had opened (`connection_ready`) that make the duplicate-hub pattern… */
  duplicateHubCloses: number;
  /** …when they fall within this long; a stream that then stays open this long ends the suspicion. */
  duplicateHubWindowMs: number;
  /** First ceiling of the slow reconnect delay (equal jitter below it); doubles per such session. */
  slowReconnectBaseMs: number;
  /** Cap of the slow reconnect delay. */
  slowReconnectMaxMs: number;
}

type StreamProblemKind = "refused" | "duplicate_hub";

/** A setup problem seen on the command stream (JSON-safe; shown by `status` and `doctor`). */
export interface StreamProblem {
  kind: StreamProblemKind;
  /** One line: what is wrong and what to do. */
  message: string;
  /** The relay's own words (refused), else null. */
  reason: string | null;
  /** When it started (epoch ms). */
  since: number;
  /** Stream sessions that ended this way since it started. */
  sessions: number;
}

/** How one session ended, as far as these patterns care. */
type SessionEnd =
  /** The relay sent the `error` event (or refused the stream for this hub). */
  | { kind: "refused"; reason: string }
  /** The relay ended the stream cleanly; `ready`: it had sent `connection_ready`. */
  | { kind: "closed"; ready: boolean }
  /** A network or HTTP failure: not a setup pattern. */
  | { kind: "failed" };

export interface SessionVerdict {
  /** The problem after this session (null: none). */
  problem: StreamProblem | null;
  /** True when this session started the problem or changed its reason: say it once, loudly. */
  started: boolean;
  /** A problem that ended before this session ended (the duplicate suspicion wore off). */
  ended: StreamProblem | null;
}

export class StreamHealth {
  readonly #hubId: string;
  readonly #settings: StreamHealthSettings;
  readonly #now: () => number;
  #problem: StreamProblem | null = null;
  /** Refusals in a row (no accepted stream between them). */
  #refusals = 0;
  /** Clean ends of opened streams within the window (epoch ms). */
  #closes: number[] = [];
  /** Slow steps taken for the duplicate-hub problem. */
  #duplicateSteps = 0;
  /** When the current session got `connection_ready`; null while none is open. */
  #readyAt: number | null = null;

  constructor(hubId: string, settings: StreamHealthSettings, now: () => number = Date.now) {
    this.#hubId = hubId;
    this.#settings = settings;
    this.#now = now;
  }

  /** The relay accepted the stream (`connection_ready`). Returns the refusal this ends, if any. */
  ready(): StreamProblem | null {
    this.#readyAt = this.#now();
    this.#refusals = 0;
    if (this.#problem?.kind !== "refused") return null;
    const ended = this.#problem;
    this.#problem = null;
    return ended;
  }

  /** A session ended (after open or not). */
  ended(end: SessionEnd): SessionVerdict {
    const now = this.#now();
    const readyAt = this.#readyAt;
    this.#readyAt = null;
    const ended = this.#wearOff(now, readyAt);
    let started = false;
    if (end.kind === "refused") {
      this.#refusals += 1;
      const previous = this.#problem;
      started = previous?.kind !== "refused" || previous.reason !== end.reason;
      this.#problem = {
        kind: "refused",
        message: refusedMessage(this.#hubId, end.reason),
        reason: end.reason,
        since: started || !previous ? now : previous.since,
        sessions: started || !previous ? 1 : previous.sessions + 1,
      };
    } else if (end.kind === "closed" && end.ready) {
      this.#closes = this.#closes.filter((at) => now - at < this.#settings.duplicateHubWindowMs);
      this.#closes.push(now);
      if (this.#problem?.kind === "duplicate_hub") {
        this.#problem.sessions += 1;
        this.#duplicateSteps += 1;
      } else if (
        this.#problem === null &&
        this.#closes.length >= this.#settings.duplicateHubCloses
      ) {
        started = true;
        this.#duplicateSteps = 1;
        this.#problem = {
          kind: "duplicate_hub",
          message: duplicateMessage(this.#hubId, this.#closes.length, this.#settings),
          reason: null,
          since: now,
          sessions: this.#closes.length,
        };
      }
    }
    return { problem: this.problem(), started, ended };
  }

  /** The problem now; a duplicate-hub suspicion wears off once a stream stays open long enough. */
  problem(): StreamProblem | null {
    this.#wearOff(this.#now(), this.#readyAt);
    return this.#problem ? { ...this.#problem } : null;
  }

  /**
   * The least wait before the next connect: 0 while the relay accepts the hub (and after a first
   * refusal, which gets one normal retry); else the slow delay, growing per session.
   */
  floorMs(random: Random): number {
    const steps =
      this.#problem?.kind === "refused"
        ? this.#refusals - 1
        : this.#problem?.kind === "duplicate_hub"
          ? this.#duplicateSteps
          : 0;
    if (steps <= 0) return 0;
    // Equal jitter: at least half the slow delay is always waited.
    const { slowReconnectBaseMs: baseDelayMs, slowReconnectMaxMs: maxDelayMs } = this.#settings;
    const slow = new Backoff({ baseDelayMs, maxDelayMs, jitter: "equal" }, { random });
    return slow.delayAfterMs(steps - 1);
  }

  /** Ends a duplicate suspicion when the current (or just ended) stream was open a whole window. */
  #wearOff(now: number, readyAt: number | null): StreamProblem | null {
    const problem = this.#problem;
    if (problem?.kind !== "duplicate_hub" || readyAt === null) return null;
    if (now - readyAt < this.#settings.duplicateHubWindowMs) return null;
    this.#problem = null;
    this.#closes = [];
    this.#duplicateSteps = 0;
    return problem;
  }
}

function refusedMessage(hubId: string, reason: string): string {
  return (
    `the relay refused the command stream of hub id ${hubId}: "${reason}". ` +
    "It does so when the hub id is not registered to this API key's account, e.g. it was " +
    "registered with another account's key (a data directory copied to another machine). " +
    "The hub registers again and retries slowly; give each machine its own hub id (stop the " +
    "copy, delete the hub_id file in its data directory, start it again) and one account's key"
  );
}

function duplicateMessage(hubId: string, closes: number, settings: StreamHealthSettings): string {
  return (
    `another hub is using hub id ${hubId} — is hybro-hub running twice, or was the data ` +
    `directory copied? The relay ended this hub's command stream right after it opened ${closes} ` +
    `times within ${formatSpan(settings.duplicateHubWindowMs)}, which it does when another ` +
    "process opens a stream for the same hub id. Reconnecting slowly; stop the other hub, or " +
    "give the copy its own hub id (delete the hub_id file in its data directory, restart it)"
  );
}

function formatSpan(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
