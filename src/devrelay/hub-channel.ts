// One hub's command stream: the live SSE session (at most one; a new connection ends the old
// one, as hybro.ai does), a bounded replay buffer of delivered commands for `Last-Event-ID`, and a bounded,
// TTL'd queue of commands waiting while the hub is offline.
import type { ServerResponse } from "node:http";
import type { RelayCommand } from "../wire/relay.ts";
import { isWritable, openEventStream, sseFrame } from "./sse.ts";

interface HubChannelSettings {
  sseHeartbeatMs: number;
  offlineQueueTtlMs: number;
  offlineQueueMax: number;
  replayBufferSize: number;
}

export interface QueuedCommand {
  seq: number;
  /** SSE `id:` — `<relay epoch>-<seq>`, so ids from an earlier relay run are recognised as such. */
  id: string;
  command: RelayCommand;
  frame: string;
  enqueuedAtMs: number;
}

interface HubChannelEvents {
  connected(info: {
    lastEventId: string | null;
    replayed: number;
    queued: number;
    /** A live session was ended for this one (two processes with one hub id do this to each other). */
    replaced: boolean;
  }): void;
  disconnected(): void;
  delivered(entry: QueuedCommand): void;
  dropped(entry: QueuedCommand, reason: "expired" | "overflow"): void;
}

interface Session {
  res: ServerResponse;
  heartbeat: NodeJS.Timeout;
}

const CONNECTION_READY = sseFrame(JSON.stringify({ type: "connection_ready" }));
const HEARTBEAT = sseFrame(JSON.stringify({ type: "heartbeat" }));

export class HubChannel {
  readonly hubId: string;
  private readonly epoch: string;
  private readonly settings: HubChannelSettings;
  private readonly events: HubChannelEvents;
  private readonly now: () => number;
  private session: Session | null = null;
  private nextSeq = 1;
  private readonly replay: QueuedCommand[] = [];
  private readonly pending: QueuedCommand[] = [];

  constructor(
    hubId: string,
    epoch: string,
    settings: HubChannelSettings,
    events: HubChannelEvents,
    now: () => number = Date.now,
  ) {
    this.hubId = hubId;
    this.epoch = epoch;
    this.settings = settings;
    this.events = events;
    this.now = now;
  }

  get online(): boolean {
    return this.session !== null && isWritable(this.session.res);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Delivers a command on the live stream, or keeps it until the hub connects. */
  enqueue(command: RelayCommand): QueuedCommand {
    const seq = this.nextSeq++;
    const id = `${this.epoch}-${seq}`;
    const entry: QueuedCommand = {
      seq,
      id,
      command,
      frame: sseFrame(JSON.stringify(command), id),
      enqueuedAtMs: this.now(),
    };
    if (this.online) {
      this.write(entry);
    } else {
      this.pruneExpired();
      this.pending.push(entry);
      while (this.pending.length > this.settings.offlineQueueMax) {
        const dropped = this.pending.shift();
        if (dropped) this.events.dropped(dropped, "overflow");
      }
    }
    return entry;
  }

  /**
   * Serves a new event-stream session on `res`: `connection_ready`, then what the hub missed
   * after `lastEventId` (same relay run only), then the offline queue, then live commands.
   */
  attach(res: ServerResponse, lastEventId: string | null, headers: Record<string, string>): void {
    const replaced = this.session !== null;
    this.detachCurrent();
    openEventStream(res, headers);
    const heartbeat = setInterval(() => {
      if (isWritable(res)) res.write(HEARTBEAT);
    }, this.settings.sseHeartbeatMs);
    heartbeat.unref();
    const session: Session = { res, heartbeat };
    this.session = session;
    res.on("close", () => {
      clearInterval(heartbeat);
      if (this.session === session) {
        this.session = null;
        this.events.disconnected();
      }
    });
    res.write(CONNECTION_READY);

    let replayed = 0;
    const lastSeq = this.seqOf(lastEventId);
    if (lastSeq !== null) {
      for (const entry of this.replay) {
        if (entry.seq > lastSeq) {
          res.write(entry.frame);
          replayed++;
        }
      }
    }
    this.pruneExpired();
    const queued = this.pending.length;
    for (const entry of this.pending.splice(0)) this.write(entry);
    this.events.connected({ lastEventId, replayed, queued, replaced });
  }

  /** Ends the live session, if any (the hub will reconnect). */
  detachCurrent(): void {
    const session = this.session;
    if (!session) return;
    this.session = null;
    clearInterval(session.heartbeat);
    session.res.end();
    this.events.disconnected();
  }

  /** Ends the session and forgets queued commands; for relay shutdown. */
  close(): void {
    const session = this.session;
    this.session = null;
    if (session) {
      clearInterval(session.heartbeat);
      session.res.end();
      session.res.destroy();
    }
    this.pending.length = 0;
  }

  private write(entry: QueuedCommand): void {
    this.session?.res.write(entry.frame);
    this.replay.push(entry);
    if (this.replay.length > this.settings.replayBufferSize) this.replay.shift();
    this.events.delivered(entry);
  }

  /** The sequence number inside an id from this relay run; null for none or a foreign id. */
  private seqOf(lastEventId: string | null): number | null {
    if (!lastEventId) return null;
    const dash = lastEventId.lastIndexOf("-");
    if (dash <= 0 || lastEventId.slice(0, dash) !== this.epoch) return null;
    const seq = Number(lastEventId.slice(dash + 1));
    return Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
  }

  private pruneExpired(): void {
    const cutoff = this.now() - this.settings.offlineQueueTtlMs;
    while (this.pending.length > 0 && (this.pending[0]?.enqueuedAtMs ?? 0) <= cutoff) {
      const dropped = this.pending.shift();
      if (dropped) this.events.dropped(dropped, "expired");
    }
  }
}
