// The inspector page: the turn list kept live over SSE (api/events), filters, a turn opened into
// its timeline, the agents and relay views. Every URL is relative: the page lives under
// /t/<token>/, so each request carries the token without the page ever handling it.
import { bytes, clockTime, duration, fill, h, STATE_LABELS, stateBadge } from "./dom.js";
import { renderAgents, renderRelay } from "./status.js";
import { renderTurn } from "./timeline.js";

const turns = new Map();
let openId = null;
let detailLoading = null;
let detailStale = false;
let agents = [];

const $ = (selector) => document.querySelector(selector);

function setLive(state, text) {
  const live = $("#live");
  live.dataset.state = state;
  live.textContent = text;
}

// ---- views ------------------------------------------------------------------------------------

for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => showView(button.dataset.view));
}

function showView(name) {
  for (const button of document.querySelectorAll("nav button")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === name));
  }
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
}

// ---- turns ------------------------------------------------------------------------------------

const stateFilter = $("#filter-state");
for (const [state, label] of Object.entries(STATE_LABELS)) {
  stateFilter.append(h("option", { value: state }, label));
}
stateFilter.addEventListener("change", drawTurns);
$("#filter-agent").addEventListener("change", drawTurns);

function drawAgentFilter() {
  const select = $("#filter-agent");
  const names = new Set(agents.map((agent) => agent.name));
  for (const turn of turns.values()) if (turn.agentName) names.add(turn.agentName);
  const chosen = select.value;
  const have = [...select.options].slice(1).map((option) => option.value);
  const want = [...names].sort();
  if (have.join("\n") === want.join("\n")) return;
  fill(
    select,
    h("option", { value: "" }, "all agents"),
    want.map((name) => h("option", { value: name }, name)),
  );
  select.value = want.includes(chosen) ? chosen : "";
}

function drawTurns() {
  const agent = $("#filter-agent").value;
  const state = stateFilter.value;
  const all = [...turns.values()].sort((a, b) => b.seq - a.seq);
  const shown = all.filter(
    (turn) => (!agent || turn.agentName === agent) && (!state || turn.state === state),
  );
  fill($("#turns tbody"), shown.map(turnRow));
  $("#no-turns").hidden = all.length > 0;
  $("#turn-count").textContent =
    shown.length === all.length ? `${all.length} turns` : `${shown.length} of ${all.length} turns`;
}

function turnRow(turn) {
  const t = turn.times;
  const span = (from, to) => (from && to ? duration(to - from) : "–");
  return h(
    "tr",
    {
      dataset: { turnId: turn.id, state: turn.state },
      class: turn.id === openId ? "open" : null,
      tabindex: 0,
      onclick: () => openTurn(turn.id),
      onkeydown: (event) => {
        if (event.key === "Enter") openTurn(turn.id);
      },
    },
    h("td", { class: "time" }, clockTime(t.receivedAt)),
    h("td", { class: "room", title: turn.roomId }, turn.roomId || "–"),
    h("td", {}, turn.agentName ?? turn.localAgentId ?? "–"),
    h(
      "td",
      {},
      stateBadge(turn.state),
      turn.error ? h("span", { class: "error small" }, ` ${turn.error.type}`) : null,
    ),
    h(
      "td",
      { class: "timings" },
      `${span(t.receivedAt, t.startedAt)} → ${span(t.receivedAt, t.firstByteAt)} → ${span(t.receivedAt, t.terminalAt)} → ${span(t.receivedAt, t.publishedAt)}`,
    ),
    h("td", {}, `${turn.agentEvents} / ${turn.publishedEvents}`),
    h("td", { class: turn.retries > 0 ? "warn" : "" }, String(turn.retries)),
    h("td", {}, bytes(turn.bytesOut)),
  );
}

async function getJson(path, init) {
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body;
}

async function openTurn(id) {
  openId = id;
  $("#detail").hidden = false;
  for (const row of document.querySelectorAll("#turns tbody tr")) {
    row.classList.toggle("open", row.dataset.turnId === id);
  }
  await loadDetail();
}

function closeTurn() {
  openId = null;
  $("#detail").hidden = true;
  for (const row of document.querySelectorAll("#turns tbody tr.open")) row.classList.remove("open");
}

/** Loads the open turn's detail; a change while loading loads it again after. */
async function loadDetail() {
  if (detailLoading) {
    detailStale = true;
    return detailLoading;
  }
  const id = openId;
  if (!id) return;
  detailLoading = (async () => {
    try {
      const turn = await getJson(`api/turns/${encodeURIComponent(id)}`);
      if (openId !== id) return;
      const keepOpen = [...document.querySelectorAll("#timeline details")].map((d) => d.open);
      const scroll = $("#detail").scrollTop;
      renderTurn($("#detail"), turn, {
        onReplay: () => getJson(`api/turns/${encodeURIComponent(id)}/replay`, { method: "POST" }),
        onClose: closeTurn,
      });
      document.querySelectorAll("#timeline details").forEach((d, i) => {
        if (keepOpen[i]) d.open = true;
      });
      $("#detail").scrollTop = scroll;
    } catch (error) {
      if (openId === id) fill($("#detail"), h("p", { class: "error" }, String(error.message)));
    } finally {
      detailLoading = null;
    }
  })();
  await detailLoading;
  if (detailStale) {
    detailStale = false;
    await loadDetail();
  }
}

// ---- live updates -------------------------------------------------------------------------------

let drawScheduled = false;
function scheduleDraw() {
  if (drawScheduled) return;
  drawScheduled = true;
  requestAnimationFrame(() => {
    drawScheduled = false;
    drawAgentFilter();
    drawTurns();
  });
}

function applyState(state) {
  agents = state.agents;
  renderAgents($("#view-agents"), state.agents);
  renderRelay($("#view-relay"), state.relay);
}

const events = new EventSource("api/events");
events.addEventListener("open", () => setLive("live", "live"));
events.addEventListener("error", () => setLive("down", "reconnecting…"));
events.addEventListener("snapshot", (message) => {
  const data = JSON.parse(message.data);
  turns.clear();
  for (const turn of data.turns) turns.set(turn.id, turn);
  applyState(data);
  scheduleDraw();
  if (openId) void loadDetail();
});
events.addEventListener("turns", (message) => {
  const data = JSON.parse(message.data);
  for (const turn of data.turns) turns.set(turn.id, turn);
  for (const id of data.evicted) turns.delete(id);
  scheduleDraw();
  if (openId && data.turns.some((turn) => turn.id === openId)) void loadDetail();
});
events.addEventListener("state", (message) => {
  applyState(JSON.parse(message.data));
  scheduleDraw();
});
