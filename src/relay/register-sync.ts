// Registering the hub and syncing its roster (relay-wire.md sections 1 and 2), on the one Backoff
// and the link's clock.
//
// One registration at a time, shared by every caller that saw a 404 (sync, heartbeat, stream,
// publisher) and retried until it works; after a re-registration the roster is synced again
// (the relay forgot it). One sync loop posts the whole roster when it changed or when forced,
// retried with backoff; `run` forces one every `resyncIntervalMs`. The relay link decides when
// the first registration and sync happen (before the command stream opens).
import { Backoff } from "../async/backoff.ts";
import type { Timer } from "../async/clock.ts";
import { Deferred, untilSettled } from "../async/deferred.ts";
import type { SyncAgent } from "../wire/relay.ts";
import { reportFailure } from "./failure-policy.ts";
import type { RelayLoopOptions } from "./loop-options.ts";
import { type AgentNotKept, SyncReceipts } from "./sync-receipt.ts";

interface RegisterSyncOptions extends RelayLoopOptions {
  /** The whole roster as synced to the relay; called for every sync. */
  roster: () => SyncAgent[];
  /** The link's lifetime: every call and wait here ends when it aborts. */
  signal: AbortSignal;
  /** A sync was acknowledged; the count of agents the relay kept. */
  onSynced: (agentsSynced: number) => void;
}

interface RegisterSyncState {
  registered: boolean;
  userId: string | null;
  agentsSynced: number;
  lastSyncAt: number | null;
  notKept: AgentNotKept[];
}

export class RegisterSync {
  readonly #options: RegisterSyncOptions;
  readonly #receipts: SyncReceipts;
  #registered = false;
  #userId: string | null = null;
  #registering: Promise<void> | null = null;
  #lastSync: { agents: number; at: number } | null = null;
  /** The roster the relay holds as far as we know (cleared when it may have forgotten it). */
  #heldByRelay: string | null = null;
  /** The roster last acknowledged, kept for logging changes only. */
  #lastSent: string | null = null;
  #syncing: Promise<void> | null = null;
  #pending = false;
  #pendingForce = false;
  #debounce: Timer | null = null;

  constructor(options: RegisterSyncOptions) {
    this.#options = options;
    this.#receipts = new SyncReceipts(options.logger);
    options.signal.addEventListener("abort", () => this.#debounce?.cancel(), { once: true });
  }

  state(): RegisterSyncState {
    return {
      registered: this.#registered,
      userId: this.#userId,
      agentsSynced: this.#lastSync?.agents ?? 0,
      lastSyncAt: this.#lastSync?.at ?? null,
      notKept: this.#receipts.list(),
    };
  }

  /** Why the relay did not keep this agent at the last sync, or null. */
  notKeptReason(localAgentId: string): string | null {
    return this.#receipts.reasonFor(localAgentId);
  }

  /** Settles once no registration or sync is under way (for close). */
  async settled(): Promise<void> {
    await Promise.allSettled([this.#syncing, this.#registering]);
  }

  /**
   * Registers (again), retrying network/5xx/429 failures forever with backoff; one registration
   * shared by every caller, each of which stops waiting on its own `signal`. Rejects on a refused
   * key or abort.
   */
  register(signal: AbortSignal): Promise<void> {
    this.#registering ??= this.#registerUntilDone().finally(() => {
      this.#registering = null;
    });
    const registering = this.#registering;
    return signal === this.#options.signal
      ? registering
      : untilSettled(registering, signal, abortError());
  }

  /** Runs the (single) sync loop; `force` posts even an unchanged roster. */
  sync(force: boolean): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#pending = true;
    if (force) this.#pendingForce = true;
    this.#syncing ??= this.#syncUntilIdle().finally(() => {
      this.#syncing = null;
    });
    return this.#syncing;
  }

  /** The relay may have lost our roster (it sent `connection_ready`): sync even if unchanged. */
  relayMayHaveForgotten(): void {
    this.#heldByRelay = null;
    void this.sync(true);
  }

  /** Roster changed: sync after `syncDebounceMs` (skipped when identical unless `force`). */
  requestSync(force: boolean): void {
    if (this.#stopped) return;
    if (force) this.#pendingForce = true;
    this.#debounce?.cancel();
    this.#debounce = this.#options.clock.timer(this.#options.settings.syncDebounceMs, () => {
      this.#debounce = null;
      // Not registered yet: the sync that follows registration takes the new roster.
      if (!this.#registered) this.#pending = true;
      else void this.sync(false);
    });
  }

  /** A forced sync every `resyncIntervalMs` until `signal` aborts. */
  run(signal: AbortSignal): Promise<void> {
    const done = new Deferred<void>();
    let timer: Timer | null = null;
    const arm = () => {
      timer = this.#options.clock.timer(this.#options.settings.resyncIntervalMs, () => {
        void this.sync(true);
        arm();
      });
    };
    const stop = () => {
      timer?.cancel();
      done.resolve();
    };
    if (signal.aborted) stop();
    else {
      arm();
      signal.addEventListener("abort", stop, { once: true });
    }
    return done.promise;
  }

  get #stopped(): boolean {
    return this.#options.signal.aborted;
  }

  async #registerUntilDone(): Promise<void> {
    const { client, hubId, logger, signal } = this.#options;
    const wasRegistered = this.#registered;
    this.#registered = false;
    const backoff = this.#backoff();
    for (;;) {
      try {
        const answer = await client.register(hubId, signal);
        this.#registered = true;
        this.#userId = answer.user_id;
        logger.info(
          { hubId, userId: answer.user_id },
          wasRegistered
            ? "registered with the relay again"
            : `registered with the relay at ${client.gatewayUrl}`,
        );
        if (wasRegistered) this.relayMayHaveForgotten();
        return;
      } catch (error) {
        if (this.#stopped) throw abortError();
        const { failure, plan } = reportFailure("register", error, this.#options);
        if (plan.stop) throw failure;
        const attempt = backoff.failures;
        const waitMs = backoff.nextDelayMs(failure.retryAfterMs ?? 0);
        const level =
          failure.kind === "permanent"
            ? "error"
            : attempt === 0 || attempt % 10 === 0
              ? "warn"
              : "debug";
        logger[level](
          { call: "register", attempt: attempt + 1 },
          `cannot register with the relay at ${client.gatewayUrl}: ${failure.message} (next try in ${waitMs} ms)`,
        );
        await this.#wait(waitMs, false);
        if (this.#stopped) throw abortError();
      }
    }
  }

  async #syncUntilIdle(): Promise<void> {
    const { client, hubId, logger, signal } = this.#options;
    const backoff = this.#backoff();
    while (this.#pending && !this.#stopped) {
      const force = this.#pendingForce;
      this.#pending = false;
      this.#pendingForce = false;
      let roster: SyncAgent[];
      try {
        roster = this.#options.roster();
      } catch (error) {
        logger.error(
          { err: error instanceof Error ? error.message : String(error) },
          "could not read the agent roster; sync skipped",
        );
        continue;
      }
      const payload = JSON.stringify(roster);
      if (!force && payload === this.#heldByRelay) continue;
      try {
        const answer = await client.syncAgents(hubId, roster, signal);
        const changed = payload !== this.#lastSent;
        this.#lastSent = payload;
        this.#heldByRelay = payload;
        this.#lastSync = { agents: answer.synced.length, at: this.#options.clock.now() };
        this.#receipts.record(roster, answer);
        backoff.reset();
        // Periodic keep-alive syncs of an unchanged roster stay out of the info log.
        logger[changed ? "info" : "debug"](
          { agents: roster.length, synced: answer.synced.length },
          "agents synced with the relay",
        );
        this.#options.onSynced(answer.synced.length);
      } catch (error) {
        if (this.#stopped) return;
        const { failure, plan } = reportFailure("sync", error, this.#options);
        if (plan.stop) return;
        if (!plan.retry) {
          // A refused hub is synced again after the stream is accepted (`connection_ready`).
          logger[failure.kind === "permanent" ? "error" : "warn"](
            { call: "sync", agents: roster.length },
            failure.message,
          );
          this.#heldByRelay = null;
          continue;
        }
        // Try again (forced: the relay's view is unknown), after re-registering on a 404.
        this.#pending = true;
        this.#pendingForce = true;
        if (plan.reregister) {
          logger.warn({ call: "sync" }, failure.message);
          try {
            await this.register(signal);
          } catch {
            return;
          }
        }
        const waitMs = backoff.nextDelayMs(failure.retryAfterMs ?? 0);
        if (!plan.reregister) {
          logger.warn(
            { call: "sync" },
            `agent sync failed: ${failure.message} (next try in ${waitMs} ms)`,
          );
        }
        await this.#wait(waitMs, true);
      }
    }
  }

  /** A fresh backoff for one register or sync loop (full jitter: spreads a crowd of hubs). */
  #backoff(): Backoff {
    const { settings, clock, random } = this.#options;
    return new Backoff(
      {
        baseDelayMs: settings.reconnectBaseDelayMs,
        maxDelayMs: settings.reconnectMaxDelayMs,
        jitter: "full",
      },
      { clock, random },
    );
  }

  /** Waits on the link's clock; its abort ends the wait early (callers check `#stopped`). */
  async #wait(ms: number, unref: boolean): Promise<void> {
    await this.#options.clock.sleep(ms, this.#options.signal, { unref }).catch(() => undefined);
  }
}

function abortError(): Error {
  return new DOMException("The relay link was stopped", "AbortError");
}
