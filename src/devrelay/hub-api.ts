// The hub-facing relay API (relay-wire.md sections 1–2 and 6): register, agents/sync, heartbeat,
// publish, the SSE command stream, status. Register, sync and publish answer as hybro.ai's code
// does (register moves a hub between accounts; sync keeps only valid cards; publish refuses a
// foreign hub or room with 403/404 and otherwise answers 204, dropping what it must silently).
import type {
  HubStatusResponse,
  PublishedEvent,
  RegisterResponse,
  SyncResponse,
} from "../wire/relay.ts";
import { syncEntryProblem } from "../wire/sync-card.ts";
import { clip, notFound, RelayHttpError } from "./errors.ts";
import type { Reply } from "./http-io.ts";
import type { HandlerResult, RequestContext } from "./request-context.ts";
import { HUB_ID_FORMAT } from "./roster.ts";
import { parseBody, publishBody, registerBody, syncBody } from "./schemas.ts";
import type { HubRecord } from "./store.ts";

const NO_CONTENT: Reply = { status: 204 };

/** hybro.ai's words for a hub that is not the key's (sync, publish, and the stream's `error`). */
export const HUB_NOT_OWNED = "Hub not owned by this API key";

/** The hub named in the path, if it is registered to the key's user; else 404 (the hub re-registers). */
function ownedHub(ctx: RequestContext): HubRecord {
  const hubId = ctx.params.hubId ?? "";
  const hub = HUB_ID_FORMAT.test(hubId) ? ctx.core.roster.hub(hubId) : undefined;
  if (!hub || hub.userId !== ctx.key.userId) {
    throw notFound(
      `Hub "${clip(hubId, 40)}" is not registered for this API key's user; register it first (POST /api/v1/relay/hub/register)`,
    );
  }
  return hub;
}

/**
 * The hub named in the path for publish and sync, as hybro.ai checks it: a hub it does not know,
 * or one registered to another user, is refused with 403 and its plain-text reason (hybro.ai
 * sends the reason as a bare string; here it is the `message`, with a code).
 */
function hubOfKey(ctx: RequestContext, unknownMessage: string): HubRecord {
  const hubId = ctx.params.hubId ?? "";
  const hub = HUB_ID_FORMAT.test(hubId) ? ctx.core.roster.hub(hubId) : undefined;
  if (!hub)
    throw new RelayHttpError(403, "unknown_hub", unknownMessage, { hub_id: clip(hubId, 40) });
  if (hub.userId !== ctx.key.userId) {
    throw new RelayHttpError(403, "hub_not_owned", HUB_NOT_OWNED, { hub_id: hubId });
  }
  return hub;
}

export async function register(ctx: RequestContext): Promise<Reply> {
  const body = parseBody(registerBody, await ctx.json());
  const outcome = ctx.core.roster.register(body.hub_id, ctx.key.userId, new Date().toISOString());
  if (outcome.movedFrom !== null) {
    // hybro.ai upserts: whoever registers a hub id last owns it. Odd but harmless for an owner
    // who keeps the id private; worth a line here.
    ctx.core.logger.warn(
      { hubId: body.hub_id, from: outcome.movedFrom, to: ctx.key.userId },
      "hub registered by another user's key: it now belongs to that user",
    );
  } else if (outcome.created) {
    ctx.core.logger.info({ hubId: body.hub_id, userId: ctx.key.userId }, "hub registered");
  }
  ctx.core.emit("hubRegistered", {
    hubId: body.hub_id,
    userId: ctx.key.userId,
    created: outcome.created,
    movedFrom: outcome.movedFrom,
  });
  const response: RegisterResponse = { hub_id: body.hub_id, user_id: ctx.key.userId };
  return { status: 200, body: response };
}

export async function syncAgents(ctx: RequestContext): Promise<Reply> {
  const body = parseBody(syncBody, await ctx.json());
  const hub = hubOfKey(ctx, HUB_NOT_OWNED);
  // hybro.ai leaves out, without an error, every entry whose card it finds invalid; when none
  // is valid it answers [] and prunes nothing.
  const valid = body.agents.filter((agent) => syncEntryProblem(agent) === null);
  const left = body.agents.length - valid.length;
  if (body.agents.length > 0 && valid.length === 0) {
    ctx.core.logger.debug({ hubId: hub.hubId, left }, "agents sync: no valid card; nothing synced");
    ctx.core.emit("agentsSynced", { hubId: hub.hubId, agents: [], pruned: [], left });
    return { status: 200, body: { synced: [] } satisfies SyncResponse };
  }
  const before = new Set(
    ctx.core.roster
      .agentsOfHub(hub.hubId)
      .filter((agent) => agent.active)
      .map((agent) => agent.agentId),
  );
  const synced = ctx.core.roster.sync(
    hub.hubId,
    valid,
    body.prune_missing ?? true,
    new Date().toISOString(),
  );
  const kept = new Set(synced.map((agent) => agent.agentId));
  const pruned = (body.prune_missing ?? true) ? [...before].filter((id) => !kept.has(id)) : [];
  ctx.core.logger.debug(
    { hubId: hub.hubId, agents: synced.length, left, pruned: pruned.length },
    "agents synced",
  );
  ctx.core.emit("agentsSynced", { hubId: hub.hubId, agents: valid, pruned, left });
  const response: SyncResponse = {
    synced: synced.map((agent) => ({
      agent_id: agent.agentId,
      local_agent_id: agent.localAgentId,
    })),
  };
  return { status: 200, body: response };
}

export function heartbeat(ctx: RequestContext): Reply {
  const hub = ownedHub(ctx);
  ctx.core.noteHeartbeat(hub.hubId);
  return NO_CONTENT;
}

export async function publish(ctx: RequestContext): Promise<Reply> {
  // The body is checked first (any unknown event type refuses the whole POST with 422).
  const body = parseBody(publishBody, await ctx.json());
  const hub = hubOfKey(ctx, "Unknown hub");
  const owner = ctx.core.ingest.roomOwner(
    body.room_id,
    (hubId) => ctx.core.roster.hub(hubId)?.userId,
  );
  if (owner === undefined) {
    throw new RelayHttpError(404, "room_not_found", `Room ${clip(body.room_id)} not found`);
  }
  if (owner !== hub.userId) {
    throw new RelayHttpError(403, "room_owner_mismatch", "Hub owner does not match room owner");
  }
  ctx.core.applyPublish(hub.hubId, body.room_id, body.events as PublishedEvent[]);
  return NO_CONTENT;
}

/** hybro.ai's words for every stream it refuses (an unknown hub, or another account's). */

export function events(ctx: RequestContext): HandlerResult {
  const hubId = ctx.params.hubId ?? "";
  const hub = HUB_ID_FORMAT.test(hubId) ? ctx.core.roster.hub(hubId) : undefined;
  if (!hub || hub.userId !== ctx.key.userId) {
    // Not a 404 here: hybro.ai answers 200 and the `error` event, then ends the stream.
    ctx.core.refuseStream(ctx.res, clip(hubId, 64), ctx.key.userId, HUB_NOT_OWNED, ctx.headers);
    return "streamed";
  }
  const header = ctx.req.headers["last-event-id"];
  const lastEventId = (Array.isArray(header) ? header[0] : header)?.trim() || null;
  ctx.core.channel(hub.hubId).attach(ctx.res, lastEventId, ctx.headers);
  return "streamed";
}

export function status(ctx: RequestContext): Reply {
  const response: HubStatusResponse = {
    hubs: ctx.core.roster.hubsOf(ctx.key.userId).map((hub) => {
      const agents = ctx.core.roster.agentsOfHub(hub.hubId);
      const active = agents.filter((agent) => agent.active).length;
      return {
        hub_id: hub.hubId,
        is_online: ctx.core.isOnline(hub.hubId),
        agent_count: agents.length,
        active_agent_count: active,
        inactive_agent_count: agents.length - active,
      };
    }),
  };
  return { status: 200, body: response };
}
