// Publish ingestion as hybro.ai's own code does it (relay-wire.md section 6;
// hub_runtime_bridge/service/hub_publish.py and idempotency.py of hybroai/hybro 0.2.14): which
// agent messages were routed to which hub and room (their lineage), which were cancelled, and the
// idempotency keys already applied. Each published event is stored, recognised as a retry and
// dropped, or dropped silently (the POST still answers 204), exactly where the real relay would.
//
// Kept in memory and, when the relay has a data directory, in its sqlite file too (the real
// relay keeps both in its database, so a relay restart forgets neither).
import type { Logger } from "../log/logger.ts";
import {
  type PublishedEvent,
  responseKey,
  type UserMessageCommand,
  type UserReplyCommand,
} from "../wire/relay.ts";
import type { RelayStore, RoutedMessageRecord } from "./store.ts";

/** Why an event was dropped without an error (the real relay answers 204 all the same). */
export type DropReason =
  /** Its agent message was never routed to this hub in this room (ownership/lineage check). */
  | "not_routed"
  /** Its agent message was cancelled. */
  | "cancelled"
  /** A `processing_status` naming a `user_message_id` that is not the turn's. */
  | "foreign_user_message_id";

type IngestOutcome =
  | { kind: "stored"; key: string | null }
  | { kind: "duplicate"; key: string }
  | { kind: "dropped"; reason: DropReason };

/** Idempotency keys remembered (oldest forgotten first); the real relay keeps them in Mongo. */
const RESPONSE_KEYS_MAX = 200_000;

export class PublishIngest {
  readonly #store: RelayStore;
  readonly #logger: Logger;
  readonly #maxRoutes: number;
  readonly #routes = new Map<string, RoutedMessageRecord>();
  /**
   * Room → the user it belongs to: the owner of the hub of the first message routed in it
   * ("" while that hub was not registered yet; then its owner at publish time).
   */
  readonly #rooms = new Map<string, { owner: string; hubId: string }>();
  readonly #keys = new Set<string>();

  constructor(store: RelayStore, maxRoutes: number, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
    this.#maxRoutes = Math.max(1, maxRoutes);
    for (const route of store.listRoutes(this.#maxRoutes)) this.#remember(route);
    for (const key of store.listResponseKeys(RESPONSE_KEYS_MAX)) this.#keys.add(key);
  }

  /** A `user_message` / `user_reply` goes to `hubId`: its agent message may now be published to. */
  route(hubId: string, ownerUserId: string, command: UserMessageCommand | UserReplyCommand): void {
    const owner = this.#rooms.get(command.room_id)?.owner ?? ownerUserId;
    const route: RoutedMessageRecord = {
      agentMessageId: command.agent_message_id,
      hubId,
      roomId: command.room_id,
      roomOwner: owner,
      // The turn's own user message; a reply's lifecycle message is not one the hub is told.
      userMessageId: command.type === "user_reply" ? null : (command.user_message_id ?? null),
      cancelled: false,
      routedAt: new Date().toISOString(),
    };
    this.#remember(route);
    this.#store.insertRoute(route);
  }

  /** The user cancelled this agent message: whatever the hub publishes for it is dropped. */
  cancel(agentMessageId: string): void {
    const route = this.#routes.get(agentMessageId);
    if (!route || route.cancelled) return;
    route.cancelled = true;
    this.#store.setRouteCancelled(agentMessageId);
  }

  isCancelled(agentMessageId: string): boolean {
    return this.#routes.get(agentMessageId)?.cancelled ?? false;
  }

  /** The user a room belongs to, or undefined for a room the relay never routed a message in. */
  roomOwner(roomId: string, ownerOfHub: (hubId: string) => string | undefined): string | undefined {
    const room = this.#rooms.get(roomId);
    if (!room) return undefined;
    return room.owner || ownerOfHub(room.hubId) || "";
  }

  /** The `user_message_id` a turn's `processing_status` may name (null: none known). */
  turnUserMessageId(agentMessageId: string): string | null {
    return this.#routes.get(agentMessageId)?.userMessageId ?? null;
  }

  /**
   * What happens to one published event of `hubId` in `roomId`, in the real relay's order:
   * lineage, cancellation, the lifecycle check of `processing_status`, then the idempotency key
   * (`data.task_id`, else the agent message id; no key without `data.response_seq`).
   * A stored event's key is remembered.
   */
  admit(hubId: string, roomId: string, event: PublishedEvent): IngestOutcome {
    const route = this.#routes.get(event.agent_message_id);
    if (!route || route.hubId !== hubId || route.roomId !== roomId) {
      return { kind: "dropped", reason: "not_routed" };
    }
    if (route.cancelled) return { kind: "dropped", reason: "cancelled" };
    const data = event.data as unknown as Record<string, unknown>;
    if (event.type === "processing_status") {
      const named = data.user_message_id;
      if (named && named !== route.userMessageId) {
        return { kind: "dropped", reason: "foreign_user_message_id" };
      }
    }
    const taskId =
      typeof data.task_id === "string" && data.task_id !== ""
        ? data.task_id
        : event.agent_message_id;
    const key = responseKey(hubId, taskId, data.response_seq);
    if (key !== null) {
      if (this.#keys.has(key)) return { kind: "duplicate", key };
      this.#keys.add(key);
      if (this.#keys.size > RESPONSE_KEYS_MAX) {
        const oldest = this.#keys.values().next().value;
        if (oldest !== undefined) this.#keys.delete(oldest);
      }
    }
    return { kind: "stored", key };
  }

  /** Writes the keys of one POST's stored events (one transaction). */
  persistKeys(hubId: string, keys: readonly string[]): void {
    if (keys.length === 0) return;
    try {
      this.#store.insertResponseKeys(hubId, keys);
    } catch (error) {
      this.#logger.warn(
        { hubId, err: error instanceof Error ? error.message : String(error) },
        "could not persist idempotency keys; a relay restart may store a retried event again",
      );
    }
  }

  #remember(route: RoutedMessageRecord): void {
    this.#routes.delete(route.agentMessageId);
    this.#routes.set(route.agentMessageId, route);
    if (!this.#rooms.has(route.roomId)) {
      this.#rooms.set(route.roomId, { owner: route.roomOwner, hubId: route.hubId });
      if (this.#rooms.size > this.#maxRoutes) {
        const oldest = this.#rooms.keys().next().value;
        if (oldest !== undefined) this.#rooms.delete(oldest);
      }
    }
    while (this.#routes.size > this.#maxRoutes) {
      const oldest = this.#routes.keys().next().value;
      if (oldest === undefined) break;
      this.#routes.delete(oldest);
    }
  }
}
