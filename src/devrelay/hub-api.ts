// The hub-facing relay API (relay-wire.md sections 1–2): register, agents/sync, heartbeat,
// publish, the SSE command stream, status.
import type {
  HubStatusResponse,
  PublishedEvent,
  RegisterResponse,
  SyncResponse,
} from "../wire/relay.ts";
import { clip, notFound, RelayHttpError } from "./errors.ts";
import type { Reply } from "./http-io.ts";
import type { HandlerResult, RequestContext } from "./request-context.ts";
import { HUB_ID_FORMAT } from "./roster.ts";
import { parseBody, publishBody, registerBody, syncBody } from "./schemas.ts";
import type { HubRecord } from "./store.ts";

const NO_CONTENT: Reply = { status: 204 };

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

export async function register(ctx: RequestContext): Promise<Reply> {
  const body = parseBody(registerBody, await ctx.json());
  const outcome = ctx.core.roster.register(body.hub_id, ctx.key.userId, new Date().toISOString());
  if (outcome.kind === "taken") {
    // 409 rather than 403: the key is fine, the id is someone else's. The hub should make a new id.
    throw new RelayHttpError(
      409,
      "hub_id_conflict",
      "This hub_id is registered to another user; generate a new hub id",
      { hub_id: body.hub_id },
    );
  }
  if (outcome.created)
    ctx.core.logger.info({ hubId: body.hub_id, userId: ctx.key.userId }, "hub registered");
  ctx.core.emit("hubRegistered", {
    hubId: body.hub_id,
    userId: ctx.key.userId,
    created: outcome.created,
  });
  const response: RegisterResponse = { hub_id: body.hub_id, user_id: ctx.key.userId };
  return { status: 200, body: response };
}

export async function syncAgents(ctx: RequestContext): Promise<Reply> {
  const hub = ownedHub(ctx);
  const body = parseBody(syncBody, await ctx.json());
  const before = new Set(
    ctx.core.roster
      .agentsOfHub(hub.hubId)
      .filter((agent) => agent.active)
      .map((agent) => agent.agentId),
  );
  const synced = ctx.core.roster.sync(
    hub.hubId,
    body.agents,
    body.prune_missing ?? false,
    new Date().toISOString(),
  );
  const kept = new Set(synced.map((agent) => agent.agentId));
  const pruned = body.prune_missing ? [...before].filter((id) => !kept.has(id)) : [];
  ctx.core.logger.debug(
    { hubId: hub.hubId, agents: synced.length, pruned: pruned.length },
    "agents synced",
  );
  ctx.core.emit("agentsSynced", { hubId: hub.hubId, agents: body.agents, pruned });
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
  const hub = ownedHub(ctx);
  const body = parseBody(publishBody, await ctx.json());
  ctx.core.applyPublish(hub.hubId, body.room_id, body.events as PublishedEvent[]);
  return NO_CONTENT;
}

/** hybro.ai's words for every stream it refuses (an unknown hub, or another account's). */
export const HUB_NOT_OWNED = "Hub not owned by this API key";

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
