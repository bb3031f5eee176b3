// The inspector's memory: the last turns, each with its timeline (the relay command, the agent's
// A2A events as they arrived, every event the hub published with its response_seq and when the
// relay acknowledged it, failed POSTs, what the privacy guard did) and its timings. It is the
// hub's observer (observer.ts). Bounded by turn count and bytes; content lives in memory only.
// Pure apart from the injected clock: no timers, no I/O.

import type { A2AResult, A2AStreamEvent, A2ATask } from "../a2a/model.ts";
import { answerText } from "../hub/answer.ts";
import type {
  AgentCalls,
  GuardDetection,
  GuardReport,
  HubObserver,
  ObservedTurn,
} from "../observe/observer.ts";
import { withDefaults } from "../system/settings.ts";
import type { ProcessingStatus, PublishedEvent, RelayCommand } from "../wire/relay.ts";
import { LinkHistory, type LinkHistorySettings } from "./link-history.ts";
import { capturePayload, chargeOf, type Payload, type TextRedactor } from "./payload.ts";

export interface RecorderSettings {
  /** Turns kept (the oldest goes first). */
  maxTurns: number;
  /** Bytes of content kept over all turns (JSON text plus a fixed overhead per entry). */
  maxBytes: number;
  /** One turn's share: entries past it are counted, not kept. */
  maxTurnBytes: number;
  /** One payload (a command, an A2A event, a published event); longer ones are cut. */
  maxPayloadBytes: number;
  /** Ids of evicted turns remembered, so their late events do not start a new record. */
  evictedMemory: number;
  link: Partial<LinkHistorySettings>;
}

export const DEFAULT_RECORDER_SETTINGS: RecorderSettings = {
  maxTurns: 200,
  maxBytes: 8 * 1024 * 1024,
  maxTurnBytes: 1024 * 1024,
  maxPayloadBytes: 64 * 1024,
  evictedMemory: 2_000,
  link: {},
};

type TurnState = "queued" | "running" | ProcessingStatus;

/** How the inspector learned of the turn. */
type TurnOrigin = "user_message" | "user_reply" | "recovered";

interface PrivacyTally {
  kind: string;
  action: string;
  count: number;
}

interface TurnTimes {
  /** The relay command arrived (for a recovered turn: its first event was queued). */
  receivedAt: number;
  /** It got its agent slot and went to the agent. */
  startedAt: number | null;
  /** The agent's first event or answer arrived. */
  firstByteAt: number | null;
  /** Its terminal group (processing_status) was queued for the relay. */
  terminalAt: number | null;
  /** The relay acknowledged that terminal group. */
  publishedAt: number | null;
}

/** One row of the turn list (JSON-safe). */
export interface TurnSummary {
  id: string;
  /** Increases with each new turn: newest first is highest first. */
  seq: number;
  roomId: string;
  localAgentId: string | null;
  agentName: string | null;
  origin: TurnOrigin;
  state: TurnState;
  error: { type: string; message: string } | null;
  times: TurnTimes;
  agentEvents: number;
  publishedEvents: number;
  ackedEvents: number;
  /** Failed POSTs that carried events of this turn. */
  retries: number;
  /** UTF-8 bytes of the events the relay acknowledged. */
  bytesOut: number;
  privacy: PrivacyTally[];
  /** Times the relay sent the same command again (ignored by the hub). */
  duplicates: number;
}

export type TimelineEntry =
  | { type: "command"; at: number; command: string; payload: Payload }
  | { type: "duplicate"; at: number }
  | { type: "cancel"; at: number; by: "relay" }
  | { type: "started"; at: number }
  | { type: "a2a"; at: number; call: AgentCall; kind: string; payload: Payload }
  | { type: "a2a_error"; at: number; call: AgentCall; message: string }
  | {
      type: "published";
      at: number;
      eventType: string;
      responseSeq: number | null;
      payload: Payload;
      ackedAt: number | null;
      dropped: boolean;
      /** What the privacy guard found and did in the event (kinds and counts, never values). */
      detections: GuardDetection[];
      /** One of the pieces an event too large for one POST was cut into (1-based). */
      piece: { index: number; of: number } | null;
      /** This event was cut into this many pieces before it left (each its own entry). */
      cutInto: number | null;
    }
  | {
      type: "publish_failed";
      at: number;
      lastAt: number;
      reason: string;
      retry: boolean;
      times: number;
    }
  | { type: "withheld"; at: number; eventType: string; detections: GuardDetection[] }
  | { type: "blocked"; at: number; kind: string; rule: string; message: string }
  | { type: "omitted"; at: number; entries: number; bytes: number };

type AgentCall = "message/send" | "message/stream" | "tasks/get" | "tasks/cancel";

/** What a replay of the turn answered (kept with the turn, latest only). */
export interface ReplayRecord {
  at: number;
  durationMs: number;
  status: string;
  text: string;
  error: { type: string; message: string } | null;
}

export interface TurnDetail extends TurnSummary {
  timeline: TimelineEntry[];
  /** The answer the published events carried (hub/answer.ts), from what is kept; null: none. */
  answer: string | null;
  replay: ReplayRecord | null;
}

interface TurnRecord {
  summary: TurnSummary;
  timeline: TimelineEntry[];
  /** Published entries by response_seq, for acknowledgements. */
  bySeq: Map<number, Extract<TimelineEntry, { type: "published" }>>;
  /** Guard reports waiting for the events they let out. */
  guard: Array<{ type: string; detections: readonly GuardDetection[] }>;
  privacy: Map<string, PrivacyTally>;
  redact: TextRedactor | null;
  /** The command as kept (redacted, whole), for replay; its JSON is parsed only then. */
  command: Payload | null;
  replay: ReplayRecord | null;
  bytes: number;
  evicted: boolean;
}

interface RecorderOptions {
  now?: () => number;
  settings?: Partial<RecorderSettings>;
  /**
   * A fresh redactor for a new turn of this agent (the agent's privacy policy: what it would
   * redact or block is never kept, hence never shown); null keeps content as it is.
   */
  redactorFor?: (localAgentId: string) => TextRedactor | null;
}

/** Changes since the last `takeChanges()`, for live updates. */
interface RecorderChanges {
  turns: TurnSummary[];
  evicted: string[];
}

export class Recorder implements HubObserver {
  readonly settings: RecorderSettings;
  readonly link: LinkHistory;
  readonly #now: () => number;
  readonly #redactorFor: (localAgentId: string) => TextRedactor | null;
  readonly #turns = new Map<string, TurnRecord>();
  readonly #evicted = new Set<string>();
  #bytes = 0;
  #seq = 0;
  /** Ids changed since the last take; null while nobody watches (no cost then). */
  #changed: Set<string> | null = null;
  #gone: string[] = [];

  constructor(options: RecorderOptions = {}) {
    this.#now = options.now ?? Date.now;
    const settings = withDefaults(DEFAULT_RECORDER_SETTINGS, options.settings);
    settings.maxTurns = Math.max(1, Math.floor(settings.maxTurns));
    settings.maxTurnBytes = Math.min(settings.maxTurnBytes, settings.maxBytes);
    settings.maxPayloadBytes = Math.min(settings.maxPayloadBytes, settings.maxTurnBytes);
    this.settings = settings;
    this.#redactorFor = options.redactorFor ?? (() => null);
    this.link = new LinkHistory(this.#now, settings.link);
  }

  /** Bytes of content kept now (never above `maxBytes`). */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#turns.size;
  }

  // ---- the hub's hooks (observer.ts) -----------------------------------------------------

  command(command: RelayCommand): void {
    if (command.type === "cancel_task") {
      const turn = command.agent_message_id ? this.#turns.get(command.agent_message_id) : undefined;
      if (turn) this.#add(turn, { type: "cancel", at: this.#now(), by: "relay" }, null);
      return;
    }
    if (
      command.type !== undefined &&
      command.type !== "user_message" &&
      command.type !== "user_reply"
    )
      return;
    const id = command.agent_message_id;
    if (typeof id !== "string" || id === "") return;
    const known = this.#turns.get(id);
    if (known) {
      known.summary.duplicates += 1;
      this.#add(known, { type: "duplicate", at: this.#now() }, null);
      return;
    }
    if (this.#evicted.has(id)) return;
    const localAgentId = typeof command.local_agent_id === "string" ? command.local_agent_id : null;
    const turn = this.#open(
      id,
      String(command.room_id ?? ""),
      localAgentId,
      command.type ?? "user_message",
    );
    const payload = capturePayload(command, this.settings.maxPayloadBytes, turn.redact);
    if (payload.cutFromBytes === null) turn.command = payload; // parsed when replayed
    this.#add(
      turn,
      {
        type: "command",
        at: turn.summary.times.receivedAt,
        command: command.type ?? "user_message",
        payload,
      },
      payload,
    );
  }

  turnClient(observed: ObservedTurn, client: AgentCalls): AgentCalls {
    const turn =
      this.#turns.get(observed.agentMessageId) ??
      (this.#evicted.has(observed.agentMessageId)
        ? null
        : this.#open(observed.agentMessageId, "", observed.localAgentId, "recovered"));
    if (!turn) return client;
    const { summary } = turn;
    summary.localAgentId = observed.localAgentId;
    summary.agentName = observed.agentName;
    summary.times.startedAt = this.#now();
    if (summary.state === "queued") summary.state = "running";
    this.#add(turn, { type: "started", at: summary.times.startedAt }, null);
    return this.#recording(turn, client);
  }

  queued(roomId: string, pieces: ReadonlyArray<readonly PublishedEvent[]>): void {
    for (const group of pieces) {
      const first = group[0];
      if (!first) continue;
      const turn = this.#turnOf(first, roomId);
      // The guard's report for the event the caller gave to publish (observer.ts, guarded).
      const guard = turn?.guard.shift();
      const detections = guard && guard.type === first.type ? [...guard.detections] : [];
      if (turn && guard && guard.type !== first.type) turn.guard.length = 0; // out of step
      this.#published(turn, group, detections);
    }
  }

  cut(roomId: string, event: PublishedEvent, pieces: readonly PublishedEvent[]): void {
    const turn = this.#turnOf(event, roomId);
    const seq = responseSeqOf(event);
    const whole = seq === null ? undefined : turn?.bySeq.get(seq);
    if (whole) whole.cutInto = pieces.length;
    if (turn) turn.summary.publishedEvents -= 1; // counted again as its pieces
    this.#published(turn, pieces, []);
  }

  /** Timeline entries for one event as queued: itself, or its pieces. */
  #published(
    turn: TurnRecord | null,
    group: readonly PublishedEvent[],
    detections: GuardDetection[],
  ): void {
    const now = this.#now();
    group.forEach((event, i) => {
      const seq = responseSeqOf(event);
      if (seq !== null) this.link.queued(seq);
      if (!turn) return;
      const { summary } = turn;
      summary.publishedEvents += 1;
      const payload = capturePayload(event, this.settings.maxPayloadBytes);
      const entry = {
        type: "published" as const,
        at: now,
        eventType: event.type,
        responseSeq: seq,
        payload,
        ackedAt: null,
        dropped: false,
        detections: i === 0 ? detections : [],
        piece: group.length > 1 ? { index: i + 1, of: group.length } : null,
        cutInto: null,
      };
      if (this.#add(turn, entry, payload) && seq !== null) turn.bySeq.set(seq, entry);
      if (event.type === "agent_error") {
        summary.error = { type: String(event.data.error_type), message: String(event.data.error) };
      }
      if (event.type === "processing_status") {
        summary.state = event.data.status;
        summary.times.terminalAt = now;
      }
      this.#touch(turn);
    });
  }

  /** The turn an event belongs to; a turn the inspector has not seen yet is opened (recovered). */
  #turnOf(event: PublishedEvent, roomId: string): TurnRecord | null {
    const id = event.agent_message_id;
    if (typeof id !== "string") return null;
    return (
      this.#turns.get(id) ??
      (this.#evicted.has(id) ? null : this.#open(id, roomId, null, "recovered"))
    );
  }

  acked(_roomId: string, events: readonly PublishedEvent[]): void {
    const now = this.#now();
    this.link.posted(seqsOf(events), true);
    for (const event of events) {
      const turn = this.#turns.get(event.agent_message_id);
      if (!turn) continue;
      turn.summary.ackedEvents += 1;
      const seq = responseSeqOf(event);
      const entry = seq === null ? undefined : turn.bySeq.get(seq);
      turn.summary.bytesOut += entry
        ? entry.payload.bytes
        : Buffer.byteLength(JSON.stringify(event));
      if (entry) entry.ackedAt = now;
      if (event.type === "processing_status") turn.summary.times.publishedAt = now;
      this.#touch(turn);
    }
  }

  failed(_roomId: string, events: readonly PublishedEvent[], reason: string, retry: boolean): void {
    const now = this.#now();
    this.link.posted(seqsOf(events), !retry);
    const seen = new Set<TurnRecord>();
    for (const event of events) {
      const turn = this.#turns.get(event.agent_message_id);
      if (!turn) continue;
      if (!retry) {
        const seq = responseSeqOf(event);
        const entry = seq === null ? undefined : turn.bySeq.get(seq);
        if (entry) entry.dropped = true;
      }
      if (seen.has(turn)) continue;
      seen.add(turn);
      if (retry) turn.summary.retries += 1;
      const last = turn.timeline.at(-1);
      if (last?.type === "publish_failed" && last.reason === reason && last.retry === retry) {
        last.times += 1; // one line for a run of the same failure
        last.lastAt = now;
      } else {
        this.#add(
          turn,
          { type: "publish_failed", at: now, lastAt: now, reason, retry, times: 1 },
          null,
        );
      }
      this.#touch(turn);
    }
  }

  guarded(agentMessageId: string, report: GuardReport): void {
    const turn = this.#turns.get(agentMessageId);
    if (!turn) return;
    const now = this.#now();
    for (const item of report.publish) {
      turn.guard.push({ type: item.event.type, detections: item.detections });
      this.#tally(turn, item.detections);
    }
    for (const item of report.withheld) {
      this.#tally(turn, item.detections);
      this.#add(
        turn,
        { type: "withheld", at: now, eventType: item.type, detections: [...item.detections] },
        null,
      );
    }
    if (report.blocked) {
      const { kind, rule, message } = report.blocked;
      this.#add(turn, { type: "blocked", at: now, kind, rule, message }, null);
    }
    this.#touch(turn);
  }

  // ---- reading -----------------------------------------------------------------------------

  /** Newest first. */
  turns(): TurnSummary[] {
    return [...this.#turns.values()].reverse().map((turn) => snapshotOf(turn.summary));
  }

  turn(id: string): TurnDetail | null {
    const turn = this.#turns.get(id);
    if (!turn) return null;
    const published: unknown[] = [];
    for (const entry of turn.timeline) {
      if (entry.type !== "published" || entry.payload.cutFromBytes !== null) continue;
      published.push(JSON.parse(entry.payload.json));
    }
    return {
      ...snapshotOf(turn.summary),
      timeline: turn.timeline.map((entry) => ({ ...entry })),
      answer: answerText(published),
      replay: turn.replay,
    };
  }

  /** The turn's agent and relay command as kept (redacted), for a replay; null if not kept. */
  replaySource(id: string): { localAgentId: string; command: RelayCommand } | null {
    const turn = this.#turns.get(id);
    if (!turn?.command || !turn.summary.localAgentId) return null;
    const command = JSON.parse(turn.command.json) as RelayCommand;
    return { localAgentId: turn.summary.localAgentId, command };
  }

  /** Keeps a replay's answer with the turn (redacted like the rest of it). */
  replayed(id: string, replay: ReplayRecord): ReplayRecord | null {
    const turn = this.#turns.get(id);
    if (!turn) return null;
    const redact = turn.redact;
    const kept = redact
      ? {
          ...replay,
          text: redact(replay.text),
          error: replay.error && { ...replay.error, message: redact(replay.error.message) },
        }
      : replay;
    turn.replay = kept;
    this.#touch(turn);
    return kept;
  }

  /** Starts collecting changes for `takeChanges()` (live updates). */
  watch(): void {
    this.#changed ??= new Set();
  }

  unwatch(): void {
    this.#changed = null;
    this.#gone = [];
  }

  takeChanges(): RecorderChanges {
    const changed = this.#changed;
    if (!changed) return { turns: [], evicted: [] };
    const turns: TurnSummary[] = [];
    for (const id of changed) {
      const turn = this.#turns.get(id);
      if (turn) turns.push(snapshotOf(turn.summary));
    }
    changed.clear();
    const evicted = this.#gone;
    this.#gone = [];
    return { turns, evicted };
  }

  // ---- inside --------------------------------------------------------------------------------

  #open(id: string, roomId: string, localAgentId: string | null, origin: TurnOrigin): TurnRecord {
    const turn: TurnRecord = {
      summary: {
        id,
        seq: ++this.#seq,
        roomId,
        localAgentId,
        agentName: null,
        origin,
        state: "queued",
        error: null,
        times: {
          receivedAt: this.#now(),
          startedAt: null,
          firstByteAt: null,
          terminalAt: null,
          publishedAt: null,
        },
        agentEvents: 0,
        publishedEvents: 0,
        ackedEvents: 0,
        retries: 0,
        bytesOut: 0,
        privacy: [],
        duplicates: 0,
      },
      timeline: [],
      bySeq: new Map(),
      guard: [],
      privacy: new Map(),
      redact: localAgentId === null ? null : this.#redactorFor(localAgentId),
      command: null,
      replay: null,
      bytes: 0,
      evicted: false,
    };
    this.#turns.set(id, turn);
    this.#touch(turn);
    this.#enforce(turn);
    return turn;
  }

  /** Adds an entry if the turn's share allows; returns whether it was kept. */
  #add(turn: TurnRecord, entry: TimelineEntry, payload: Payload | null): boolean {
    const charge = chargeOf(payload);
    if (turn.bytes + charge > this.settings.maxTurnBytes) {
      const last = turn.timeline.at(-1);
      if (last?.type === "omitted") {
        last.entries += 1;
        last.bytes += payload?.bytes ?? 0;
      } else {
        const marker: TimelineEntry = {
          type: "omitted",
          at: entry.at,
          entries: 1,
          bytes: payload?.bytes ?? 0,
        };
        turn.timeline.push(marker); // its own small charge is not counted: one per turn
      }
      this.#touch(turn);
      return false;
    }
    turn.timeline.push(entry);
    turn.bytes += charge;
    if (!turn.evicted) {
      this.#bytes += charge;
      this.#enforce(turn);
    }
    this.#touch(turn);
    return true;
  }

  /** Evicts the oldest turns (never `keep`) until within the turn count and the byte cap. */
  #enforce(keep: TurnRecord): void {
    const { maxTurns, maxBytes } = this.settings;
    if (this.#turns.size <= maxTurns && this.#bytes <= maxBytes) return; // the usual case: no walk
    for (const [id, turn] of this.#turns) {
      if (this.#turns.size <= maxTurns && this.#bytes <= maxBytes) return;
      if (turn === keep) continue;
      this.#evict(id, turn);
    }
  }

  #evict(id: string, turn: TurnRecord): void {
    this.#turns.delete(id);
    this.#bytes -= turn.bytes;
    turn.evicted = true;
    this.#evicted.add(id);
    if (this.#evicted.size > this.settings.evictedMemory) {
      this.#evicted.delete(this.#evicted.values().next().value as string);
    }
    if (this.#changed) {
      this.#changed.delete(id);
      this.#gone.push(id);
    }
  }

  #touch(turn: TurnRecord): void {
    if (this.#changed && !turn.evicted) this.#changed.add(turn.summary.id);
  }

  #tally(turn: TurnRecord, detections: readonly GuardDetection[]): void {
    for (const detection of detections) {
      const key = `${detection.kind}\u0000${detection.action}`;
      const tally = turn.privacy.get(key);
      if (tally) tally.count += detection.count;
      else {
        const added = { kind: detection.kind, action: detection.action, count: detection.count };
        turn.privacy.set(key, added);
        turn.summary.privacy.push(added);
      }
    }
  }

  #agentEvent(
    turn: TurnRecord,
    call: AgentCall,
    event: A2AStreamEvent | A2AResult | A2ATask,
  ): void {
    const now = this.#now();
    turn.summary.agentEvents += 1;
    turn.summary.times.firstByteAt ??= now;
    const payload = capturePayload(
      event.wire ?? event.raw,
      this.settings.maxPayloadBytes,
      turn.redact,
    );
    this.#add(turn, { type: "a2a", at: now, call, kind: event.kind, payload }, payload);
  }

  #agentError(turn: TurnRecord, call: AgentCall, error: unknown): void {
    const raw = error instanceof Error ? error.message : String(error);
    const message = turn.redact ? turn.redact(raw) : raw;
    this.#add(turn, { type: "a2a_error", at: this.#now(), call, message }, null);
  }

  /** The agent's client, with every answer and event of this turn recorded as it arrives. */
  #recording(turn: TurnRecord, client: AgentCalls): AgentCalls {
    const unary = async <T extends A2AResult | A2ATask | undefined>(
      call: AgentCall,
      run: () => Promise<T>,
    ): Promise<T> => {
      try {
        const result = await run();
        if (result) this.#agentEvent(turn, call, result);
        return result;
      } catch (error) {
        this.#agentError(turn, call, error);
        throw error;
      }
    };
    const recorder = this;
    return {
      send: (message, options) => unary("message/send", () => client.send(message, options)),
      getTask: (taskId, options) => unary("tasks/get", () => client.getTask(taskId, options)),
      cancelTask: async (taskId, options) => {
        await unary("tasks/cancel", async () => {
          await client.cancelTask(taskId, options);
          return undefined;
        });
      },
      async *stream(message, options) {
        try {
          for await (const event of client.stream(message, options)) {
            recorder.#agentEvent(turn, "message/stream", event);
            yield event;
          }
        } catch (error) {
          recorder.#agentError(turn, "message/stream", error);
          throw error;
        }
      },
    };
  }
}

function responseSeqOf(event: PublishedEvent): number | null {
  const seq = (event.data as { response_seq?: unknown } | undefined)?.response_seq;
  return typeof seq === "number" ? seq : null;
}

function seqsOf(events: readonly PublishedEvent[]): number[] {
  const out: number[] = [];
  for (const event of events) {
    const seq = responseSeqOf(event);
    if (seq !== null) out.push(seq);
  }
  return out;
}

function snapshotOf(summary: TurnSummary): TurnSummary {
  return {
    ...summary,
    error: summary.error && { ...summary.error },
    times: { ...summary.times },
    privacy: summary.privacy.map((tally) => ({ ...tally })),
  };
}
