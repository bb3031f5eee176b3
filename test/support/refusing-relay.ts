// A relay that takes the hub in but refuses everything it publishes (503), for the full-outbox
// scenarios (the fault suite and bench/outbox-flood.ts): register, sync and heartbeat answered,
// user_message commands streamed on demand or at a steady rate, every publish answered 503.
// And the outbox an earlier run would leave behind: unsent events written into a real
// outbox.sqlite before the hub starts.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type NewEventRow, openOutboxDatabase } from "../../src/outbox/database.ts";
import type { UserMessageCommand } from "../../src/wire/relay.ts";

export interface RefusingRelay {
  url: string;
  /** Publish POSTs answered 503 so far, and the agent message ids they carried. */
  publishes: number;
  published: Set<string>;
  /** Local agent ids by name, from the hub's last sync. */
  agents: Map<string, string>;
  /** Command streams open now. */
  streams: Set<ServerResponse>;
  /** Sends one command to every open stream. */
  send(command: UserMessageCommand): void;
  /** Sends a user_message to `agentName` every 1000 / `perSecond` ms until stopped (0 stops). */
  feed(perSecond: number, agentNames: string[], rooms: number): void;
  close(): Promise<void>;
}

export async function startRefusingRelay(): Promise<RefusingRelay> {
  let feeder: NodeJS.Timeout | null = null;
  let fed = 0;
  const relay: RefusingRelay = {
    url: "",
    publishes: 0,
    published: new Set(),
    agents: new Map(),
    streams: new Set(),
    send(command) {
      for (const res of relay.streams) res.write(`data: ${JSON.stringify(command)}\n\n`);
    },
    feed(perSecond, agentNames, rooms) {
      if (feeder) clearInterval(feeder);
      feeder = null;
      if (perSecond <= 0) return;
      feeder = setInterval(() => {
        const name = agentNames[fed % agentNames.length] as string;
        const localAgentId = relay.agents.get(name);
        if (!localAgentId) return;
        relay.send(floodTurn(localAgentId, fed++, rooms));
      }, 1000 / perSecond);
    },
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = req.url ?? "";
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const body = () => JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
      if (path.endsWith("/register")) return json(200, { hub_id: "refused", user_id: "u" });
      if (path.endsWith("/agents/sync")) {
        const { agents } = body() as { agents: Array<{ local_agent_id: string; name: string }> };
        relay.agents = new Map(agents.map((a) => [a.name, a.local_agent_id]));
        return json(200, {
          synced: agents.map((a) => ({
            agent_id: `agt_${a.local_agent_id}`,
            local_agent_id: a.local_agent_id,
          })),
        });
      }
      if (path.endsWith("/heartbeat")) return void res.writeHead(204).end();
      if (path.endsWith("/publish")) {
        relay.publishes++;
        const { events } = body() as { events: Array<{ agent_message_id: string }> };
        for (const event of events) relay.published.add(event.agent_message_id);
        return json(503, { detail: { error: "service_unavailable", message: "overloaded" } });
      }
      if (path.endsWith("/events")) {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
        res.write('data: {"type":"connection_ready"}\n\n');
        relay.streams.add(res);
        res.on("close", () => relay.streams.delete(res));
        return;
      }
      json(404, { detail: { error: "not_found", message: path } });
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  relay.close = async () => {
    if (feeder) clearInterval(feeder);
    for (const res of relay.streams) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  };
  return relay;
}

/** A user_message for the flood: one of `rooms` rooms, a unique agent message id. */
export function floodTurn(localAgentId: string, n: number, rooms: number): UserMessageCommand {
  const tag = randomBytes(4).toString("hex");
  return {
    type: "user_message",
    room_id: `room-${n % rooms}`,
    local_agent_id: localAgentId,
    agent_message_id: `amsg-flood-${tag}-${n}`,
    user_message_id: `umsg-flood-${tag}-${n}`,
    message: {
      kind: "message",
      role: "user",
      messageId: `m-flood-${tag}-${n}`,
      parts: [{ kind: "text", text: `turn ${n}` }],
    },
  };
}

/**
 * Writes `events` unsent events (4 per turn, in `rooms` rooms, stamped as the hub stamps them)
 * into `<dataDir>/outbox.sqlite`, as an earlier run cut off from the relay would leave them.
 */
export function prefillOutbox(dataDir: string, events: number, rooms: number): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const opened = openOutboxDatabase(dataDir);
  if (!opened.ok) throw new Error(opened.error);
  const db = opened.db;
  const text = "lorem ipsum dolor sit amet ".repeat(8);
  const now = Date.now();
  const batch: NewEventRow[] = [];
  for (let n = 0; n < events; n++) {
    const turn = Math.floor(n / 4);
    const amid = `amsg-old-${turn}`;
    const event = {
      type: "artifact_update",
      agent_message_id: amid,
      data: {
        task_id: `task-old-${turn}`,
        response_seq: now * 1000 + n,
        artifact: { artifactId: `${amid}-stream`, parts: [{ kind: "text", text }] },
        append: n % 4 > 0,
        last_chunk: false,
      },
    };
    const json = JSON.stringify(event);
    batch.push({
      roomId: `room-${turn % rooms}`,
      agentMessageId: amid,
      json,
      bytes: Buffer.byteLength(json),
      createdAt: now,
    });
    if (batch.length === 5_000) db.insertEvents(batch.splice(0), []);
  }
  if (batch.length > 0) db.insertEvents(batch, []);
  db.close();
}
