// Live captions (docs/captions.md): a "Captions" control when the room's flag is on. A host's first
// press turns captions on for the meeting (meetkit transcribes each unmuted speaker from the media
// server: nothing more leaves this page); everyone is then told, and a badge stays in the top bar
// while they are on. Each viewer shows or hides the captions for themselves; a host stops them for
// everyone from the captions box. A speaker's partial line is replaced by their next line until it is
// final; the box keeps the last few lines.
import { store, send, config } from "../../core.js";
import { watch } from "../../store.js";
import { $, toast } from "../../dom.js";
import { t } from "../../i18n.js";

const KEPT_LINES = 3;
const LINE_MS = 10000;  // a final line stays this long after it was said

const state = { on: false, show: true, lines: [], timer: null };

export function captionsAvailable() {
  return config.available_features?.is_captions_available === true;
}

const isHost = () => store.state.session.role === "host";

function nameOf(id, name) {
  return id === store.state.session.participantId ? `${store.state.session.name} ${t("you")}` : name;
}

export function drawCaptions() {
  const available = captionsAvailable() && store.state.session.state === "joined";
  document.body.classList.toggle("no-captions", !captionsAvailable());
  const btn = $("#btn-captions");
  const pressed = state.on && state.show;
  btn.setAttribute(btn.hasAttribute("aria-checked") ? "aria-checked" : "aria-pressed", String(pressed));
  btn.classList.toggle("active", pressed);
  btn.title = t(state.on ? (state.show ? "captionsHide" : "captionsShow") : "captions");
  $("#captions-badge").hidden = !(available && state.on);
  const box = $("#captions");
  box.hidden = !(available && state.on && state.show);
  $("#captions-stop").hidden = !isHost();
  const list = $("#captions-lines");
  list.replaceChildren(...state.lines.map((l) => {
    const li = document.createElement("li");
    li.className = l.final ? "final" : "partial";
    li.dataset.participantId = l.participantId;
    const who = document.createElement("b");
    who.textContent = `${nameOf(l.participantId, l.name)}: `;
    li.append(who, document.createTextNode(l.text));
    return li;
  }));
  $("#captions-empty").hidden = state.lines.length > 0;
}

function press() {
  if (!state.on) {
    if (isHost()) { state.show = true; send({ type: "captions.start" }); } else toast(t("captionsAskHost"));
    return;
  }
  state.show = !state.show;
  drawCaptions();
}

/** `captions.state`: on or off in the meeting; `by` set when someone switched them just now. */
export function onCaptionsState(msg) {
  const was = state.on;
  state.on = !!msg.on;
  if (state.on && !was && msg.by) toast(t("captionsStarted"));
  if (!state.on && was && msg.by) toast(t("captionsStopped"));
  if (!state.on) state.lines = [];
  drawCaptions();
}

/** `captions.text`: a speaker's line, partial (replaced by their next) or final. */
export function onCaptionsText(msg) {
  if (typeof msg.text !== "string" || !msg.participant_id) return;
  const line = { participantId: msg.participant_id, name: msg.name || "", text: msg.text, final: !!msg.final,
    line: msg.line, at: Date.now() };
  const i = state.lines.findIndex((l) => l.participantId === line.participantId && !l.final);
  if (i >= 0) state.lines[i] = line;
  else state.lines.push(line);
  state.lines = state.lines.slice(-KEPT_LINES);
  if (!state.timer) state.timer = setInterval(expire, 1000);
  drawCaptions();
}

function expire() {
  const now = Date.now();
  const kept = state.lines.filter((l) => !l.final || now - l.at < LINE_MS);
  if (kept.length !== state.lines.length) { state.lines = kept; drawCaptions(); }
  if (!state.lines.length) { clearInterval(state.timer); state.timer = null; }
}

/** `captions.error`: the engine failed (the meeting goes on without captions for a while), or (to
 * hosts, `unavailable`) a speaker is left out by the server's limit. */
export function onCaptionsError(msg) {
  if (msg.reason === "unavailable") toast(msg.message || "");
  else toast(t("captionsFailed", { message: msg.message || msg.reason || "" }));
}

// The tests' handle (window.__meetkit.captions).
export const captionsHandle = {
  get on() { return state.on; },
  get shown() { return state.on && state.show; },
  lines: () => state.lines.map((l) => ({ ...l })),
};

export function startCaptions() {
  $("#btn-captions").addEventListener("click", press);
  $("#captions-stop").addEventListener("click", () => send({ type: "captions.stop" }));
  // (Re)joined: whether captions are on comes again (a reload, a reconnect, a node taking over).
  let joined = false;
  watch(store, ["session"], ({ session }) => {
    const now = session.state === "joined";
    if (now && !joined && captionsAvailable()) send({ type: "captions.get" });
    joined = now;
    drawCaptions();
  });
}
