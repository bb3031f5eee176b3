// What the relay link's own state does not keep: since when the command stream is open, why it
// closed the last times, how many publish POSTs went out per second lately, and how long the
// oldest unacknowledged event has waited. Pure and bounded; fed by the recorder and the link's
// `connected`/`disconnected` events.

import { withDefaults } from "../system/settings.ts";

export interface Disconnect {
  at: number;
  /** The error that ended the stream, or null when the relay closed it cleanly. */
  reason: string | null;
}

interface LinkHistoryView {
  /** When the command stream last opened, while it is open; else null. */
  connectedSince: number | null;
  /** Stream openings after the first. */
  reconnects: number;
  /** The latest first. */
  disconnects: Disconnect[];
  /** POST attempts per second over the last `rateWindowS` seconds. */
  postsPerS: number;
  /** When the oldest event not yet acknowledged was queued (this run), or null. */
  oldestQueuedAt: number | null;
}

export interface LinkHistorySettings {
  /** Disconnect reasons kept. */
  maxDisconnects: number;
  /** The window of the POST rate. */
  rateWindowS: number;
  /** Unacknowledged events whose queue time is tracked; the oldest are forgotten past this. */
  maxTrackedEvents: number;
}

const DEFAULT_LINK_HISTORY_SETTINGS: LinkHistorySettings = {
  maxDisconnects: 50,
  rateWindowS: 10,
  maxTrackedEvents: 100_000,
};

export class LinkHistory {
  readonly #settings: LinkHistorySettings;
  readonly #now: () => number;
  #connectedSince: number | null = null;
  #opened = 0;
  readonly #disconnects: Disconnect[] = [];
  /** POST attempts per whole second (epoch seconds → count), the last `rateWindowS` + 1 only. */
  readonly #posts = new Map<number, number>();
  /** Unacknowledged events by response_seq → queue time; insertion order is queue order. */
  readonly #unacked = new Map<number, number>();

  constructor(now: () => number, settings: Partial<LinkHistorySettings> = {}) {
    this.#now = now;
    this.#settings = withDefaults(DEFAULT_LINK_HISTORY_SETTINGS, settings);
  }

  connected(): void {
    this.#opened += 1;
    this.#connectedSince = this.#now();
  }

  disconnected(reason: string | null): void {
    this.#connectedSince = null;
    this.#disconnects.unshift({ at: this.#now(), reason });
    if (this.#disconnects.length > this.#settings.maxDisconnects) this.#disconnects.pop();
  }

  queued(responseSeq: number): void {
    this.#unacked.set(responseSeq, this.#now());
    if (this.#unacked.size > this.#settings.maxTrackedEvents) {
      this.#unacked.delete(this.#unacked.keys().next().value as number);
    }
  }

  /** One POST went out with these events; `done`: they left the queue (acked or dropped). */
  posted(responseSeqs: readonly number[], done: boolean): void {
    const second = Math.floor(this.#now() / 1000);
    this.#posts.set(second, (this.#posts.get(second) ?? 0) + 1);
    for (const old of this.#posts.keys()) {
      if (old > second - this.#settings.rateWindowS - 1) break;
      this.#posts.delete(old);
    }
    if (done) for (const seq of responseSeqs) this.#unacked.delete(seq);
  }

  /**
   * `depth`: the queue's own count of unacknowledged events. Events it dropped on its own
   * (its bounds, its age limit: always the oldest first) are forgotten here to match.
   */
  view(depth: number): LinkHistoryView {
    while (this.#unacked.size > Math.max(0, depth)) {
      this.#unacked.delete(this.#unacked.keys().next().value as number);
    }
    const now = this.#now();
    const second = Math.floor(now / 1000);
    const window = this.#settings.rateWindowS;
    let posts = 0;
    for (const [at, count] of this.#posts) {
      // The current second is still filling: count the whole seconds before it.
      if (at >= second - window && at < second) posts += count;
    }
    const oldest = this.#unacked.values().next();
    return {
      connectedSince: this.#connectedSince,
      reconnects: Math.max(0, this.#opened - 1),
      disconnects: [...this.#disconnects],
      postsPerS: posts / window,
      oldestQueuedAt: oldest.done ? null : oldest.value,
    };
  }
}
