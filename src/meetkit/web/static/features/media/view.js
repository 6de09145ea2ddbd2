// What the page shows, as meetkit needs it to choose the subscription: `media.view {tiles, low_bandwidth}`,
// one tile per remote video on screen (the cameras of the visible page, every screen share) with its
// size in device pixels, so each camera gets the simulcast layer that fits. Sent when that changes,
// debounced: a resize or a page turn redraws many tiles in a row.
import { store, send } from "../../core.js";
import { watch } from "../../store.js";
import { $$ } from "../../dom.js";
import { joined } from "./tracks.js";

const VIEW_DEBOUNCE_MS = 150;
const MAX_TILES = 64;  // the server's bound

const view = { timer: null, sent: null, observer: null, observed: new Set() };

/** The remote videos on screen: `video[data-feed]` in the grid and the stage, sized by their tile. */
function currentView() {
  const dpr = window.devicePixelRatio || 1;
  const tiles = [];
  const seen = new Set();
  const boxes = new Set();
  for (const video of $$("#grid .tile video[data-feed], #stage .screen-tile video[data-feed]")) {
    const feed = Number(video.dataset.feed);
    if (!Number.isInteger(feed) || seen.has(feed) || tiles.length >= MAX_TILES) continue;
    seen.add(feed);
    const box = video.closest(".tile, .screen-tile");
    boxes.add(box);
    const rect = box.getBoundingClientRect();
    tiles.push({ feed, width: Math.round(rect.width * dpr), height: Math.round(rect.height * dpr) });
  }
  observeOnly(boxes);
  tiles.sort((a, b) => a.feed - b.feed);
  return { tiles, low_bandwidth: !!store.state.media.lowBandwidth };
}

/** The tiles' size changes (a layout, a panel opening) schedule a view; gone tiles are let go. */
function observeOnly(boxes) {
  if (!view.observer) return;
  for (const el of view.observed) if (!boxes.has(el)) { view.observer.unobserve(el); view.observed.delete(el); }
  for (const el of boxes) if (!view.observed.has(el)) { view.observer.observe(el); view.observed.add(el); }
}

/** Sends the view when it changed since the last one (or always, `force`: a new or resumed session). */
export function sendView(force = false) {
  clearTimeout(view.timer);
  view.timer = null;
  if (!joined()) return;
  const now = currentView();
  const key = JSON.stringify(now);
  if (!force && key === view.sent) return;
  if (send({ type: "media.view", ...now })) view.sent = key;
}

export function scheduleView() {
  if (view.timer || !joined()) return;
  view.timer = setTimeout(() => sendView(false), VIEW_DEBOUNCE_MS);
}

/** The next view is sent even if it looks the same (the server lost or refused the last one). */
export function forgetView() {
  view.sent = null;
}

export function lastView() {
  return view.sent ? JSON.parse(view.sent) : null;
}

export function startView() {
  if (window.ResizeObserver) view.observer = new ResizeObserver(scheduleView);
  // The grid and the stage draw on the same store changes before us: by the debounce, they are drawn.
  watch(store, ["session", "participants", "grid", "media"], scheduleView);
  window.addEventListener("resize", scheduleView);
}
