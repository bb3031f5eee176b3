// The Gateway API, routed through the relay path: a gateway call becomes a `user_message`
// (or `user_reply`) command on the owning hub's stream, and the hub's published events come
// back as an A2A Task (send) or as SSE (stream). Also discover and card.
import { randomUUID } from "node:crypto";
import type {
  AgentCardResponse,
  DiscoverResponse,
  GatewayStreamErrorEvent,
  GatewayStreamResultEvent,
} from "../wire/gateway.ts";
import type { PublishedEvent, RelayCommand } from "../wire/relay.ts";
import { maskAgentCard } from "./card-mask.ts";
import { rankAgents } from "./discovery.ts";
import { clip, notFound, RelayHttpError } from "./errors.ts";
import type { Reply } from "./http-io.ts";
import type { RelayCore } from "./relay-core.ts";
import type { HandlerResult, RequestContext } from "./request-context.ts";
import { AGENT_ID_FORMAT } from "./roster.ts";
import { discoverBody, gatewaySendBody, parseBody } from "./schemas.ts";
import { isWritable, openEventStream, sseComment, sseFrame } from "./sse.ts";
import type { AgentRecord } from "./store.ts";
import { type GatewayTask, taskResult } from "./task-result.ts";
import type { TurnRecord } from "./turn-log.ts";

export const DEFAULT_DISCOVER_LIMIT = 10;

/** `bytes` random bytes as hex; randomUUID draws from a buffered pool, cheaper than randomBytes per call. */
function hex(bytes: number): string {
  return randomUUID()
    .replaceAll("-", "")
    .slice(0, bytes * 2);
}

/** hybro.ai's task id for a turn before the hub reports the agent's: `relay-pending-…`. */
function placeholderTaskId(agentMessageId: string): string {
  return `relay-pending-${agentMessageId.slice(0, 12)}`;
}

export function gatewayAgentUrl(core: RelayCore, agentId: string): string {
  return `${core.baseUrl}/api/v1/gateway/agents/${agentId}`;
}

/** The agent named in the path, if it belongs to one of the key's user's hubs; else 404. */
function ownedAgent(ctx: RequestContext): AgentRecord {
  const agentId = ctx.params.agentId ?? "";
  const agent = AGENT_ID_FORMAT.test(agentId) ? ctx.core.roster.agent(agentId) : undefined;
  const hub = agent ? ctx.core.roster.hub(agent.hubId) : undefined;
  if (!agent || !hub || hub.userId !== ctx.key.userId) {
    throw notFound(`Agent "${clip(agentId, 40)}" not found`);
  }
  return agent;
}

/** Discovery over the key's user's active agents; shared by the gateway and the Discovery API. */
export async function discoverAgents(ctx: RequestContext): Promise<Reply> {
  const body = parseBody(discoverBody, await ctx.json());
  const ranked = rankAgents(
    body.query,
    ctx.core.roster.activeAgentsOf(ctx.key.userId),
    body.limit ?? DEFAULT_DISCOVER_LIMIT,
  );
  const response: DiscoverResponse = {
    query: body.query,
    agents: ranked.map(({ agent, score }) => ({
      agent_id: agent.agentId,
      agent_card: maskAgentCard(agent.agentCard, gatewayAgentUrl(ctx.core, agent.agentId)),
      match_score: score,
    })),
    count: ranked.length,
  };
  return { status: 200, body: response };
}

export function card(ctx: RequestContext): Reply {
  const agent = ownedAgent(ctx);
  const response: AgentCardResponse = {
    agent_id: agent.agentId,
    agent_card: maskAgentCard(agent.agentCard, gatewayAgentUrl(ctx.core, agent.agentId)),
  };
  return { status: 200, body: response };
}

/** One gateway call in flight: the turn it started and what ties follow-ups to it. */
interface GatewayTurn {
  agent: AgentRecord;
  turn: TurnRecord;
  roomId: string;
  contextId: string;
}

function joinedText(parts: ReadonlyArray<Record<string, unknown>>): string {
  return parts
    .map((part) => (typeof part.text === "string" ? part.text : ""))
    .filter((text) => text !== "")
    .join("\n");
}

/** Builds the command for a gateway message and hands it to the owning hub's channel. */
async function startTurn(ctx: RequestContext): Promise<GatewayTurn> {
  const agent = ownedAgent(ctx);
  const { message } = parseBody(gatewaySendBody, await ctx.json());
  if (!agent.active) {
    throw new RelayHttpError(
      503,
      "agent_unavailable",
      "This agent is no longer in its hub's roster (pruned at the last sync)",
    );
  }
  const { core } = ctx;
  const agentMessageId = `amsg_${hex(12)}`;
  const waiting = message.taskId
    ? core.conversations.waiting(agent.agentId, message.taskId)
    : undefined;
  let command: RelayCommand;
  let roomId: string;
  let contextId: string;
  if (waiting) {
    // The caller answers an agent that asked for input: a HITL reply in the same room.
    roomId = waiting.roomId;
    contextId = waiting.contextId;
    core.conversations.clearWaiting(agent.agentId, waiting.taskId);
    command = {
      type: "user_reply",
      room_id: roomId,
      local_agent_id: agent.localAgentId,
      agent_message_id: agentMessageId,
      reply_text: joinedText(message.parts),
      task_id: waiting.taskId,
      context_id: waiting.contextId,
    };
  } else {
    contextId = message.contextId ?? randomUUID();
    roomId = core.conversations.roomFor(agent.agentId, contextId) ?? `room_${hex(8)}`;
    core.conversations.rememberRoom(agent.agentId, contextId, roomId);
    // As hybro.ai sends it: its run id, its own id of the agent, and a placeholder task id.
    command = {
      type: "user_message",
      room_id: roomId,
      local_agent_id: agent.localAgentId,
      agent_message_id: agentMessageId,
      user_message_id: `umsg_${hex(12)}`,
      run_id: `run_${hex(12)}`,
      agent_id: agent.agentId,
      task_id: placeholderTaskId(agentMessageId),
      message: {
        kind: "message",
        role: "user",
        ...message,
        messageId: message.messageId ?? randomUUID(),
        contextId,
      },
    };
  }
  const turn = core.turns.open(agentMessageId, roomId, agent.hubId);
  core.sendCommand(agent.hubId, command);
  return { agent, turn, roomId, contextId };
}

/** After the terminal event: remember a waiting task (HITL) and the agent's own context id. */
function finishTurn(core: RelayCore, call: GatewayTurn): GatewayTask {
  const { agent, turn } = call;
  if (turn.agentContextId && turn.agentContextId !== call.contextId) {
    core.conversations.rememberRoom(agent.agentId, turn.agentContextId, call.roomId);
  }
  if (turn.terminal?.data.status === "input_required" && turn.agentTaskId) {
    core.conversations.markWaiting({
      agentId: agent.agentId,
      taskId: turn.agentTaskId,
      roomId: call.roomId,
      contextId: turn.agentContextId ?? call.contextId,
    });
  }
  return taskResult({
    agentMessageId: turn.agentMessageId,
    roomId: call.roomId,
    contextId: call.contextId,
    agentTaskId: turn.agentTaskId,
    agentContextId: turn.agentContextId,
    events: turn.events,
  });
}

function timeoutError(core: RelayCore, call: GatewayTurn): RelayHttpError {
  return new RelayHttpError(
    504,
    "agent_timeout",
    `The agent did not finish within ${core.settings.gatewayTimeoutMs} ms`,
    { agent_message_id: call.turn.agentMessageId, hub_online: core.isOnline(call.agent.hubId) },
  );
}

function cancelTurn(core: RelayCore, call: GatewayTurn): void {
  if (core.closing) return;
  core.logger.info(
    { agentMessageId: call.turn.agentMessageId },
    "gateway caller left mid-turn; cancelling",
  );
  core.sendCommand(call.agent.hubId, {
    type: "cancel_task",
    local_agent_id: call.agent.localAgentId,
    task_id: call.turn.agentTaskId ?? placeholderTaskId(call.turn.agentMessageId),
    agent_message_id: call.turn.agentMessageId,
  });
}

export async function send(ctx: RequestContext): Promise<Reply> {
  const call = await startTurn(ctx);
  const gone = new AbortController();
  // 'close' also follows a normal reply; only a caller who left before it counts.
  ctx.res.once("close", () => {
    if (!ctx.res.writableFinished) gone.abort();
  });
  const outcome = await ctx.core.turns.waitForTerminal(
    call.turn,
    ctx.core.settings.gatewayTimeoutMs,
    gone.signal,
  );
  if (outcome === "timeout") throw timeoutError(ctx.core, call);
  if (outcome === "aborted") return { status: 499 }; // nobody is listening any more
  return { status: 200, body: { result: finishTurn(ctx.core, call) } };
}

/** SSE: every applied event of the turn as `data:`, then `{"type":"task_result","result":Task}`. */
export async function stream(ctx: RequestContext): Promise<HandlerResult> {
  const call = await startTurn(ctx);
  const { core, res } = ctx;
  openEventStream(res, ctx.headers);
  let finished = false;
  const write = (payload: unknown) => {
    if (isWritable(res)) res.write(sseFrame(JSON.stringify(payload)));
  };
  const keepAlive = setInterval(() => {
    if (isWritable(res)) res.write(sseComment("keep-alive"));
  }, core.settings.sseHeartbeatMs);
  keepAlive.unref();
  const end = () => {
    finished = true;
    clearInterval(keepAlive);
    clearTimeout(deadline);
    unsubscribe();
    res.end();
  };
  const onEvent = (event: PublishedEvent) => {
    if (finished) return;
    write(event);
    if (event.type === "processing_status") {
      const last: GatewayStreamResultEvent = {
        type: "task_result",
        result: finishTurn(core, call),
      };
      write(last);
      end();
    }
  };
  const deadline = setTimeout(() => {
    if (finished) return;
    const { detail } = timeoutError(core, call).body();
    const failure: GatewayStreamErrorEvent = { ...detail, type: "error" };
    write(failure);
    end();
  }, core.settings.gatewayTimeoutMs);
  deadline.unref();
  const unsubscribe = core.turns.subscribe(call.turn, onEvent);
  res.once("close", () => {
    if (finished) return;
    end();
    cancelTurn(core, call);
  });
  for (const event of [...call.turn.events]) onEvent(event);
  return "streamed";
}
