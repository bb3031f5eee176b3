// What the stdio and WebSocket transports share about the agent they serve: its log binding,
// and the card it gets when it serves none (local-agents.md section 2): the entry's inline
// `card`, else one built from its name and description, not streaming.

import type { Logger } from "../../log/logger.ts";

/** The agent's logger: bound to its name unless the caller already did (no duplicate keys). */
export function agentLogger(logger: Logger, name: string, transport: "stdio" | "ws"): Logger {
  const bound = logger.bindings() as Record<string, unknown>;
  return logger.child(bound.agent === undefined ? { agent: name, transport } : { transport });
}

export function fallbackCard(
  name: string,
  entryCard: Record<string, unknown> | undefined,
  description?: string,
): Record<string, unknown> {
  if (entryCard) return { ...entryCard };
  return {
    name,
    description: description ?? `Local agent ${name}`,
    version: "0.0.0",
    capabilities: { streaming: false },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [],
  };
}

export function isCard(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
