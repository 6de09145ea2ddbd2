// Watch together (docs/watch.md): the host (600 px and wider) shares a video — a link to an HTTPS
// video file, a file uploaded to meetkit, or YouTube — and everyone's player follows the server's
// timeline (`watch.state`: position at server time `at`, playing or not). Whoever has control plays,
// pauses and seeks through the server; nobody's page acts on its own. Every 250 ms each page puts
// its player right: a gap over 0.4 s is a seek, a smaller one is caught up by playing 10 % faster or
// slower, so followers stay within a fraction of a second without jumps.
import { store, send, config } from "../../core.js";
import { watch as watchStore } from "../../store.js";
import { $, toast } from "../../dom.js";
import { t } from "../../i18n.js";
import { serverNow, noteServerTime, sampleServerClock } from "./clock.js";
import { VideoPlayer, YouTubePlayer } from "./player.js";

const TICK_MS = 250;
const SEEK_OVER = 0.4;   // seconds off: seek
const NUDGE_OVER = 0.05; // seconds off: play a little faster or slower

const state = { timeline: null, player: null, sourceKey: null, timer: null, seeking: false };

function me() { return store.state.session.participantId; }

function nameOf(id) {
  if (id === me()) return `${store.state.session.name} ${t("you")}`;
  return store.state.participants.byId.get(id)?.name || "";
}

/** Where the shared video should be now, in seconds. */
export function expectedPosition(tl = state.timeline) {
  if (!tl) return 0;
  return tl.playing ? tl.position + Math.max(0, serverNow() - tl.at) / 1000 : tl.position;
}

function follow() {
  const tl = state.timeline;
  const p = state.player;
  if (!tl || !p || !p.ready()) return;
  const want = expectedPosition(tl);
  if (tl.playing && !p.playing()) p.play();
  if (!tl.playing && p.playing()) p.pause();
  const drift = p.time() - want;
  if (Math.abs(drift) > SEEK_OVER || (!tl.playing && Math.abs(drift) > NUDGE_OVER)) {
    p.seek(want);
    p.setRate(1);
  } else if (tl.playing && Math.abs(drift) > NUDGE_OVER) {
    p.setRate(drift > 0 ? 0.9 : 1.1);
  } else {
    p.setRate(1);
  }
  drawControls();
}

function load(tl) {
  const key = JSON.stringify(tl.source);
  if (key === state.sourceKey) return;
  state.player?.destroy();
  state.sourceKey = key;
  const box = $("#watch-player");
  state.player = tl.source.kind === "youtube"
    ? new YouTubePlayer(box, tl.source.video_id, () => toast(t("watchYouTubeUnreachable")))
    : new VideoPlayer(box, tl.source.url, () => { $("#watch-unblock").hidden = false; });
}

export function onWatchState(msg) {
  noteServerTime(msg.server_time);
  if (!state.timeline) sampleServerClock();
  state.timeline = msg;
  load(msg);
  if (!state.timer) state.timer = setInterval(follow, TICK_MS);
  draw();
  follow();
}

export function onWatchEnded(msg) {
  const was = state.timeline;
  state.timeline = null;
  state.sourceKey = null;
  state.player?.destroy();
  state.player = null;
  clearInterval(state.timer);
  state.timer = null;
  draw();
  if (was && msg.reason !== "none") toast(t(msg.reason === "sharer_left" ? "watchSharerLeft" : "watchStopped"));
}

function fmt(s) {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
}

function drawControls() {
  const tl = state.timeline;
  if (!tl) return;
  const inControl = tl.controller === me();
  $("#watch-controls").hidden = !inControl;
  $("#watch-play").textContent = t(tl.playing ? "watchPause" : "watchPlay");
  if (!state.seeking) $("#watch-seek").value = String(expectedPosition(tl));
  const duration = state.player?.video?.duration;
  if (Number.isFinite(duration)) $("#watch-seek").max = String(duration);
  $("#watch-time").textContent = fmt(expectedPosition(tl));
}

function draw() {
  const tl = state.timeline;
  const on = !!tl && store.state.session.state === "joined";
  $("#watch").hidden = !on;
  $("#stage-area").classList.toggle("watching", on);
  $("#btn-watch").setAttribute("aria-pressed", String(!!tl));
  $("#btn-watch").classList.toggle("active", !!tl);
  if (!on) return;
  $("#watch-who").textContent = t("watchWho", { sharer: nameOf(tl.sharer), controller: nameOf(tl.controller) });
  const mayHand = store.state.session.role === "host" || tl.controller === me();
  $("#watch-hand").hidden = !mayHand;
  if (mayHand) {
    const options = [...store.state.participants.byId.values()].filter((p) => p.participant_id !== tl.controller)
      .map((p) => new Option(p.name, p.participant_id));
    $("#watch-hand-to").replaceChildren(...options);
    $("#watch-hand-go").disabled = options.length === 0;
  }
  $("#watch-stop").hidden = !(store.state.session.role === "host" || tl.sharer === me());
  drawControls();
}

async function upload(file) {
  const s = store.state.session;
  const res = await fetch(`/_meetkit/watch/${config.room?.meeting_code}/files`, { method: "POST", body: file,
    headers: { "Content-Type": file.type, "X-Meetkit-Participant": s.participantId || "",
      Authorization: `Bearer ${s.resumeToken || ""}` } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
  return body.file_id;
}

async function startFromDialog() {
  const file = $("#watch-file").files?.[0];
  const url = $("#watch-url").value.trim();
  $("#watch-status").textContent = "";
  try {
    if (file) {
      $("#watch-status").textContent = t("watchUploading");
      send({ type: "watch.start", file_id: await upload(file) });
    } else if (url) {
      send({ type: "watch.start", url });
    } else {
      return;
    }
    $("#watch-dialog").close();
  } catch (e) {
    $("#watch-status").textContent = t("errorMessage", { message: e.message });
  }
}

function control(playing, position) {
  send({ type: "watch.control", playing, ...(position === undefined ? {} : { position }) });
}

// The tests' handle (window.__meetkit.watch).
export const watchHandle = {
  get timeline() { return state.timeline; },
  get player() { return state.player; },
  expected: () => expectedPosition(),
};

export function startWatch() {
  $("#btn-watch").addEventListener("click", () => {
    if (state.timeline) return;
    $("#watch-url").value = "";
    $("#watch-file").value = "";
    $("#watch-status").textContent = "";
    $("#watch-dialog").showModal?.();
  });
  $("#watch-form").addEventListener("submit", (e) => {
    if (e.submitter?.value === "cancel") return;
    e.preventDefault();
    startFromDialog();
  });
  $("#watch-play").addEventListener("click", () => control(!state.timeline?.playing, expectedPosition()));
  $("#watch-seek").addEventListener("input", () => { state.seeking = true; });
  $("#watch-seek").addEventListener("change", () => {
    state.seeking = false;
    control(!!state.timeline?.playing, Number($("#watch-seek").value));
  });
  $("#watch-hand-go").addEventListener("click", () => {
    const to = $("#watch-hand-to").value;
    if (to) send({ type: "watch.hand_over", participant_id: to });
  });
  $("#watch-stop").addEventListener("click", () => send({ type: "watch.stop" }));
  $("#watch-unblock").addEventListener("click", () => { $("#watch-unblock").hidden = true; state.player?.play(); });
  // (Re)joined: what is being watched comes again (a reload, a reconnect, a node taking over).
  let joined = false;
  watchStore(store, ["session", "participants"], ({ session }) => {
    const now = session.state === "joined";
    if (now && !joined) send({ type: "watch.get" });
    joined = now;
    draw();
  });
}
