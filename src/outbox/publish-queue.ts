// Where unsent events live, as the relay's Publisher sees them (the outbox declares the seam it
// serves): in memory here; the durable sqlite queue (durable-queue.ts) is the other form.
import type { PublishedEvent } from "../wire/relay.ts";

/** Events of one room taken for one POST; acknowledge or release it, exactly once. */
export interface PublishBatch {
  readonly roomId: string;
  /** In enqueue order; each carries its `data.response_seq` and `data.task_id`. */
  readonly events: readonly PublishedEvent[];
}

export interface PublishQueue {
  /** Appends events (already stamped, see response-seq.ts) after the room's queued ones. */
  append(roomId: string, events: readonly PublishedEvent[]): void;
  /**
   * Takes up to `maxEvents` from the head of the room. Null when the room has nothing queued or
   * already has a batch out (one batch per room at a time keeps the room's order).
   */
  take(roomId: string, maxEvents: number): PublishBatch | null;
  /** The batch is done with (delivered, or dropped for good): forget its events. */
  ack(batch: PublishBatch): void;
  /** The batch was not delivered: its events go back to the head of the room, same order. */
  release(batch: PublishBatch): void;
  /** Rooms with events not yet acknowledged (queued or out). */
  rooms(): string[];
  /** Unacknowledged events of one room (queued + out). */
  roomDepth(roomId: string): number;
  /** Unacknowledged events in all rooms. */
  depth(): number;
  /** Events the queue itself dropped (its own bounds or age limit), if it has any. */
  dropped?(): number;
}

interface RoomQueue {
  items: PublishedEvent[];
  /** Index of the first queued item (items before it were taken); compacted now and then. */
  head: number;
  out: PublishBatch | null;
}

export class InMemoryPublishQueue implements PublishQueue {
  private readonly queues = new Map<string, RoomQueue>();
  private total = 0;

  append(roomId: string, events: readonly PublishedEvent[]): void {
    if (events.length === 0) return;
    let room = this.queues.get(roomId);
    if (!room) {
      room = { items: [], head: 0, out: null };
      this.queues.set(roomId, room);
    }
    for (const event of events) room.items.push(event);
    this.total += events.length;
  }

  take(roomId: string, maxEvents: number): PublishBatch | null {
    const room = this.queues.get(roomId);
    if (!room || room.out || room.head >= room.items.length) return null;
    const end = Math.min(room.items.length, room.head + Math.max(1, maxEvents));
    const batch: PublishBatch = { roomId, events: room.items.slice(room.head, end) };
    room.head = end;
    if (room.head > 1024 && room.head * 2 > room.items.length) {
      room.items = room.items.slice(room.head);
      room.head = 0;
    }
    room.out = batch;
    return batch;
  }

  ack(batch: PublishBatch): void {
    const room = this.queues.get(batch.roomId);
    if (!room || room.out !== batch) return;
    room.out = null;
    this.total -= batch.events.length;
    if (room.head >= room.items.length) this.queues.delete(batch.roomId);
  }

  release(batch: PublishBatch): void {
    const room = this.queues.get(batch.roomId);
    if (!room || room.out !== batch) return;
    room.out = null;
    room.items = [...batch.events, ...room.items.slice(room.head)];
    room.head = 0;
  }

  rooms(): string[] {
    return [...this.queues.keys()];
  }

  roomDepth(roomId: string): number {
    const room = this.queues.get(roomId);
    if (!room) return 0;
    return room.items.length - room.head + (room.out ? room.out.events.length : 0);
  }

  depth(): number {
    return this.total;
  }
}
