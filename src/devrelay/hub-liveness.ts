// Which connected hubs stopped sending heartbeat POSTs (hybro.ai: a hub silent for
// `heartbeat_miss_limit` × `heartbeat_interval` = 3 × 30 s is disconnected, checked every
// interval). Pure: the relay core feeds it and asks, on its own timer, who is stale.

interface HubLivenessSettings {
  /** The heartbeat period the relay expects, and how often it checks. */
  hubHeartbeatIntervalMs: number;
  /** Intervals without a heartbeat POST after which a connected hub is disconnected. */
  hubHeartbeatMissLimit: number;
}

export class HubLiveness {
  readonly #settings: HubLivenessSettings;
  readonly #now: () => number;
  /** Connected hubs and when each was last heard from (stream opened, or heartbeat). */
  readonly #lastHeard = new Map<string, number>();

  constructor(settings: HubLivenessSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  /** How long a connected hub may stay silent. */
  get silenceLimitMs(): number {
    return this.#settings.hubHeartbeatIntervalMs * this.#settings.hubHeartbeatMissLimit;
  }

  /** A stream opened: the hub counts as heard from now (as hybro.ai does on connect). */
  connected(hubId: string): void {
    this.#lastHeard.set(hubId, this.#now());
  }

  /** Its stream ended: nothing to watch. */
  disconnected(hubId: string): void {
    this.#lastHeard.delete(hubId);
  }

  /** A heartbeat POST; one from a hub without a stream changes nothing. */
  heartbeat(hubId: string): void {
    if (this.#lastHeard.has(hubId)) this.#lastHeard.set(hubId, this.#now());
  }

  /** Connected hubs silent for longer than the limit, with how long. */
  stale(): Array<{ hubId: string; silentMs: number }> {
    const now = this.#now();
    const stale: Array<{ hubId: string; silentMs: number }> = [];
    for (const [hubId, heard] of this.#lastHeard) {
      if (now - heard > this.silenceLimitMs) stale.push({ hubId, silentMs: now - heard });
    }
    return stale;
  }
}
