// How `status` and `agents` print what the daemon said (pure; the commands do the I/O).
import type { AgentStatus, DaemonStatus } from "../control/protocol.ts";

export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${rest}s`;
  return `${rest}s`;
}

export function formatAgents(agents: AgentStatus[]): string {
  if (agents.length === 0)
    return "no agents ready: none in the agents file, or none answering yet (see `hybro-hub logs`; `hybro-hub doctor` checks the file)\n";
  const healthy = agents.filter((agent) => agent.healthy).length;
  const width = Math.max(...agents.map((agent) => agent.name.length));
  const lines = [`agents: ${agents.length} (${healthy} healthy)`];
  for (const agent of agents) {
    const { turns } = agent;
    const mark = agent.healthy ? "✓" : "✗";
    lines.push(
      `  ${mark} ${agent.name.padEnd(width)}  ${agent.localAgentId}  ${agent.kind.padEnd(5)}  ` +
        `running ${turns.running} · queued ${turns.queued} · completed ${turns.completed} · ` +
        `failed ${turns.failed} · waiting for input ${turns.inputRequired}`,
    );
    if (agent.privacy) lines.push(`      privacy: ${agent.privacy}`);
    if (agent.lastError) lines.push(`      last error: ${agent.lastError}`);
    if (agent.notKeptByRelay) lines.push(`      not at the relay: ${agent.notKeptByRelay}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `nextRelay`: the relay the next `start` would use (flag aside), shown when it is not the one
 * the hub is connected to (e.g. after `config set gateway-url`).
 */
export function formatStatus(
  status: DaemonStatus,
  nextRelay?: { url: string; origin: string },
): string {
  const relay = status.relay;
  const lines = [
    `hybro-hub is running (pid ${status.pid}, up ${formatDuration(status.uptimeMs)}): ${status.state}`,
    `  version   ${status.version} (node ${status.nodeVersion})${status.managedBy ? `, run by ${status.managedBy}` : ""}`,
    `  hub id    ${status.hubId}`,
    `  relay     ${relay.connection} · ${status.gatewayUrl} · ${relay.reconnects} reconnect${relay.reconnects === 1 ? "" : "s"}` +
      (relay.lastEventId ? ` · last event ${relay.lastEventId}` : ""),
  ];
  // The stream's states are relay/event-stream.ts `StreamConnection`; an open stream's old error is history.
  if (relay.lastError && relay.connection !== "open")
    lines.push(`            last error: ${relay.lastError}`);
  if (relay.problem)
    lines.push(`            problem (since ${relay.problem.since}): ${relay.problem.message}`);
  if (nextRelay && nextRelay.url !== status.gatewayUrl.replace(/\/+$/, ""))
    lines.push(`            the next start uses ${nextRelay.url} (${nextRelay.origin})`);
  lines.push(
    `  outbox    ${status.outboxDepth} event${status.outboxDepth === 1 ? "" : "s"} waiting for the relay` +
      (status.outbox.durable ? ` · ${status.outbox.file}` : " · memory only") +
      (status.outbox.dropped ? ` · ${status.outbox.dropped} dropped` : "") +
      (status.outbox.failure ? ` · ${status.outbox.failure}` : ""),
    `  turns     ${status.activeTurns} active`,
    `  agents    ${status.agentsFile}`,
    `  logs      ${status.logFile ?? (status.managedBy === "systemd" ? "the journal: journalctl --user -u hybro-hub" : "stderr of the terminal it runs in")}`,
  );
  if (status.privacyAudit !== undefined)
    lines.push(
      `  audit     ${status.privacyAudit ?? "off (privacy.audit is false, or no data folder)"}`,
    );
  if (status.metricsUrl) lines.push(`  metrics   ${status.metricsUrl}`);
  if (status.inspectorUrl) lines.push(`  inspector ${status.inspectorUrl}`);
  return `${lines.join("\n")}\n${formatAgents(status.agents)}`;
}
