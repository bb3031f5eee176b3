// The agents and relay link views, redrawn from each state update.
import { ago, clockTime, fill, h } from "./dom.js";

/** Keeps the open <details> of cards open across redraws. */
const openCards = new Set();

export function renderAgents(root, agents) {
  if (agents.length === 0) {
    fill(root, h("p", { class: "empty" }, "No agents in the roster."));
    return;
  }
  fill(
    root,
    h(
      "table",
      { id: "agents" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          [
            "Agent",
            "Health",
            "Transport",
            "In use / limit",
            "Queued",
            "Completed / failed / input",
            "Relay",
            "Last error",
          ].map((name) => h("th", {}, name)),
        ),
      ),
      h(
        "tbody",
        {},
        agents.map((agent) => [
          h(
            "tr",
            { dataset: { agentId: agent.localAgentId } },
            h("td", {}, h("b", {}, agent.name)),
            h(
              "td",
              {},
              h("span", { class: `dot ${agent.healthy ? "ok" : "bad"}` }),
              agent.healthy ? " healthy" : " unhealthy",
            ),
            h("td", {}, agent.transport),
            h("td", {}, `${agent.inUse} / ${agent.limit ?? "–"}`),
            h("td", {}, String(agent.queued)),
            h("td", {}, `${agent.completed} / ${agent.failed} / ${agent.inputRequired}`),
            h(
              "td",
              { class: agent.keptByRelay ? "" : "error" },
              agent.keptByRelay ? "kept" : `not kept: ${agent.notKeptReason}`,
            ),
            h("td", { class: "error" }, agent.lastError ?? ""),
          ),
          h(
            "tr",
            { class: "card-row" },
            h(
              "td",
              { colspan: 8 },
              agent.card
                ? h(
                    "details",
                    {
                      open: openCards.has(agent.localAgentId),
                      ontoggle: (event) => {
                        if (event.target.open) openCards.add(agent.localAgentId);
                        else openCards.delete(agent.localAgentId);
                      },
                    },
                    h("summary", {}, "card as synced to the relay"),
                    h("pre", { class: "json" }, JSON.stringify(agent.card, null, 2)),
                  )
                : h("span", { class: "muted" }, "no card synced"),
            ),
          ),
        ]),
      ),
    ),
  );
}

export function renderRelay(root, relay) {
  const rows = [
    ["relay", relay.gatewayUrl],
    ["hub id", relay.hubId],
    ["command stream", relay.connection],
    [
      "connected since",
      relay.connectedSince
        ? `${clockTime(relay.connectedSince)} (${ago(relay.connectedSince)})`
        : "–",
    ],
    ["reconnects", String(relay.reconnects)],
    ["registered / ready", `${relay.registered ? "yes" : "no"} / ${relay.ready ? "yes" : "no"}`],
    [
      "last sync",
      relay.lastSyncAt ? `${clockTime(relay.lastSyncAt)}, ${relay.agentsSynced} agents kept` : "–",
    ],
    ["heartbeat failures", String(relay.heartbeatFailures)],
    ["last error", relay.lastError ?? "–"],
    [
      "outbox depth",
      `${relay.outbox.depth} event${relay.outbox.depth === 1 ? "" : "s"} not yet acknowledged`,
    ],
    ["oldest queued", relay.outbox.oldestQueuedAt ? ago(relay.outbox.oldestQueuedAt) : "–"],
    [
      "outbox",
      `${relay.outbox.durable ? "durable (sqlite)" : "memory only"}, ${relay.outbox.dropped} dropped`,
    ],
    ["publish POSTs/s", relay.publish.postsPerS.toFixed(1)],
    [
      "published",
      `${relay.publish.eventsSent} events in ${relay.publish.batches} POSTs (${relay.publish.posts} attempts, ${relay.publish.retries} retries, ${relay.publish.dropped} dropped)`,
    ],
  ];
  if (relay.problem) rows.push(["problem", `${relay.problem.kind}: ${relay.problem.message}`]);
  if (relay.outbox.failure) rows.push(["outbox failure", relay.outbox.failure]);
  fill(
    root,
    h(
      "dl",
      { id: "relay", class: "facts wide" },
      rows.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]),
    ),
    h("h3", {}, "Stream closings (latest first)"),
    relay.disconnects.length === 0
      ? h("p", { class: "muted" }, "none since the hub started")
      : h(
          "ol",
          { class: "disconnects" },
          relay.disconnects.map((d) =>
            h(
              "li",
              {},
              h("span", { class: "offset" }, clockTime(d.at)),
              d.reason ?? "closed by the relay",
            ),
          ),
        ),
  );
}
