// Small DOM and formatting helpers. Everything the hub or an agent sent is put in the page as
// text (textContent), never as HTML: an agent's answer can hold anything.

/**
 * h("td", { class: "x", title: "…" }, "text", child, null) → an element. Attributes starting
 * with "on" take a listener; `null`/`false` children are skipped; strings become text nodes.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.append(child);
    else element.append(document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function clockTime(epochMs) {
  if (epochMs === null || epochMs === undefined) return "–";
  const date = new Date(epochMs);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** "+12 ms", "+1.4 s" after `from`; "–" when unknown. */
export function after(from, at) {
  if (from === null || at === null || from === undefined || at === undefined) return "–";
  return `+${duration(at - from)}`;
}

export function duration(ms) {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function ago(epochMs, now = Date.now()) {
  if (epochMs === null || epochMs === undefined) return "–";
  return `${duration(now - epochMs)} ago`;
}

/** Pretty JSON of a kept payload (cut ones are shown as they are, with a note). */
export function prettyPayload(payload) {
  if (payload.cutFromBytes !== null) {
    return `${payload.json}\n… cut: ${bytes(payload.cutFromBytes)} in all, the first ${bytes(payload.keptBytes)} kept`;
  }
  try {
    return JSON.stringify(JSON.parse(payload.json), null, 2);
  } catch {
    return payload.json;
  }
}

export const STATE_LABELS = {
  queued: "queued",
  running: "running",
  completed: "completed",
  failed: "failed",
  canceled: "canceled",
  rejected: "rejected",
  input_required: "input required",
};

export function stateBadge(state) {
  return h("span", { class: `badge state-${state}` }, STATE_LABELS[state] ?? state);
}

/** "api_key · redact ×2" chips for privacy detections or tallies. */
export function privacyChips(items) {
  if (!items || items.length === 0) return null;
  return h(
    "span",
    { class: "chips" },
    items.map((item) =>
      h(
        "span",
        { class: `chip action-${item.action}`, title: item.rule ? `rule ${item.rule}` : null },
        `${item.kind} · ${item.action} ×${item.count}`,
      ),
    ),
  );
}
