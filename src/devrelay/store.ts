// Durable state of the development relay (users, API keys, hubs, agents) in one node:sqlite
// file, or in memory. Only this file speaks SQL; hot paths read the in-memory copies that
// the roster and key ring keep, so a publish or an SSE write never touches the database.
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { prepareSqliteFile } from "../system/private-files.ts";

const RELAY_DB_FILE = "relay.sqlite";

export interface ApiKeyRecord {
  id: string;
  keyHash: string;
  prefix: string;
  userId: string;
  name: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface HubRecord {
  hubId: string;
  userId: string;
  registeredAt: string;
}

/** An agent message the relay routed to a hub (the lineage its published events must match). */
export interface RoutedMessageRecord {
  agentMessageId: string;
  hubId: string;
  roomId: string;
  /** The user the room belongs to. */
  roomOwner: string;
  /** The turn's own user message (what its `processing_status` may name). */
  userMessageId: string | null;
  cancelled: boolean;
  routedAt: string;
}

export interface AgentRecord {
  agentId: string;
  hubId: string;
  localAgentId: string;
  name: string;
  description: string;
  capabilities: string[];
  agentCard: Record<string, unknown>;
  active: boolean;
  syncedAt: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT,
  last_used_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys(user_id);
CREATE TABLE IF NOT EXISTS hubs (
  hub_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  registered_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
  agent_id TEXT PRIMARY KEY,
  hub_id TEXT NOT NULL REFERENCES hubs(hub_id),
  local_agent_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  capabilities TEXT NOT NULL,
  agent_card TEXT NOT NULL,
  active INTEGER NOT NULL,
  synced_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agents_hub ON agents(hub_id);
CREATE TABLE IF NOT EXISTS routed_messages (
  agent_message_id TEXT PRIMARY KEY,
  hub_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  room_owner TEXT NOT NULL,
  user_message_id TEXT,
  cancelled INTEGER NOT NULL DEFAULT 0,
  routed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS response_keys (
  key TEXT PRIMARY KEY,
  hub_id TEXT NOT NULL
);
`;

type Row = Record<string, unknown>;

function keyFromRow(row: Row): ApiKeyRecord {
  return {
    id: String(row.id),
    keyHash: String(row.key_hash),
    prefix: String(row.prefix),
    userId: String(row.user_id),
    name: String(row.name),
    scopes: JSON.parse(String(row.scopes)) as string[],
    createdAt: String(row.created_at),
    expiresAt: (row.expires_at as string | null) ?? null,
    revokedAt: (row.revoked_at as string | null) ?? null,
    lastUsedAt: (row.last_used_at as string | null) ?? null,
  };
}

function agentFromRow(row: Row): AgentRecord {
  return {
    agentId: String(row.agent_id),
    hubId: String(row.hub_id),
    localAgentId: String(row.local_agent_id),
    name: String(row.name),
    description: String(row.description),
    capabilities: JSON.parse(String(row.capabilities)) as string[],
    agentCard: JSON.parse(String(row.agent_card)) as Record<string, unknown>,
    active: Number(row.active) === 1,
    syncedAt: String(row.synced_at),
  };
}

export class RelayStore {
  readonly path: string;
  /** State reaches a file (false: in memory, where per-publish writes would only cost time). */
  readonly durable: boolean;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();

  /** `dataDir` null → in memory. */
  constructor(dataDir: string | null) {
    this.durable = dataDir !== null;
    if (dataDir === null) {
      this.path = ":memory:";
    } else {
      this.path = join(dataDir, RELAY_DB_FILE);
      // Key hashes and owners: this user's only, the -wal and -shm sqlite makes included.
      prepareSqliteFile(this.path);
    }
    this.db = new DatabaseSync(this.path);
    if (dataDir !== null) {
      // The CLI's `relay keys …` may write while a relay runs on the same file; set the wait
      // first so even the switch to WAL waits for another process instead of failing.
      this.db.exec("PRAGMA busy_timeout = 5000");
      this.db.exec("PRAGMA journal_mode = WAL");
    }
    this.db.exec("PRAGMA foreign_keys = ON");
    this.db.exec(SCHEMA);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  private stmt(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private transaction<T>(work: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  ensureUser(userId: string, now: string): void {
    this.stmt("INSERT OR IGNORE INTO users (id, created_at) VALUES (?, ?)").run(userId, now);
  }

  // -- API keys --------------------------------------------------------------------------

  insertKey(key: ApiKeyRecord): void {
    this.transaction(() => {
      this.ensureUser(key.userId, key.createdAt);
      this.stmt(
        `INSERT INTO api_keys (id, key_hash, prefix, user_id, name, scopes, created_at,
           expires_at, revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        key.id,
        key.keyHash,
        key.prefix,
        key.userId,
        key.name,
        JSON.stringify(key.scopes),
        key.createdAt,
        key.expiresAt,
        key.revokedAt,
        key.lastUsedAt,
      );
    });
  }

  keyByHash(keyHash: string): ApiKeyRecord | undefined {
    const row = this.stmt("SELECT * FROM api_keys WHERE key_hash = ?").get(keyHash);
    return row ? keyFromRow(row as Row) : undefined;
  }

  keyById(id: string): ApiKeyRecord | undefined {
    const row = this.stmt("SELECT * FROM api_keys WHERE id = ?").get(id);
    return row ? keyFromRow(row as Row) : undefined;
  }

  /** Every key, or every key of one user; oldest first. */
  listKeys(userId?: string): ApiKeyRecord[] {
    const rows =
      userId === undefined
        ? this.stmt("SELECT * FROM api_keys ORDER BY created_at, id").all()
        : this.stmt("SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, id").all(userId);
    return rows.map((row) => keyFromRow(row as Row));
  }

  /** Writes the mutable fields of a key (name, owner, scopes, expiry, revocation). */
  updateKey(key: ApiKeyRecord): void {
    this.transaction(() => {
      this.ensureUser(key.userId, key.createdAt);
      this.stmt(
        `UPDATE api_keys SET user_id = ?, name = ?, scopes = ?, expires_at = ?, revoked_at = ?
         WHERE id = ?`,
      ).run(key.userId, key.name, JSON.stringify(key.scopes), key.expiresAt, key.revokedAt, key.id);
    });
  }

  touchKey(id: string, at: string): void {
    this.stmt("UPDATE api_keys SET last_used_at = ? WHERE id = ?").run(at, id);
  }

  // -- hubs and agents -------------------------------------------------------------------

  listHubs(): HubRecord[] {
    return this.stmt("SELECT * FROM hubs ORDER BY registered_at, hub_id")
      .all()
      .map((row) => ({
        hubId: String(row.hub_id),
        userId: String(row.user_id),
        registeredAt: String(row.registered_at),
      }));
  }

  /** Creates the hub, or moves an existing one to `hub.userId` (register upserts). */
  upsertHub(hub: HubRecord): void {
    this.transaction(() => {
      this.ensureUser(hub.userId, hub.registeredAt);
      this.stmt(
        `INSERT INTO hubs (hub_id, user_id, registered_at) VALUES (?, ?, ?)
         ON CONFLICT(hub_id) DO UPDATE SET user_id = excluded.user_id`,
      ).run(hub.hubId, hub.userId, hub.registeredAt);
    });
  }

  // -- publish lineage and idempotency keys (written only when durable) -------------------

  insertRoute(route: RoutedMessageRecord): void {
    if (!this.durable) return;
    this.stmt(
      `INSERT INTO routed_messages (agent_message_id, hub_id, room_id, room_owner, user_message_id,
         cancelled, routed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(agent_message_id) DO UPDATE SET hub_id = excluded.hub_id,
         room_id = excluded.room_id, user_message_id = excluded.user_message_id`,
    ).run(
      route.agentMessageId,
      route.hubId,
      route.roomId,
      route.roomOwner,
      route.userMessageId,
      route.cancelled ? 1 : 0,
      route.routedAt,
    );
  }

  setRouteCancelled(agentMessageId: string): void {
    if (!this.durable) return;
    this.stmt("UPDATE routed_messages SET cancelled = 1 WHERE agent_message_id = ?").run(
      agentMessageId,
    );
  }

  /** The newest `limit` rows of a bounded table, oldest first; older rows are deleted. */
  private newest(table: "routed_messages" | "response_keys", limit: number): Row[] {
    if (!this.durable) return [];
    this.stmt(
      `DELETE FROM ${table} WHERE rowid NOT IN
         (SELECT rowid FROM ${table} ORDER BY rowid DESC LIMIT ?)`,
    ).run(limit);
    return this.stmt(`SELECT * FROM ${table} ORDER BY rowid`).all() as Row[];
  }

  /** The newest `limit` routed messages, oldest first (older rows are deleted). */
  listRoutes(limit: number): RoutedMessageRecord[] {
    return this.newest("routed_messages", limit).map((row) => ({
      agentMessageId: String(row.agent_message_id),
      hubId: String(row.hub_id),
      roomId: String(row.room_id),
      roomOwner: String(row.room_owner),
      userMessageId: row.user_message_id == null ? null : String(row.user_message_id),
      cancelled: Number(row.cancelled) === 1,
      routedAt: String(row.routed_at),
    }));
  }

  insertResponseKeys(hubId: string, keys: readonly string[]): void {
    if (!this.durable) return;
    this.transaction(() => {
      const insert = this.stmt("INSERT OR IGNORE INTO response_keys (key, hub_id) VALUES (?, ?)");
      for (const key of keys) insert.run(key, hubId);
    });
  }

  /** The newest `limit` idempotency keys, oldest first (older rows are deleted). */
  listResponseKeys(limit: number): string[] {
    return this.newest("response_keys", limit).map((row) => String(row.key));
  }

  listAgents(): AgentRecord[] {
    return this.stmt("SELECT * FROM agents ORDER BY synced_at, agent_id")
      .all()
      .map((row) => agentFromRow(row as Row));
  }

  /** One sync: the given agents become active, and (when pruning) every other agent of the hub inactive. */
  saveSync(hubId: string, agents: AgentRecord[], pruneIds: string[]): void {
    this.transaction(() => {
      const upsert = this.stmt(
        `INSERT INTO agents (agent_id, hub_id, local_agent_id, name, description, capabilities,
           agent_card, active, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(agent_id) DO UPDATE SET name = excluded.name,
           description = excluded.description, capabilities = excluded.capabilities,
           agent_card = excluded.agent_card, active = excluded.active,
           synced_at = excluded.synced_at`,
      );
      for (const agent of agents) {
        upsert.run(
          agent.agentId,
          hubId,
          agent.localAgentId,
          agent.name,
          agent.description,
          JSON.stringify(agent.capabilities),
          JSON.stringify(agent.agentCard),
          agent.active ? 1 : 0,
          agent.syncedAt,
        );
      }
      const prune = this.stmt("UPDATE agents SET active = 0 WHERE agent_id = ?");
      for (const agentId of pruneIds) prune.run(agentId);
    });
  }
}
