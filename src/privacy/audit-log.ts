// The audit record of what left: one JSON line per event the hub published for a turn (and one
// per event the guard withheld), in the data folder, mode 0600, rotated like the logs. A line
// says when, which agent and room, the event type, its size and the SHA-256 of its JSON as
// published, and what the policy found and did, by kind with counts. Never a value, never the
// content: the digest lets you prove that a copy of an event is (or is not) what left, and
// reveals nothing about text you do not already have.

import { createHash } from "node:crypto";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import type { HubPaths } from "../config/paths.ts";
import { RotatingFile, type RotatingFileSettings } from "../log/rotating-file.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import type { Detection } from "./turn-guard.ts";

const AUDIT_FILE_NAME = "privacy-audit.jsonl";
export const privacyAuditFilePath = (paths: Pick<HubPaths, "data">) =>
  join(paths.data, AUDIT_FILE_NAME);

/** One line of the audit file. */
export interface AuditRecord {
  /** ISO 8601 time the line was written. */
  time: string;
  /** The agent's name (agents.json or its card). */
  agent: string;
  /** The relay's id of the agent on this hub, when known. */
  agent_id?: string;
  room: string;
  /** The turn's agent_message_id. */
  turn: string;
  type: PublishedEvent["type"];
  /** UTF-8 bytes of the event's JSON as published (0 for a withheld event). */
  bytes: number;
  /** SHA-256 (hex) of that JSON; absent for a withheld event (its digest would fingerprint it). */
  sha256?: string;
  detections: Detection[];
  /** The guard kept the event back (the turn was blocked). */
  withheld?: true;
}

/** Who an event belongs to. */
export interface AuditTurn {
  agent: string;
  agentId?: string;
  room: string;
  turn: string;
}

interface AuditLogSettings extends RotatingFileSettings {
  now: () => Date;
}

export class AuditLog {
  readonly path: string;
  readonly #file: RotatingFile;
  readonly #now: () => Date;

  constructor(path: string, settings: Partial<AuditLogSettings> = {}) {
    const { now, ...rotation } = settings;
    this.path = path;
    this.#file = new RotatingFile(path, rotation);
    this.#now = now ?? (() => new Date());
    // A file made earlier by hand may be readable by others: an audit is nobody else's business.
    chmodSync(path, 0o600);
  }

  /** An event as published: `event` exactly as serialized in the publish body. */
  published(turn: AuditTurn, event: PublishedEvent, detections: readonly Detection[]): void {
    const json = JSON.stringify(event);
    this.#write({
      ...this.#who(turn),
      type: event.type,
      bytes: Buffer.byteLength(json),
      sha256: createHash("sha256").update(json).digest("hex"),
      detections: [...detections],
    });
  }

  /** An event the guard kept back. */
  withheld(turn: AuditTurn, type: PublishedEvent["type"], detections: readonly Detection[]): void {
    this.#write({
      ...this.#who(turn),
      type,
      bytes: 0,
      detections: [...detections],
      withheld: true,
    });
  }

  close(): void {
    this.#file.close();
  }

  #who(turn: AuditTurn): Pick<AuditRecord, "time" | "agent" | "agent_id" | "room" | "turn"> {
    const who: Pick<AuditRecord, "time" | "agent" | "agent_id" | "room" | "turn"> = {
      time: this.#now().toISOString(),
      agent: turn.agent,
      room: turn.room,
      turn: turn.turn,
    };
    if (turn.agentId) who.agent_id = turn.agentId;
    return who;
  }

  #write(record: AuditRecord): void {
    this.#file.write(`${JSON.stringify(record)}\n`);
  }
}
