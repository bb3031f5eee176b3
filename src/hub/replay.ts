// A local replay (the inspector's Replay button): one message run on a roster agent with the
// turn machinery (streaming or send and poll, deadline, cancel on abort), its events collected
// here instead of published. Nothing reaches the relay.
import { randomUUID } from "node:crypto";
import { type Logger, silentLogger } from "../log/logger.ts";
import type { PublishedEvent } from "../wire/relay.ts";
import { answerText } from "./answer.ts";
import type { Roster } from "./hub.ts";
import { newHubTaskId } from "./mapping.ts";
import { runTurn, type TurnSettings } from "./turn.ts";

export interface LocalAnswer {
  /** completed | failed | input_required */
  status: string;
  /** The answer's text (or the agent's question, when it asks for input); see answer.ts. */
  text: string;
  error: { type: string; message: string } | null;
  durationMs: number;
}

class AgentNotInRoster extends Error {
  override readonly name = "AgentNotInRoster";
}

export async function replayLocally(
  roster: Roster,
  localAgentId: string,
  message: Record<string, unknown>,
  options: { signal: AbortSignal; settings?: Partial<TurnSettings>; logger?: Logger },
): Promise<LocalAnswer> {
  const agent = roster.get(localAgentId);
  if (!agent) throw new AgentNotInRoster(`agent ${localAgentId} is not in the roster now`);
  const started = performance.now();
  const events: PublishedEvent[] = [];
  const outcome = await runTurn(
    {
      agentMessageId: `replay-${randomUUID()}`,
      localAgentId,
      agentName: agent.name,
      userMessageId: null,
      hubTaskId: newHubTaskId(),
      runId: null,
      message,
      streaming: agent.streaming,
    },
    agent.client,
    (batch) => {
      events.push(...batch);
    },
    {
      signal: options.signal,
      settings: {
        ...options.settings,
        ...(agent.timeoutMs === undefined ? {} : { turnDeadlineMs: agent.timeoutMs }),
      },
      logger: options.logger ?? silentLogger(),
    },
  );
  let error: LocalAnswer["error"] = null;
  for (const event of events) {
    if (event.type === "agent_error")
      error = { type: event.data.error_type, message: event.data.error };
  }
  const text = answerText(events) ?? "";
  return { status: outcome.status, text, error, durationMs: performance.now() - started };
}
