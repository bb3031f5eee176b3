// One turn opened: its timings, what the privacy guard did, the replay, and the timeline in
// order (relay command → agent calls and events → events published, with their response_seq
// and acknowledgement).
import {
  after,
  bytes,
  clockTime,
  duration,
  fill,
  h,
  prettyPayload,
  privacyChips,
  stateBadge,
} from "./dom.js";
import { contentLines } from "./parts.js";

const LANES = {
  command: ["relay → hub", "lane-relay"],
  duplicate: ["relay → hub", "lane-relay"],
  cancel: ["relay → hub", "lane-relay"],
  started: ["hub → agent", "lane-agent"],
  a2a: ["agent → hub", "lane-agent"],
  a2a_error: ["agent ✕", "lane-error"],
  published: ["hub → relay", "lane-publish"],
  publish_failed: ["hub → relay ✕", "lane-error"],
  withheld: ["privacy", "lane-privacy"],
  blocked: ["privacy", "lane-privacy"],
  omitted: ["inspector", "lane-note"],
};

/** Renders `turn` into `root`; `onReplay()` runs the replay and resolves with its record. */
export function renderTurn(root, turn, { onReplay, onClose }) {
  const t = turn.times;
  const from = t.receivedAt;
  fill(
    root,
    h(
      "div",
      { class: "detail-head" },
      h(
        "h2",
        {},
        turn.agentName ?? turn.localAgentId ?? "unknown agent",
        " ",
        stateBadge(turn.state),
      ),
      h("button", { type: "button", class: "close", title: "close", onclick: onClose }, "×"),
    ),
    h(
      "dl",
      { class: "facts" },
      fact("turn", turn.id),
      fact("room", turn.roomId || "–"),
      fact("received", clockTime(from)),
      fact("from", turn.origin === "recovered" ? "an earlier run (recovered)" : turn.origin),
      turn.error ? fact("error", `${turn.error.type}: ${turn.error.message}`) : null,
      turn.duplicates > 0 ? fact("duplicates", `${turn.duplicates} (ignored)`) : null,
    ),
    h(
      "ol",
      { class: "timings", "aria-label": "timings" },
      step("queued → started", from, t.startedAt),
      step("agent's first byte", from, t.firstByteAt),
      step("terminal", from, t.terminalAt),
      step("published", from, t.publishedAt),
    ),
    h(
      "p",
      { class: "counts" },
      `${turn.agentEvents} from the agent · ${turn.publishedEvents} published (${turn.ackedEvents} acknowledged) · ${turn.retries} retries · ${bytes(turn.bytesOut)} out`,
    ),
    turn.privacy.length > 0
      ? h("p", { class: "privacy-summary" }, "privacy guard: ", privacyChips(turn.privacy))
      : null,
    replaySection(turn, onReplay),
    h("h3", {}, "Timeline"),
    h(
      "ol",
      { id: "timeline", class: "timeline" },
      turn.timeline.map((entry) => timelineItem(entry, from)),
    ),
  );
}

function fact(name, value) {
  return [h("dt", {}, name), h("dd", {}, value)];
}

function step(name, from, at) {
  return h(
    "li",
    { class: at ? "done" : "pending" },
    h("span", {}, name),
    h("b", {}, after(from, at)),
  );
}

function replaySection(turn, onReplay) {
  const original = turn.answer;
  const answer = h("div", { id: "replay-answer", class: "answer" });
  showReplay(answer, turn.replay);
  const button = h(
    "button",
    {
      type: "button",
      id: "replay",
      title:
        "send the user message again to the same local agent, here only (not through the relay)",
      onclick: async () => {
        button.disabled = true;
        fill(answer, h("p", { class: "muted" }, "replaying…"));
        try {
          showReplay(answer, await onReplay());
        } catch (error) {
          fill(answer, h("p", { class: "error" }, String(error.message ?? error)));
        } finally {
          button.disabled = false;
        }
      },
    },
    "Replay locally",
  );
  return h(
    "section",
    { class: "replay" },
    h("h3", {}, "Answer ", button),
    h(
      "div",
      { class: "side-by-side" },
      h(
        "div",
        { class: "answer", id: "original-answer" },
        h("h4", {}, "original"),
        original === null
          ? h("p", { class: "muted" }, "no answer published")
          : h("pre", {}, original),
      ),
      answer,
    ),
  );
}

function showReplay(root, replay) {
  if (!replay) {
    fill(root, h("h4", {}, "replay"), h("p", { class: "muted" }, "not replayed yet"));
    return;
  }
  fill(
    root,
    h(
      "h4",
      {},
      `replay at ${clockTime(replay.at)} · ${replay.status} · ${duration(replay.durationMs)}`,
    ),
    replay.error
      ? h("p", { class: "error" }, `${replay.error.type}: ${replay.error.message}`)
      : null,
    replay.text ? h("pre", { class: "replay-text" }, replay.text) : null,
  );
}

function timelineItem(entry, from) {
  const [lane, laneClass] = LANES[entry.type] ?? ["", ""];
  return h(
    "li",
    { class: `entry ${laneClass}`, dataset: { entryType: entry.type } },
    h("span", { class: "offset" }, after(from, entry.at)),
    h("span", { class: "lane" }, lane),
    h("div", { class: "what" }, ...describe(entry, from)),
  );
}

function describe(entry, from) {
  switch (entry.type) {
    case "command":
      return [h("b", {}, `relay command ${entry.command}`), payloadDetails(entry.payload)];
    case "duplicate":
      return [h("b", {}, "the relay sent the same command again (ignored)")];
    case "cancel":
      return [h("b", {}, "the relay asked to cancel this turn")];
    case "started":
      return [h("b", {}, "got an agent slot; sent to the agent")];
    case "a2a":
      return [
        h("b", {}, `A2A ${entry.kind}`),
        h("span", { class: "muted" }, ` via ${entry.call}`),
        contentList(entry),
        payloadDetails(entry.payload),
      ];
    case "a2a_error":
      return [h("b", {}, `${entry.call} failed: `), entry.message];
    case "published":
      return [
        h("b", {}, entry.eventType),
        h("span", { class: "seq" }, ` response_seq ${entry.responseSeq ?? "–"}`),
        entry.piece
          ? h("span", { class: "piece" }, ` · piece ${entry.piece.index}/${entry.piece.of}`)
          : null,
        h(
          "span",
          { class: entry.dropped ? "error" : "muted" },
          entry.dropped
            ? " · dropped (the relay refused it)"
            : entry.cutInto
              ? ` · too large: sent as ${entry.cutInto} pieces (below)`
              : entry.ackedAt
                ? ` · acknowledged ${after(from, entry.ackedAt)}`
                : " · not acknowledged yet",
        ),
        " ",
        privacyChips(entry.detections),
        contentList(entry),
        payloadDetails(entry.payload),
      ];
    case "publish_failed":
      return [
        h("b", {}, entry.retry ? "POST failed, retried: " : "POST refused, dropped: "),
        entry.reason,
        entry.times > 1
          ? h("span", { class: "muted" }, ` (×${entry.times}, last ${after(from, entry.lastAt)})`)
          : null,
      ];
    case "withheld":
      return [
        h("b", {}, `${entry.eventType} withheld (turn blocked) `),
        privacyChips(entry.detections),
      ];
    case "blocked":
      return [
        h("b", {}, `blocked by the privacy guard (${entry.kind}, rule ${entry.rule}): `),
        entry.message,
      ];
    case "omitted":
      return [
        h(
          "span",
          { class: "muted" },
          `${entry.entries} more entries (${bytes(entry.bytes)}) not kept: this turn reached its share of the inspector's memory`,
        ),
      ];
    default:
      return [entry.type];
  }
}

/** The parts the event carries, one line per artifact or message. */
function contentList(entry) {
  const lines = contentLines(entry);
  if (lines.length === 0) return null;
  return h(
    "ul",
    { class: "parts" },
    lines.map((line) =>
      h(
        "li",
        {},
        h("span", { class: "muted" }, `${line.label}: `),
        line.parts.map((part) => h("span", { class: "part" }, part)),
      ),
    ),
  );
}

function payloadDetails(payload) {
  return h(
    "details",
    {},
    h("summary", {}, bytes(payload.bytes)),
    h("pre", { class: "json" }, prettyPayload(payload)),
  );
}
