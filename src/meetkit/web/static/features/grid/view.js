// The tiles of the current page, sized for the largest 16:9 fit; paging; the round table.
import { store, dispatch } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $, $$ } from "../../dom.js";
import { PAGE_SET, PAGE_SIZE_SET, PIN_SET, VIEW_SET, visiblePage } from "./state.js";
import { createTile, updateTile } from "./tile.js";
import { drawStage } from "./stage.js";

/** Tiles per page from the grid's size; redraws when the count changes (or when forced). */
export function layout(force = false) {
  const grid = $("#grid");
  const { session, grid: g } = store.state;
  if (!grid || session.state !== "joined") return;
  const width = document.body.dataset.width;
  const w = grid.clientWidth;
  const h = grid.clientHeight;
  if (!w || !h) return;
  const cap = g.view === "speaker" ? Math.min(7, 1 + Math.max(1, Math.floor(w / 170)))
    : { small: 4, medium: 6, large: g.view === "round" ? 8 : 12 }[width] || 6;
  const minW = width === "small" ? 140 : 200;
  const cols = Math.max(1, Math.floor(w / minW));
  const rows = Math.max(1, Math.floor(h / (minW * 0.62)));
  const size = Math.max(2, Math.min(cap, cols * rows));
  if (size !== g.pageSize) dispatch({ type: PAGE_SIZE_SET, size });
  else if (force) drawGrid(store.state);
  else fitGrid();
}

/** Picks the column count that gives the largest 16:9 tiles for what is on the page. */
function fitGrid() {
  const grid = $("#grid");
  const n = Math.max(1, grid.querySelectorAll(".tile").length);
  const w = grid.clientWidth || 1;
  const h = grid.clientHeight || 1;
  const gap = 8;
  if (store.state.grid.view === "speaker") {
    fitSpeaker(grid, n, w, h, gap);
    return;
  }
  grid.style.removeProperty("--feature-h");
  if (document.body.dataset.width === "small" && store.state.grid.view !== "round" && n > 1) {
    // A phone fills its screen: two tiles one above the other, three or four in a 2×2 grid, each
    // cut to its box (the video covers it) rather than a 16:9 strip with black bands.
    const cols = n <= 2 ? 1 : 2;
    const rows = Math.ceil(n / cols);
    grid.style.setProperty("--tile-w", `${Math.floor((w - gap * (cols - 1)) / cols)}px`);
    grid.style.setProperty("--tile-h", `${Math.floor((h - gap * (rows - 1)) / rows)}px`);
    return;
  }
  grid.style.removeProperty("--tile-h");
  let bestSize = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tileW = Math.min((w - gap * (cols - 1)) / cols, ((h - gap * (rows - 1)) / rows) * (16 / 9));
    if (tileW > bestSize) bestSize = tileW;
  }
  grid.style.setProperty("--tile-w", `${Math.max(80, Math.floor(bestSize))}px`);
  if (store.state.grid.view === "round") placeRoundTable(grid);
}

/** Speaker view: the first tile takes the grid but a strip; the others share the strip below it. */
function fitSpeaker(grid, n, w, h, gap) {
  const strip = n > 1 ? Math.min(Math.round(h * 0.24), 150) : 0;
  // (4 px spare: a fraction of a pixel more than the grid and the strip is cut off at its foot)
  grid.style.setProperty("--feature-h", `${Math.max(80, h - strip - (n > 1 ? gap + 4 : 0))}px`);
  const others = Math.max(1, n - 1);
  const tileW = Math.min((w - gap * (others - 1)) / others, strip * (16 / 9));
  grid.style.setProperty("--tile-w", `${Math.max(60, Math.floor(tileW))}px`);
  grid.style.setProperty("--tile-h", `${Math.max(34, strip)}px`);
}

function placeRoundTable(grid) {
  const tiles = grid.querySelectorAll(".tile");
  const n = tiles.length;
  tiles.forEach((el, i) => {
    const angle = (-90 + (360 / n) * i) * (Math.PI / 180);
    el.style.left = `${50 + 38 * Math.cos(angle)}%`;
    el.style.top = `${50 + 36 * Math.sin(angle)}%`;
  });
}

function drawGrid(state) {
  const grid = $("#grid");
  const { ids: visible, page, pages } = visiblePage(state);
  const round = state.grid.view === "round";
  const existing = new Map($$(".tile", grid).map((el) => [el.dataset.participantId, el]));
  for (const [id, el] of existing) if (!visible.includes(id)) el.remove();
  const speaker = state.grid.view === "speaker";
  visible.forEach((id, i) => {
    const el = existing.get(id) || createTile(id);
    el.classList.toggle("featured", speaker && i === 0);
    el.classList.toggle("pinned", state.grid.pinned === id);
    if (grid.children[i] !== el) grid.insertBefore(el, grid.children[i] || null);
    if (!round) { el.style.left = ""; el.style.top = ""; }
    updateTile(el, state.participants.byId.get(id), state);
  });
  $("#pager").hidden = pages <= 1;
  $("#page-info").textContent = t("pageInfo", { page: page + 1, pages });
  $("#page-prev").disabled = page === 0;
  $("#page-next").disabled = page >= pages - 1;
  fitGrid();
}

function setView(view) {
  dispatch({ type: VIEW_SET, view });
}

export const toggleView = () => setView(store.state.grid.view === "round" ? "grid" : "round");
export const toggleSpeakerView = () => setView(store.state.grid.view === "speaker" ? "grid" : "speaker");
export function togglePin(id) {
  dispatch({ type: PIN_SET, participantId: store.state.grid.pinned === id ? null : id });
}

// Width classes use the page's own width, so they work the same inside an iframe.
function watchWidth() {
  const apply = () => {
    const w = document.documentElement.clientWidth || window.innerWidth;
    const size = w < 500 ? "small" : w < 600 ? "medium" : "large";
    if (document.body.dataset.width !== size) {
      document.body.dataset.width = size;
      if (size !== "large" && store.state.grid.view === "round") setView("grid");  // (speaker view fits phones)
    }
    layout();
  };
  window.addEventListener("resize", apply);
  if (window.ResizeObserver) new ResizeObserver(() => layout()).observe($("#stage-area"));
  apply();
}

export function drawGridFeature() {
  watch(store, ["participants", "grid", "media", "session"], drawGrid);
  watch(store, ["grid"], ({ grid }) => {
    document.body.dataset.view = grid.view;
    $("#grid").dataset.view = grid.view;
  });
  let wasJoined = false;
  watch(store, ["session"], ({ session }) => {
    const joined = session.state === "joined";
    if (joined && !wasJoined) requestAnimationFrame(() => layout(true));
    wasJoined = joined;
  });
  store.subscribe((state, prev, action) => {
    if (action.type === VIEW_SET || action.type === PIN_SET) layout(true);
  });
  $("#grid").addEventListener("click", (event) => {
    const pin = event.target.closest?.(".tile-pin");
    if (pin) togglePin(pin.closest(".tile").dataset.participantId);
  });
  $("#page-prev").addEventListener("click", () => dispatch({ type: PAGE_SET, page: visiblePage(store.state).page - 1 }));
  $("#page-next").addEventListener("click", () => dispatch({ type: PAGE_SET, page: visiblePage(store.state).page + 1 }));
  drawStage(layout);
  watchWidth();
}
