// The More menu: whatever does not fit in the control bar moves into it (the same buttons, so
// their ids, labels and listeners stay), and Leave never does. Some controls always sit in the
// menu at a width (docs/ui.md "Widths"); the rest move, least needed first, while the bar overflows.
// "Low bandwidth" lives in the menu only: a choice made once, not a control used during a call.
import { store, dispatch } from "../../core.js";
import { watch } from "../../store.js";
import { $, $$ } from "../../dom.js";
import { MORE_SET } from "./state.js";
import { LOW_BANDWIDTH_SET } from "../media/state.js";

const LOW_BANDWIDTH_KEY = "meetkit.low_bandwidth";

// First to move → last to move. Leave, the microphone and the camera stay in the bar.
const OVERFLOW_ORDER = ["btn-fullscreen", "btn-watch", "btn-view", "btn-speaker", "btn-record", "btn-invite", "btn-board", "btn-captions", "btn-screen", "btn-end", "btn-hand",
  "btn-participants", "btn-chat"];
const ALWAYS_IN_MENU = {
  small: ["btn-view", "btn-record", "btn-screen", "btn-end", "btn-invite", "btn-board", "btn-captions", "btn-speaker", "btn-fullscreen"],
  medium: ["btn-view", "btn-record", "btn-invite", "btn-speaker", "btn-fullscreen"],
  large: [],
};

const homes = new Map();  // button id → the placeholder it goes back to

function shown(el) {
  return getComputedStyle(el).display !== "none";
}

function toMenu(el, menu) {
  if (el.parentElement === menu) return;
  if (!homes.has(el.id)) {
    const mark = document.createComment(el.id);
    el.before(mark);
    homes.set(el.id, mark);
  }
  menu.insertBefore(el, $("#btn-low-bandwidth"));  // the menu's own items stay last
  el.setAttribute("role", el.hasAttribute("aria-pressed") || el.hasAttribute("aria-checked")
    ? "menuitemcheckbox" : "menuitem");
  if (el.hasAttribute("aria-pressed")) {
    el.setAttribute("aria-checked", el.getAttribute("aria-pressed"));
    el.removeAttribute("aria-pressed");
  }
  el.tabIndex = -1;
}

function toBar(el) {
  const mark = homes.get(el.id);
  if (!mark || el.previousSibling === mark) return;
  mark.after(el);
  el.removeAttribute("role");
  el.removeAttribute("tabindex");
  if (el.hasAttribute("aria-checked")) {
    el.setAttribute("aria-pressed", el.getAttribute("aria-checked"));
    el.removeAttribute("aria-checked");
  }
}

/** Puts every control back, then moves controls into the menu until the bar fits. */
export function fitControls() {
  const bar = $("#controls");
  const menu = $("#more-menu");
  const wrap = $(".more-wrap");
  if (!bar || store.state.session.state !== "joined") return;
  for (const id of OVERFLOW_ORDER) toBar($(`#${id}`));
  wrap.hidden = true;
  const always = ALWAYS_IN_MENU[document.body.dataset.width] || [];
  const candidates = OVERFLOW_ORDER.map((id) => $(`#${id}`)).filter(shown);
  for (const el of candidates) if (always.includes(el.id)) toMenu(el, menu);
  const overflows = () => bar.scrollWidth > bar.clientWidth + 0.5;
  if (menu.children.length) wrap.hidden = false;
  for (const el of candidates) {
    if (!overflows()) break;
    if (el.parentElement === menu) continue;
    toMenu(el, menu);
    wrap.hidden = false;
  }
  if (!menu.children.length && store.state.controls.moreOpen) dispatch({ type: MORE_SET, open: false });
}

function items() {
  return $$("#more-menu > button").filter(shown);
}

function drawMenu({ controls, media }) {
  const more = $("#btn-more");
  const menu = $("#more-menu");
  more.setAttribute("aria-expanded", String(controls.moreOpen));
  menu.hidden = !controls.moreOpen;
  const low = $("#btn-low-bandwidth");
  low.setAttribute("aria-checked", String(media.lowBandwidth));
  low.classList.toggle("active", media.lowBandwidth);
}

/** Audio and the lowest video layer only (media.view `low_bandwidth`); remembered in this browser. */
function startLowBandwidth() {
  let saved = false;
  try { saved = localStorage.getItem(LOW_BANDWIDTH_KEY) === "1"; } catch { /* storage blocked */ }
  if (saved) dispatch({ type: LOW_BANDWIDTH_SET, on: true });
  $("#btn-low-bandwidth").addEventListener("click", () => {
    const on = !store.state.media.lowBandwidth;
    dispatch({ type: LOW_BANDWIDTH_SET, on });
    try { localStorage.setItem(LOW_BANDWIDTH_KEY, on ? "1" : "0"); } catch { /* storage blocked */ }
  });
}

export function startMoreMenu() {
  const more = $("#btn-more");
  const menu = $("#more-menu");
  watch(store, ["controls", "media"], drawMenu);
  startLowBandwidth();
  const open = (focusFirst) => {
    dispatch({ type: MORE_SET, open: true });
    if (focusFirst) items()[0]?.focus();
  };
  const close = (focusMore) => {
    dispatch({ type: MORE_SET, open: false });
    if (focusMore) more.focus();
  };
  more.addEventListener("click", () => (store.state.controls.moreOpen ? close(false) : open(false)));
  more.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); open(true); }
  });
  // A chosen item closes the menu (its own listener does the rest).
  menu.addEventListener("click", (e) => { if (e.target.closest("button")) close(false); });
  menu.addEventListener("keydown", (e) => {
    const list = items();
    const i = list.indexOf(document.activeElement);
    if (e.key === "Escape") { e.preventDefault(); close(true); }
    else if (e.key === "ArrowDown") { e.preventDefault(); list[(i + 1) % list.length]?.focus(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); list[(i - 1 + list.length) % list.length]?.focus(); }
    else if (e.key === "Home") { e.preventDefault(); list[0]?.focus(); }
    else if (e.key === "End") { e.preventDefault(); list[list.length - 1]?.focus(); }
    else if (e.key === "Tab") close(false);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && store.state.controls.moreOpen) close(true);
  });
  document.addEventListener("pointerdown", (e) => {
    if (store.state.controls.moreOpen && !e.target.closest(".more-wrap")) close(false);
  });
  window.addEventListener("resize", fitControls);
  if (window.ResizeObserver) new ResizeObserver(() => fitControls()).observe($("#controls"));
  watch(store, ["session"], () => requestAnimationFrame(fitControls));
}
