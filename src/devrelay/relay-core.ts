// The development relay's state and domain operations, without HTTP: keys, the hub roster,
// each hub's command channel, the turns' published events, gateway conversations, rate
// limits. The HTTP layer (server.ts and the *-api.ts files) calls into this; tests reach it
// through `DevRelay`.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import type { Logger } from "../log/logger.ts";
import type {
  CancelTaskCommand,
  PublishedEvent,
  RelayCommand,
  SyncAgent,
  UserMessageCommand,
  UserReplyCommand,
} from "../wire/relay.ts";
import { Conversations } from "./conversations.ts";
import { HubChannel, type QueuedCommand } from "./hub-channel.ts";
import { HubLiveness } from "./hub-liveness.ts";
import { type DropReason, PublishIngest } from "./ingest.ts";
import { KeyRing } from "./key-ring.ts";
import { AuthFailureThrottle, RateLimiter } from "./rate-limit.ts";
import { Roster, toSyncAgent } from "./roster.ts";
import type { DevRelaySettings } from "./settings.ts";
import { refuseEventStream } from "./sse.ts";
import type { RelayStore } from "./store.ts";
import { TurnLog } from "./turn-log.ts";

export interface PublishContext {
  hubId: string;
  roomId: string;
}

/** What `DevRelay` emits, for tests and tools that want to await relay-side facts. */
export interface DevRelayEvents {
  /** `movedFrom`: the user the hub belonged to before this register moved it. */
  hubRegistered: [{ hubId: string; userId: string; created: boolean; movedFrom: string | null }];
  /** `agents`: the entries kept; `left`: entries left out (invalid card). */
  agentsSynced: [{ hubId: string; agents: SyncAgent[]; pruned: string[]; left: number }];
  hubConnected: [
    {
      hubId: string;
      lastEventId: string | null;
      replayed: number;
      queued: number;
      /** The hub's previous stream was ended for this one. */
      replaced: boolean;
    },
  ];
  hubDisconnected: [{ hubId: string }];
  /** A connected hub sent no heartbeat POST for too long; its stream was ended. */
  hubStale: [{ hubId: string; silentMs: number }];
  /** An event stream was refused with the `error` event (the hub is not the key's user's). */
  streamRefused: [{ hubId: string; userId: string; reason: string }];
  heartbeat: [{ hubId: string }];
  commandDelivered: [{ hubId: string; id: string; command: RelayCommand }];
  commandDropped: [
    { hubId: string; id: string; command: RelayCommand; reason: "expired" | "overflow" },
  ];
  /** An event stored (as the relay stores it: `type`, `agent_message_id`, `data`). */
  published: [PublishedEvent, PublishContext];
  /** A retried event recognised by its idempotency key and dropped. */
  duplicate: [PublishedEvent, PublishContext];
  /** An event dropped without an error, as hybro.ai drops it (the POST still answers 204). */
  dropped: [PublishedEvent, PublishContext, DropReason];
  /** The first `processing_status` of a turn was applied. */
  turnFinished: [{ agentMessageId: string; events: PublishedEvent[] }];
}

export interface PublishStats {
  posts: number;
  /** Events stored. */
  events: number;
  /** Retried events recognised by their idempotency key. */
  duplicatesDropped: number;
  /** Events dropped silently, by reason. */
  dropped: Record<DropReason, number>;
}

export interface HubView {
  hubId: string;
  userId: string;
  online: boolean;
  /** The hub's active agents as last synced. */
  agents: SyncAgent[];
}

export class RelayCore extends EventEmitter<DevRelayEvents> {
  readonly settings: DevRelaySettings;
  readonly logger: Logger;
  readonly store: RelayStore;
  readonly keys: KeyRing;
  readonly roster: Roster;
  readonly turns: TurnLog;
  /** Lineage, cancellations and idempotency keys of published events (hybro.ai's rules). */
  readonly ingest: PublishIngest;
  readonly conversations: Conversations;
  readonly limiter: RateLimiter;
  /** Failed authentications per source address. */
  readonly authFailures: AuthFailureThrottle;
  /** Connected hubs and their heartbeats: the silent ones are disconnected. */
  readonly liveness: HubLiveness;
  private livenessTimer: NodeJS.Timeout | null = null;
  /** Prefix of SSE ids of this relay run, so ids of an earlier run are never mistaken. */
  readonly epoch = randomBytes(4).toString("hex");
  protected readonly channels = new Map<string, HubChannel>();
  protected readonly lastHeartbeatMs = new Map<string, number>();
  protected posts = 0;
  protected readonly drops: Record<DropReason, number> = {
    not_routed: 0,
    cancelled: 0,
    foreign_user_message_id: 0,
  };
  /** Base URL the relay serves on (set once listening); gateway URLs in cards point here. */
  baseUrl = "";
  /** Set while shutting down: no new commands are worth queueing. */
  closing = false;

  constructor(settings: DevRelaySettings, store: RelayStore, logger: Logger) {
    super();
    this.setMaxListeners(0);
    this.settings = settings;
    this.logger = logger;
    this.store = store;
    this.keys = new KeyRing(store, settings);
    this.roster = new Roster(store);
    this.turns = new TurnLog(settings.turnHistoryMax);
    this.ingest = new PublishIngest(store, settings.turnHistoryMax, logger);
    this.conversations = new Conversations(settings.conversationMemoryMax);
    this.liveness = new HubLiveness(settings);
    this.limiter = new RateLimiter(settings.rateLimits);
    this.authFailures = new AuthFailureThrottle(settings.authFailureLimits);
  }

  /** The command channel of a hub (made on first use; commands wait there until it connects). */
  channel(hubId: string): HubChannel {
    let channel = this.channels.get(hubId);
    if (!channel) {
      channel = new HubChannel(hubId, this.epoch, this.settings, {
        connected: (info) => {
          this.liveness.connected(hubId);
          if (info.replaced) {
            this.logger.warn(
              { hubId },
              "a new event stream for this hub ended its previous one (as hybro.ai does); two processes with one hub id keep doing this to each other",
            );
          }
          this.logger.info({ hubId, ...info }, "hub event stream connected");
          this.emit("hubConnected", { hubId, ...info });
        },
        disconnected: () => {
          this.liveness.disconnected(hubId);
          this.logger.info({ hubId }, "hub event stream closed");
          this.emit("hubDisconnected", { hubId });
        },
        delivered: (entry: QueuedCommand) =>
          this.emit("commandDelivered", { hubId, id: entry.id, command: entry.command }),
        dropped: (entry: QueuedCommand, reason) => {
          this.logger.warn(
            { hubId, id: entry.id, type: entry.command.type ?? "user_message", reason },
            "dropped a command for an offline hub",
          );
          this.emit("commandDropped", { hubId, id: entry.id, command: entry.command, reason });
        },
      });
      this.channels.set(hubId, channel);
    }
    return channel;
  }

  /**
   * Sends a command to a hub: on its live stream now, or when it connects (bounded, TTL'd). A
   * `user_message` / `user_reply` routes its agent message to the hub (only then may the hub
   * publish for it); a `cancel_task` naming an agent message cancels it (its events are dropped).
   */
  sendCommand(hubId: string, command: RelayCommand): string {
    const type = command.type ?? "user_message";
    if (type === "user_message" || type === "user_reply") {
      const turn = command as UserMessageCommand | UserReplyCommand;
      this.ingest.route(hubId, this.roster.hub(hubId)?.userId ?? "", turn);
    } else if (type === "cancel_task") {
      const cancel = command as CancelTaskCommand;
      if (cancel.agent_message_id) this.ingest.cancel(cancel.agent_message_id);
    }
    return this.channel(hubId).enqueue(command).id;
  }

  isOnline(hubId: string): boolean {
    return this.channels.get(hubId)?.online ?? false;
  }

  noteHeartbeat(hubId: string): void {
    this.lastHeartbeatMs.set(hubId, Date.now());
    this.liveness.heartbeat(hubId);
    this.emit("heartbeat", { hubId });
  }

  /**
   * Applies one publish POST (already validated, hub and room checked), event by event in order,
   * as hybro.ai does: stored, dropped as a retry (same idempotency key), or dropped silently.
   */
  applyPublish(hubId: string, roomId: string, events: PublishedEvent[]): void {
    this.posts++;
    const context: PublishContext = { hubId, roomId };
    const keys: string[] = [];
    for (const received of events) {
      const outcome = this.ingest.admit(hubId, roomId, received);
      if (outcome.kind === "dropped") {
        this.drops[outcome.reason]++;
        this.emit("dropped", received, context, outcome.reason);
        continue;
      }
      if (outcome.kind === "duplicate") {
        this.turns.duplicatesDropped++;
        this.emit("duplicate", received, context);
        continue;
      }
      if (outcome.key !== null) keys.push(outcome.key);
      // Stored as the relay's schema reads it: unknown envelope fields are not kept.
      const event = {
        type: received.type,
        agent_message_id: received.agent_message_id,
        data: received.data,
      } as PublishedEvent;
      const hadTerminal = this.turns.get(event.agent_message_id)?.terminal != null;
      this.turns.apply(hubId, roomId, event);
      this.emit("published", event, context);
      if (event.type === "processing_status" && !hadTerminal) {
        this.emit("turnFinished", {
          agentMessageId: event.agent_message_id,
          events: this.turns.events(event.agent_message_id),
        });
      }
    }
    this.ingest.persistKeys(hubId, keys);
  }

  eventsFor(agentMessageId: string): PublishedEvent[] {
    return this.turns.events(agentMessageId);
  }

  publishStats(): PublishStats {
    return {
      posts: this.posts,
      events: this.turns.appliedEvents,
      duplicatesDropped: this.turns.duplicatesDropped,
      dropped: { ...this.drops },
    };
  }

  hubs(): HubView[] {
    return this.roster.allHubs().map((hub) => ({
      hubId: hub.hubId,
      userId: hub.userId,
      online: this.isOnline(hub.hubId),
      agents: this.roster
        .agentsOfHub(hub.hubId)
        .filter((agent) => agent.active)
        .map(toSyncAgent),
    }));
  }

  /**
   * Answers an event stream the relay refuses as hybro.ai does: 200, then one `error` event
   * (`reason` in its words), then the end.
   */
  refuseStream(
    res: ServerResponse,
    hubId: string,
    userId: string,
    reason: string,
    headers: Record<string, string>,
  ): void {
    this.logger.warn({ hubId, userId, reason }, "refused a hub event stream");
    refuseEventStream(res, reason, headers);
    this.emit("streamRefused", { hubId, userId, reason });
  }

  /** Starts disconnecting hubs whose heartbeats stopped (checked every heartbeat interval). */
  protected startLivenessChecks(): void {
    if (this.livenessTimer) return;
    this.livenessTimer = setInterval(() => {
      for (const { hubId, silentMs } of this.liveness.stale()) {
        this.logger.warn(
          { hubId, silentMs },
          `no heartbeat from the hub for ${silentMs} ms (limit ${this.liveness.silenceLimitMs} ms); its event stream is ended`,
        );
        this.liveness.disconnected(hubId);
        this.channels.get(hubId)?.detachCurrent();
        this.emit("hubStale", { hubId, silentMs });
      }
    }, this.settings.hubHeartbeatIntervalMs);
    this.livenessTimer.unref();
  }

  protected closeChannels(): void {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = null;
    for (const channel of this.channels.values()) channel.close();
  }
}
