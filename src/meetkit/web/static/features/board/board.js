// The whiteboard (docs/whiteboard.md): a "Whiteboard" control when the room's flag is on. It opens over
// the stage; Excalidraw (built by scripts/build-ui.sh into /_meetkit/excalidraw/) is loaded the first
// time, then stays mounted and merging while closed, so opening it again is instant. The board is
// the session's, stored by meetkit: a late joiner, a reload or a reconnect asks for it (board.get).
// The host may clear it or make it read-only for guests.
import { store, send, boardAvailable } from "../../core.js";
import { watch, REDRAW } from "../../store.js";
import { $, toast } from "../../dom.js";
import { t, language } from "../../i18n.js";
import { BoardSync } from "./sync.js";

const ASSETS = "/_meetkit/excalidraw/";

const state = { open: false, loading: null, board: null, readOnly: false, fitted: false };
const sync = new BoardSync({
  onError: (message) => toast(message === "too_large" ? t("boardTooLarge") : t("boardImageRefused", { message })),
});

function isHost() {
  return store.state.session.role === "host";
}

function loadExcalidraw() {
  if (!document.querySelector("link[data-board-css]")) {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = `${ASSETS}board.css`;
    css.dataset.boardCss = "";
    document.head.append(css);
  }
  // Excalidraw looks for its fonts here first (and would try a CDN after, which the page's CSP refuses).
  window.EXCALIDRAW_ASSET_PATH = ASSETS;
  return import(`${ASSETS}board.js`);
}

async function mount() {
  const { mount: mountExcalidraw } = await loadExcalidraw();
  const board = await mountExcalidraw($("#board-canvas"), {
    lang: language(), readOnly: state.readOnly && !isHost(),
    onChange: () => sync.changed(),
  });
  sync.attach(board);
  state.board = board;
  send({ type: "board.get" });
  return board;
}

export async function openBoard(open = !state.open) {
  if (!boardAvailable) return false;
  state.open = open;
  drawBoard();
  if (open && !state.loading) {
    state.loading = mount().catch((e) => {
      console.warn("meetkit: the whiteboard did not load", e);
      toast(t("boardLoadFailed"));
      state.loading = null;
      state.open = false;
      drawBoard();
    });
  }
  if (open) $("#board-close").focus();
  return state.open;
}

export function drawBoard() {
  if (!$("#board")) return;
  const open = state.open && boardAvailable && store.state.session.state === "joined";
  $("#board").hidden = !open;
  document.body.classList.toggle("board-open", open);
  const btn = $("#btn-board");
  btn.setAttribute("aria-pressed", String(open));
  btn.classList.toggle("active", open);
  $("#board-lock").setAttribute("aria-pressed", String(state.readOnly));
  $("#board-lock-label").textContent = t(state.readOnly ? "boardEditable" : "boardReadOnly");
  $("#board-note").hidden = !(state.readOnly && !isHost());
}

// --- server messages --------------------------------------------------------------------------------

export function onBoardScene(msg) {
  setReadOnly(!!msg.read_only);
  if (!msg.part) sync.reset();  // a large board comes in parts: the first one starts it
  const elements = Array.isArray(msg.elements) ? msg.elements : [];
  sync.received(elements);
  if (!state.fitted && elements.some((e) => !e.isDeleted)) {
    state.fitted = true;  // once: later scenes (a reconnect) leave the view where the person put it
    requestAnimationFrame(() => state.board?.fit());
  }
}

export function onBoardUpdated(msg) {
  if (!Array.isArray(msg.elements)) return;
  if (state.board) sync.received(msg.elements);
  if (msg.cleared && msg.by !== store.state.session.participantId) toast(t("boardCleared"));
}

export function onBoardLocked(msg) {
  setReadOnly(!!msg.read_only);
  if (!isHost()) toast(t(msg.read_only ? "boardNowReadOnly" : "boardNowEditable"));
}

// A change meetkit did not take (too fast, the board full ...): what it holds comes again, and
// whatever this page still has that meetkit lacks goes out after it. Not for read-only: nothing
// drawn meanwhile would be taken, and the host's lock is said already.
let resync = null;
export function onBoardError(msg) {
  if (!state.board || msg.code === "board_read_only" || resync) return;
  resync = setTimeout(() => { resync = null; send({ type: "board.get" }); }, 1000);
  if (msg.code === "board_full") toast(t("errorMessage", { message: msg.message }));
}

function setReadOnly(on) {
  state.readOnly = on;
  state.board?.setReadOnly(on && !isHost());
  drawBoard();
}

// The tests' handle (window.__meetkit.board): the scene as this page has it.
export const boardHandle = {
  get open() { return state.open; },
  get ready() { return !!state.board; },
  get readOnly() { return state.readOnly; },
  elements: () => (state.board ? state.board.elements().filter((e) => !e.isDeleted) : []),
  files: () => (state.board ? state.board.files() : {}),
  api: () => state.board?.api ?? null,
};

export function startBoard() {
  $("#btn-board").addEventListener("click", () => openBoard());
  $("#board-close").addEventListener("click", () => { openBoard(false); $("#btn-board").focus(); });
  $("#board-lock").addEventListener("click", () => send({ type: "host.board_lock", read_only: !state.readOnly }));
  $("#board-clear").addEventListener("click", () => {
    const dialog = $("#board-clear-dialog");
    if (dialog.showModal) dialog.showModal();
  });
  $("#board-clear-dialog").addEventListener("close", () => {
    if ($("#board-clear-dialog").returnValue === "clear") send({ type: "host.board_clear" });
  });
  // Back in the meeting after a reconnect: what others drew meanwhile comes with a fresh scene.
  let joined = false;
  watch(store, ["session"], ({ session }) => {
    const now = session.state === "joined";
    if (now && !joined && state.board) send({ type: "board.get" });
    joined = now;
    drawBoard();
  });
  // The language switched: Excalidraw's own labels follow.
  store.subscribe((_s, _p, action) => { if (action?.type === REDRAW) state.board?.setLanguage(language()); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.open && !document.querySelector("dialog[open]")
        && !event.target.closest?.("#board-canvas")) {  // on the canvas, Escape is Excalidraw's
      openBoard(false);
      $("#btn-board").focus();
    }
  });
  drawBoard();
}
