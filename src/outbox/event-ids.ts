// The command stream's last SSE id, kept between runs: a restarted hub sends it as
// `Last-Event-ID` and the relay replays what a killed hub received but never handled.
import type { OutboxStore } from "./store.ts";

/**
 * Where the relay link keeps the last SSE id of a handled command. An id belongs to one relay
 * and hub id (`scope`): another scope never gets it.
 */
export interface EventIdStore {
  /** The id kept for `scope`, or null (none, or one of another scope). */
  load(scope: string): string | null;
  /** After the command with this id was handled (accepted turns are recorded by then); null forgets. */
  save(scope: string, eventId: string | null): void;
}

export const LAST_EVENT_ID = "last_event_id";

/** One id, kept with its scope (relay URL and hub id) in the outbox's key/value table. */
export class StoredEventIds implements EventIdStore {
  readonly #store: OutboxStore;
  /** The value saved last (kept too while the database is unusable), for a reopened one. */
  #saved: string | null = null;

  constructor(store: OutboxStore) {
    this.#store = store;
  }

  load(scope: string): string | null {
    const kept = this.#store.use("read the last event id", (db) => db.getMeta(LAST_EVENT_ID));
    return kept ? scopedEventId(kept, scope) : null;
  }

  save(scope: string, eventId: string | null): void {
    const value = eventId === null ? "" : JSON.stringify({ scope, id: eventId });
    this.#saved = value;
    this.#store.use("save the last event id", (db) => db.setMeta(LAST_EVENT_ID, value));
  }

  /** The value saved last in this run, or null when none was. */
  get saved(): string | null {
    return this.#saved;
  }
}

/** The id in a kept `{scope, id}` value when it belongs to `scope` (an unscoped old value: none). */
function scopedEventId(kept: string, scope: string): string | null {
  try {
    const value = JSON.parse(kept) as { scope?: unknown; id?: unknown } | null;
    return value?.scope === scope && typeof value.id === "string" ? value.id : null;
  } catch {
    return null;
  }
}
