// The meeting page: pre-join, lobby, the meeting itself. It speaks docs/signalling.md over one
// WebSocket; SDP goes through meetkit, never to Janus directly. Participant-provided text is only
// ever set with textContent.

import { t, resolveLanguage, setLanguage, translateDocument, language } from "./i18n.js";
import { Signalling, socketUrl } from "./signalling.js";
import { LocalMedia, TalkingDetector, makeOffer, answerOffer, closePeer } from "./media.js";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const config = readConfig();
const features = config.available_features || {};
const chatAvailable = features.is_chat_available !== false;
const recordingAvailable = features.is_recording_available !== false;

const PUBLISH_ANSWER_LIMIT_MS = 20000;
const TALKING_MIN_INTERVAL_MS = 700;
const SUBSCRIBE_RETRY_MS = 5000;
const NAME_KEY = "meetkit.name";

const app = {
  state: "prejoin",
  participantId: null,
  resumeToken: null,
  role: config.role === "host" ? "host" : "guest",
  name: "",
  sig: null,
  local: new LocalMedia(),
  acquiring: null,          // the pre-join getUserMedia promise
  micOn: true,
  cameraOn: true,
  videoAllowed: true,
  publisher: null,          // RTCPeerConnection for kind "camera"
  publisherFeed: null,
  published: false,         // the camera publisher has its answer
  cameraGen: 0,
  screenPublisher: null,
  screenStream: null,
  screenFeed: null,
  screenGen: 0,
  publishChain: { camera: Promise.resolve(), screen: Promise.resolve() },
  publishWaiters: { camera: null, screen: null },
  publishRetries: { camera: 0, screen: 0 },
  mediaUnavailableShown: false,
  subscribers: new Map(),   // feed → RTCPeerConnection
  pendingSubs: new Set(),   // feeds asked for, offer not yet in
  failedFeeds: new Map(),   // feed → when to ask again after a media.error
  remoteStreams: new Map(), // feed → MediaStream
  participants: new Map(),  // participant_id → Participant
  order: [],                // tile order: self first, then by arrival
  page: 0,
  pageSize: 6,
  visible: [],
  talking: new Set(),
  lastSpoke: new Map(),
  hand: false,
  recording: false,
  locked: false,
  waiting: [],
  chatIds: new Set(),
  pendingChat: [],
  unread: 0,
  openPanel: null,
  view: "grid",
  everJoined: false,
  soundBlocked: false,
  talkingSent: false,
  talkingWant: false,
  talkingTimer: null,
  lastTalkingSend: 0,
};

// The hooks the end-to-end tests read.
window.__meetkit = {
  get state() { return app.state; },
  get participantId() { return app.participantId; },
  get publisher() { return app.publisher; },
  get subscribers() { return app.subscribers; },
  get socket() { return app.sig ? app.sig.socket : null; },
  get role() { return app.role; },
  get screenPublisher() { return app.screenPublisher; },
  get participants() { return app.participants; },
};

const detector = new TalkingDetector(onLocalTalking, (level) => {
  const bar = $("#preview-level span");
  if (bar && app.state === "prejoin") bar.style.width = `${Math.round(level * 100)}%`;
});

// ---------------------------------------------------------------- start-up

function readConfig() {
  try {
    return JSON.parse(document.getElementById("meetkit-config").textContent) || {};
  } catch {
    return {};
  }
}

function start() {
  setLanguage(resolveLanguage(config.ui_settings?.language, navigator.languages || [navigator.language]));
  translateDocument();
  applyTheme(config.theme || {});
  document.body.classList.toggle("no-chat", !chatAvailable);
  document.body.classList.toggle("no-recording", !recordingAvailable);
  document.body.classList.toggle("no-screen", !navigator.mediaDevices?.getDisplayMedia);
  applyRole();
  const roomName = config.room?.display_name || "";
  $("#room-title").textContent = roomName;
  $("#prejoin-room").textContent = roomName;
  $("#grid").dataset.title = roomName;

  watchWidth();
  bindControls();
  setState("prejoin");
  renderControls();
  startPrejoin();
  document.addEventListener("pointerdown", () => detector.resume());
  window.addEventListener("pagehide", () => {
    if (app.state === "joined" || app.state === "lobby") app.sig?.send({ type: "leave" });
  });
}

function applyTheme(theme) {
  const root = document.documentElement;
  if (typeof theme.main_color === "string" && /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(theme.main_color)) {
    root.style.setProperty("--accent", theme.main_color);
    root.style.setProperty("--accent-text", contrastText(theme.main_color));
  }
  $("#brand-text").textContent = typeof theme.brand_text === "string" ? theme.brand_text : "";
  const white = safeUrl(theme.brand_image_white);
  const colored = safeUrl(theme.brand_image_colored);
  setImage($("#brand-logo"), white || colored);  // the header is dark
  setImage($("#prejoin-logo"), colored || null);  // the pre-join card is light
}

function setImage(img, url) {
  if (!url) { img.hidden = true; return; }
  img.src = url;
  img.hidden = false;
  img.onerror = () => { img.hidden = true; };
}

function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value, location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function contrastText(hex) {
  let h = hex.slice(1);
  if (h.length === 3) h = [...h].map((c) => c + c).join("");
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 ? "#111" : "#fff";
}

function applyRole() {
  document.body.dataset.role = app.role;
}

// Width classes use the page's own width, so they work the same inside an iframe.
function watchWidth() {
  const apply = () => {
    const w = document.documentElement.clientWidth || window.innerWidth;
    const size = w < 500 ? "small" : w < 600 ? "medium" : "large";
    if (document.body.dataset.width !== size) {
      document.body.dataset.width = size;
      if (size !== "large" && app.view !== "grid") setView("grid");
    }
    layout();
  };
  window.addEventListener("resize", apply);
  if (window.ResizeObserver) new ResizeObserver(() => layout()).observe($("#stage-area"));
  apply();
}

function setState(state) {
  app.state = state;
  document.body.dataset.state = state;
  const screen = { prejoin: "prejoin", connecting: "connecting", lobby: "lobby", joined: "meeting",
    denied: "denied", removed: "removed", ended: "ended", left: "left" }[state];
  for (const el of $$(".screen")) el.hidden = el.id !== screen;
  if (state === "joined") requestAnimationFrame(() => layout(true));
}

// ---------------------------------------------------------------- pre-join

async function startPrejoin() {
  const nameInput = $("#name");
  try { nameInput.value = localStorage.getItem(NAME_KEY) || ""; } catch { /* storage blocked in a frame */ }
  const updateJoin = () => { $("#join").disabled = !nameInput.value.trim(); };
  nameInput.addEventListener("input", updateJoin);
  updateJoin();

  const micState = config.initial_join_options?.microphone_state;
  app.micOn = micState !== "off";
  app.local.setMicEnabled(app.micOn);
  renderPrejoinToggles();

  app.acquiring = app.local.acquire({ audio: true, video: true }).then((problem) => {
    if (problem) showPrejoinMessage(problem === "blocked" ? t("devicesBlocked") : t("noDevices"));
    if (!app.local.videoTrack) app.cameraOn = false;
    if (app.local.audioTrack) detector.attach(app.local.audioTrack);
    renderPrejoinToggles();
    return fillDevices();
  });
  navigator.mediaDevices?.addEventListener?.("devicechange", () => fillDevices());

  $("#prejoin-mic").addEventListener("click", () => setMic(!app.micOn));
  $("#prejoin-camera").addEventListener("click", () => setCamera(!app.cameraOn));
  $("#camera-select").addEventListener("change", (e) => switchCamera(e.target.value));
  $("#mic-select").addEventListener("change", (e) => switchMic(e.target.value));
  $("#prejoin-form").addEventListener("submit", (e) => { e.preventDefault(); join(); });
  if (!nameInput.value) nameInput.focus();
}

function showPrejoinMessage(text) {
  const el = $("#prejoin-message");
  el.textContent = text;
  el.hidden = !text;
}

async function fillDevices() {
  const { cameras, mics } = await LocalMedia.devices();
  fillSelect($("#camera-select"), cameras, app.local.camId, "cameraN");
  fillSelect($("#mic-select"), mics, app.local.micId, "microphoneN");
}

function fillSelect(select, devices, current, labelKey) {
  select.replaceChildren();
  if (!devices.length) {
    select.append(new Option(t("deviceNone"), ""));
    select.disabled = true;
    return;
  }
  select.disabled = false;
  devices.forEach((d, i) => {
    const option = new Option(d.label || t(labelKey, { n: i + 1 }), d.deviceId);
    select.append(option);
  });
  if (current && devices.some((d) => d.deviceId === current)) select.value = current;
}

function renderPrejoinToggles() {
  const mic = $("#prejoin-mic");
  const cam = $("#prejoin-camera");
  mic.setAttribute("aria-pressed", String(app.micOn));
  mic.classList.toggle("off", !app.micOn);
  mic.title = t(app.micOn ? "mute" : "unmute");
  mic.setAttribute("aria-label", mic.title);
  cam.setAttribute("aria-pressed", String(app.cameraOn));
  cam.classList.toggle("off", !app.cameraOn);
  cam.title = t(app.cameraOn ? "cameraOff" : "cameraOn");
  cam.setAttribute("aria-label", cam.title);
  const preview = $("#preview");
  if (app.state === "prejoin" || app.state === "connecting") showLocalVideo(preview);
  else preview.srcObject = null;
  $("#preview-off").hidden = app.cameraOn && !!app.local.videoTrack;
}

function showLocalVideo(video) {
  const track = app.cameraOn ? app.local.videoTrack : null;
  const current = video.srcObject ? video.srcObject.getVideoTracks()[0] : null;
  if (track === current) return;
  video.srcObject = track ? new MediaStream([track]) : null;
  if (track) video.play().catch(() => {});
}

async function switchCamera(deviceId) {
  app.local.camId = deviceId;
  if (!app.cameraOn) return;
  const track = await app.local.startCamera(deviceId);
  if (!track) { toast(t("cameraFailed")); return; }
  await replaceSenderTrack(app.publisher, "video", track);
  refreshSelf();
}

async function switchMic(deviceId) {
  const track = await app.local.startMic(deviceId);
  if (!track) { toast(t("microphoneFailed")); return; }
  detector.attach(track);
  await replaceSenderTrack(app.publisher, "audio", track);
}

// ---------------------------------------------------------------- connecting

async function join() {
  const name = $("#name").value.trim().slice(0, 100);
  if (!name || app.state !== "prejoin") return;
  app.name = name;
  try { localStorage.setItem(NAME_KEY, name); } catch { /* storage blocked */ }
  setState("connecting");
  detector.resume();
  await app.acquiring;
  if (!app.cameraOn) app.local.stopCamera();
  app.sig = new Signalling(socketUrl(config.ws_url || ""), {
    hello: helloMessage,
    message: (msg) => {
      try {
        onMessage(msg);
      } catch (err) {
        console.error("meetkit: handling", msg.type, err);
      }
    },
    status: onSocketStatus,
  });
  app.sig.connect();
}

function helloMessage() {
  const hello = {
    type: "hello",
    v: 1,
    name: app.name,
    mic: app.micOn && !!app.local.audioTrack,
    camera: app.cameraOn && !!app.local.videoTrack,
  };
  if (config.host_token) hello.host_token = config.host_token;
  if (app.participantId && app.resumeToken) {
    hello.resume = { participant_id: app.participantId, resume_token: app.resumeToken };
  }
  return hello;
}

function send(msg) {
  return app.sig ? app.sig.send(msg) : false;
}

function onSocketStatus(status, detail) {
  if (status === "open") {
    $("#reconnecting").hidden = true;
    return;
  }
  if (status === "reconnecting") {
    // An in-flight publish will not get its answer on the new socket: ask again after resuming.
    failPublishWaiters("disconnected");
    app.pendingSubs.clear();
    if (app.state === "joined") $("#reconnecting").hidden = false;
    return;
  }
  $("#reconnecting").hidden = true;
  if (status === "failed") {
    if (["connecting", "lobby", "joined"].includes(app.state)) {
      if (app.state === "joined") post("left", { reason: "connection_lost" });
      stopEverything();
      showLeft(t("leftConnectionLost"));
    }
    return;
  }
  // "closed" with a code that means it is over; the message before it usually said why.
  const code = detail.code;
  if (["denied", "removed", "ended", "left"].includes(app.state)) return;
  if (code === 4401) onRemoved();
  else if (code === 4410) onEnded();
  else if (code === 4403) onDenied({ reason: "" });
  else if (code === 4404) {
    stopEverything();
    $("#ended-title").textContent = t("notFoundTitle");
    $("#ended-text").textContent = t("notFoundText");
    setState("ended");
  } else if (code === 4409) {
    stopEverything(false);
    showLeft(t("leftReplaced"));
  } else {
    stopEverything();
    showLeft(t("errorMessage", { message: detail.reason || String(code) }));
  }
}

function showLeft(text) {
  $("#left-text").textContent = text || "";
  setState("left");
}

// ---------------------------------------------------------------- server messages

function onMessage(msg) {
  switch (msg.type) {
    case "welcome": return onWelcome(msg);
    case "lobby": return onLobby(msg);
    case "admitted": return onAdmitted(msg);
    case "denied": return onDenied(msg);
    case "lobby.update": return onLobbyUpdate(msg);
    case "participant.joined": return onParticipantJoined(msg.participant);
    case "participant.updated": return onParticipantUpdated(msg.participant);
    case "participant.left": return onParticipantLeft(msg);
    case "talking": return setSpeaking(msg.participant_id, !!msg.talking);
    case "chat.message": return addChat(msg);
    case "chat.export": return downloadChat(msg.messages || []);
    case "media.answer": return onPublishAnswer(msg);
    case "media.offer": return onSubscribeOffer(msg).catch((err) => console.error("meetkit: offer", err));
    case "media.error": return onMediaError(msg);
    case "media.reset": return resetMedia();
    case "muted": return onMutedByHost();
    case "removed": return onRemoved();
    case "meeting.ended": return onEnded();
    case "locked": return onLocked(!!msg.locked);
    case "recording": return onRecording(!!msg.active);
    case "pong": return undefined;
    case "error": return onError(msg);
    default: return undefined;
  }
}

function onWelcome(msg) {
  if (app.participantId && !msg.resumed) {
    // The resume token was too old: this is a new participant; what we had belongs to the old one.
    resetMeetingState();
  }
  const resumed = !!msg.resumed && msg.participant_id === app.participantId;
  app.participantId = msg.participant_id;
  app.resumeToken = msg.resume_token;
  app.role = msg.role === "host" ? "host" : "guest";
  applyRole();
  app.locked = !!msg.locked;
  if (msg.state === "lobby" && app.state !== "lobby") {
    showLobby(config.room?.join_approval_level === "after_owner_only" ? "host_absent" : "approval");
  }
  if (resumed && app.state === "joined") {
    toast(t("reconnected"));
    // `admitted` normally follows and does the same; both are idempotent.
    if (!app.published) schedulePublishCamera();
    reconcileSubscriptions();
  }
  renderControls();
}

function onLobby(msg) {
  showLobby(msg.reason);
}

function showLobby(reason) {
  $("#lobby-reason").textContent = t(reason === "host_absent" ? "lobbyHostAbsent" : "lobbyApproval");
  setState("lobby");
}

function onAdmitted(msg) {
  app.videoAllowed = msg.video_allowed !== false;
  if (!app.videoAllowed && app.cameraOn) {
    app.cameraOn = false;
    app.local.stopCamera();
    toast(msg.message || t("videoLimit"));
  } else if (msg.message) {
    toast(msg.message);
  }
  setParticipants(msg.participants || []);
  setChat(msg.chat || []);
  setState("joined");
  if (typeof msg.recording === "boolean") onRecording(msg.recording);
  renderAll();
  if (!app.published) schedulePublishCamera();
  if (app.screenStream && !app.screenFeed) schedulePublishScreen();
  sendMediaState();
  reconcileSubscriptions();
  if (!app.everJoined) {
    app.everJoined = true;
    post("joined", { participant_id: app.participantId, role: app.role });
  }
}

function onDenied(msg) {
  stopEverything();
  const key = { host_denied: "deniedHostDenied", locked: "deniedLocked", full: "deniedFull",
    ended: "deniedEnded" }[msg.reason];
  $("#denied-reason").textContent = key ? t(key) : "";
  setState("denied");
}

function onRemoved() {
  if (app.state === "removed") return;
  stopEverything();
  setState("removed");
  post("left", { reason: "removed" });
}

function onEnded() {
  if (app.state === "ended") return;
  stopEverything();
  $("#ended-title").textContent = t("endedTitle");
  $("#ended-text").textContent = t("endedText");
  setState("ended");
  post("meeting_ended", {});
}

function onMutedByHost() {
  setMic(false);
  toast(t("mutedByHost"));
}

function onLocked(locked) {
  if (locked === app.locked) return;
  app.locked = locked;
  renderControls();
  if (app.state === "joined") toast(t(locked ? "meetingLocked" : "meetingUnlocked"));
}

function onRecording(active) {
  const changed = active !== app.recording;
  app.recording = active;
  $("#recording-indicator").hidden = !active;
  renderControls();
  if (!changed) return;
  toast(t(active ? "recordingStarted" : "recordingStopped"));
  post(active ? "recording_started" : "recording_stopped", {});
}

function onError(msg) {
  console.warn("meetkit: server error", msg.code, msg.message);
  if (msg.code !== "unknown_type") toast(t("errorMessage", { message: msg.message || msg.code }));
}

// ---------------------------------------------------------------- participants

function setParticipants(list) {
  const before = app.order;
  app.participants = new Map();
  for (const p of list) if (p && p.participant_id) app.participants.set(p.participant_id, p);
  if (!app.participants.has(app.participantId)) app.participants.set(app.participantId, selfParticipant());
  const known = before.filter((id) => app.participants.has(id) && id !== app.participantId);
  const fresh = [...app.participants.values()]
    .filter((p) => p.participant_id !== app.participantId && !known.includes(p.participant_id))
    .sort((a, b) => String(a.joined_at || "").localeCompare(String(b.joined_at || "")))
    .map((p) => p.participant_id);
  app.order = [app.participantId, ...known, ...fresh];
  const self = app.participants.get(app.participantId);
  if (self) app.hand = !!self.hand;
}

function selfParticipant() {
  return { participant_id: app.participantId, name: app.name, role: app.role, mic: app.micOn,
    camera: app.cameraOn, hand: app.hand, feeds: {}, joined_at: new Date().toISOString() };
}

function onParticipantJoined(p) {
  if (!p || !p.participant_id) return;
  forgetFailures(p);
  const isNew = !app.participants.has(p.participant_id);
  app.participants.set(p.participant_id, p);
  if (!app.order.includes(p.participant_id)) app.order.push(p.participant_id);
  renderAll();
  if (isNew && p.participant_id !== app.participantId) {
    post("participant_joined", { participant_id: p.participant_id, name: p.name, role: p.role });
  }
}

function onParticipantUpdated(p) {
  if (!p || !p.participant_id) return;
  forgetFailures(p);
  if (!app.participants.has(p.participant_id)) return onParticipantJoined(p);
  app.participants.set(p.participant_id, p);
  if (p.participant_id === app.participantId) {
    app.hand = !!p.hand;
    for (const kind of ["camera", "screen"]) if (feedId(p.feeds?.[kind]) !== null) app.publishRetries[kind] = 0;
  }
  renderAll();
}

function onParticipantLeft(msg) {
  const id = msg.participant_id;
  if (!id || id === app.participantId || !app.participants.has(id)) return;
  app.participants.delete(id);
  app.order = app.order.filter((x) => x !== id);
  app.talking.delete(id);
  renderAll();
  post("participant_left", { participant_id: id, reason: msg.reason });
}

// A feed announced (again) is live: a subscription that failed before may be asked for at once.
function forgetFailures(p) {
  for (const feed of [p.feeds?.camera, p.feeds?.screen]) if (feedId(feed) !== null) app.failedFeeds.delete(feed);
}

function setSpeaking(id, talking) {
  if (!id) return;
  if (talking) {
    app.talking.add(id);
    app.lastSpoke.set(id, Date.now());
    promoteSpeaker(id);
  } else {
    app.talking.delete(id);
  }
  for (const el of $$(`.tile[data-participant-id="${CSS.escape(id)}"]`)) el.classList.toggle("speaking", talking);
}

// Someone talking on another page is swapped onto this one (in place of whoever spoke longest
// ago), so that people are heard: only visible tiles are subscribed.
function promoteSpeaker(id) {
  if (id === app.participantId || app.visible.includes(id) || !app.participants.has(id)) return;
  if (app.order.length <= app.pageSize) return;
  const candidates = app.visible.filter((x) => x !== app.participantId && !app.talking.has(x));
  if (!candidates.length) return;
  candidates.sort((a, b) => (app.lastSpoke.get(a) || 0) - (app.lastSpoke.get(b) || 0));
  const out = candidates[0];
  const i = app.order.indexOf(out);
  const j = app.order.indexOf(id);
  if (i < 0 || j < 0) return;
  app.order[i] = id;
  app.order[j] = out;
  renderGrid();
}

// ---------------------------------------------------------------- rendering

function renderAll() {
  renderGrid();
  renderStage();
  renderParticipants();
  renderControls();
}

function layout(force = false) {
  const grid = $("#grid");
  if (!grid || app.state !== "joined") return;
  const width = document.body.dataset.width;
  const w = grid.clientWidth;
  const h = grid.clientHeight;
  if (!w || !h) return;
  const cap = { small: 4, medium: 6, large: app.view === "round" ? 8 : 12 }[width] || 6;
  const minW = width === "small" ? 140 : 200;
  const cols = Math.max(1, Math.floor(w / minW));
  const rows = Math.max(1, Math.floor(h / (minW * 0.62)));
  const size = Math.max(2, Math.min(cap, cols * rows));
  if (size !== app.pageSize || force) {
    app.pageSize = size;
    renderGrid();
  } else {
    fitGrid();
  }
}

/** Picks the column count that gives the largest 16:9 tiles for what is on the page. */
function fitGrid() {
  const grid = $("#grid");
  const n = Math.max(1, grid.querySelectorAll(".tile").length);
  const w = grid.clientWidth || 1;
  const h = grid.clientHeight || 1;
  const gap = 8;
  let bestSize = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tileW = Math.min((w - gap * (cols - 1)) / cols, ((h - gap * (rows - 1)) / rows) * (16 / 9));
    if (tileW > bestSize) bestSize = tileW;
  }
  grid.style.setProperty("--tile-w", `${Math.max(80, Math.floor(bestSize))}px`);
  if (app.view === "round") placeRoundTable(grid);
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

function renderGrid() {
  const grid = $("#grid");
  const ids = app.order.filter((id) => app.participants.has(id));
  const pages = Math.max(1, Math.ceil(ids.length / app.pageSize));
  app.page = Math.max(0, Math.min(app.page, pages - 1));
  const visible = ids.slice(app.page * app.pageSize, (app.page + 1) * app.pageSize);
  app.visible = visible;
  const existing = new Map($$(".tile", grid).map((el) => [el.dataset.participantId, el]));
  for (const [id, el] of existing) if (!visible.includes(id)) el.remove();
  visible.forEach((id, i) => {
    const el = existing.get(id) || createTile(id);
    if (grid.children[i] !== el) grid.insertBefore(el, grid.children[i] || null);
    if (app.view !== "round") { el.style.left = ""; el.style.top = ""; }
    updateTile(el, app.participants.get(id));
  });
  $("#pager").hidden = pages <= 1;
  $("#page-info").textContent = t("pageInfo", { page: app.page + 1, pages });
  $("#page-prev").disabled = app.page === 0;
  $("#page-next").disabled = app.page >= pages - 1;
  fitGrid();
  reconcileSubscriptions();
}

function createTile(id) {
  const el = document.createElement("div");
  el.className = "tile";
  el.dataset.participantId = id;
  const avatar = document.createElement("div");
  avatar.className = "avatar";
  avatar.append(document.createElement("span"));
  const bar = document.createElement("div");
  bar.className = "tile-bar";
  const mic = document.createElement("span");
  mic.className = "tile-mic";
  mic.append(icon("i-mic-off"));
  const name = document.createElement("span");
  name.className = "tile-name";
  const hand = document.createElement("span");
  hand.className = "tile-hand";
  hand.append(icon("i-hand"));
  bar.append(mic, name, hand);
  el.append(avatar, bar);
  let hue = 0;
  for (const c of id) hue = (hue * 31 + c.charCodeAt(0)) % 360;
  el.style.setProperty("--hue", hue);
  return el;
}

function icon(id) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `#${id}`);
  svg.append(use);
  return svg;
}

function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] || "?") + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

function updateTile(el, p) {
  if (!p) return;
  const self = p.participant_id === app.participantId;
  const cameraOn = self ? app.cameraOn && !!app.local.videoTrack : !!p.camera;
  const micOn = self ? app.micOn : !!p.mic;
  const hand = self ? app.hand : !!p.hand;
  const feed = self ? null : feedId(p.feeds?.camera);
  let video = el.querySelector("video");
  if (self) {
    if (!video || video.dataset.local !== "camera") {
      video?.remove();
      video = newVideo();
      video.muted = true;
      video.dataset.local = "camera";
      video.classList.add("mirror");
      el.prepend(video);
    }
    showLocalVideo(video);
  } else if (feed !== null) {
    if (!video || video.dataset.feed !== String(feed)) {
      video?.remove();
      video = newVideo();
      video.dataset.feed = String(feed);
      el.prepend(video);
    }
    attachStream(video, app.remoteStreams.get(feed));
  } else if (video) {
    video.remove();
  }
  el.classList.toggle("self", self);
  el.classList.toggle("no-video", !cameraOn);
  el.classList.toggle("muted", !micOn);
  el.classList.toggle("hand", hand);
  el.classList.toggle("speaking", app.talking.has(p.participant_id));
  el.querySelector(".avatar span").textContent = initials(p.name);
  el.querySelector(".tile-name").textContent = self ? `${p.name || app.name} ${t("you")}` : p.name || "";
  el.querySelector(".tile-mic").title = micOn ? "" : t("micIsOff");
  el.querySelector(".tile-hand").title = hand ? t("handRaised") : "";
}

function refreshSelf() {
  const el = $(`#grid .tile[data-participant-id="${CSS.escape(app.participantId || "")}"]`);
  const p = app.participants.get(app.participantId);
  if (el && p) updateTile(el, p);
  renderStage();
}

function feedId(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function newVideo() {
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  return video;
}

function attachStream(video, stream) {
  if (!stream || video.srcObject === stream) return;
  video.srcObject = stream;
  if (app.soundBlocked) video.muted = true;
  video.play().catch((err) => {
    if (err && err.name === "NotAllowedError") soundBlocked();
  });
}

// The browser refused to play remote sound before the page got a click: play muted, offer a button.
function soundBlocked() {
  if (app.soundBlocked) return;
  app.soundBlocked = true;
  for (const v of $$("video[data-feed]")) { v.muted = true; v.play().catch(() => {}); }
  toast(t("enableSound"), {
    sticky: true,
    action: t("enableSound"),
    onAction: () => {
      app.soundBlocked = false;
      for (const v of $$("video[data-feed]")) { v.muted = false; v.play().catch(() => {}); }
    },
  });
}

function renderStage() {
  const stage = $("#stage");
  const shares = [];
  for (const p of app.participants.values()) {
    if (p.participant_id === app.participantId) continue;
    const feed = feedId(p.feeds?.screen);
    if (feed !== null) shares.push({ id: p.participant_id, name: p.name, feed });
  }
  if (app.screenStream) shares.unshift({ id: app.participantId, name: app.name, feed: null, local: true });
  const keep = new Set(shares.map((s) => `${s.id}:${s.feed}`));
  for (const el of $$(".screen-tile", stage)) if (!keep.has(el.dataset.key)) el.remove();
  for (const s of shares) {
    const key = `${s.id}:${s.feed}`;
    let el = $$(".screen-tile", stage).find((x) => x.dataset.key === key);
    if (!el) {
      el = document.createElement("div");
      el.className = "screen-tile";
      el.dataset.key = key;
      el.dataset.participantId = s.id;
      const video = newVideo();
      video.muted = true;
      if (s.local) {
        video.dataset.local = "screen";
        video.srcObject = app.screenStream;
        video.play().catch(() => {});
      } else {
        video.dataset.feed = String(s.feed);
      }
      const label = document.createElement("span");
      label.className = "tile-name";
      el.append(video, label);
      stage.append(el);
    }
    el.querySelector(".tile-name").textContent = t("screenOf", { name: s.name || "" });
    if (!s.local) attachStream(el.querySelector("video"), app.remoteStreams.get(s.feed));
  }
  const has = shares.length > 0;
  stage.hidden = !has;
  const area = $("#stage-area");
  if (area.classList.contains("has-stage") !== has) {
    area.classList.toggle("has-stage", has);
    requestAnimationFrame(() => layout(true));
  }
}

function renderParticipants() {
  const list = $("#participant-list");
  const host = app.role === "host";
  const ids = [app.participantId, ...[...app.participants.keys()].filter((id) => id !== app.participantId)];
  const rows = [];
  for (const id of ids) {
    const p = app.participants.get(id);
    if (!p) continue;
    const self = id === app.participantId;
    const mic = self ? app.micOn : !!p.mic;
    const camera = self ? app.cameraOn && !!app.local.videoTrack : !!p.camera;
    const hand = self ? app.hand : !!p.hand;
    const li = document.createElement("li");
    li.dataset.participantId = id;
    li.dataset.mic = mic ? "on" : "off";
    li.dataset.camera = camera ? "on" : "off";
    li.dataset.hand = hand ? "up" : "down";
    const name = document.createElement("span");
    name.className = "p-name";
    name.textContent = self ? `${p.name || app.name} ${t("you")}` : p.name || "";
    li.append(name);
    if (p.role === "host") {
      const badge = document.createElement("span");
      badge.className = "p-role";
      badge.textContent = t("host");
      li.append(badge);
    }
    const states = document.createElement("span");
    states.className = "p-states";
    const handEl = icon("i-hand");
    handEl.classList.add("p-hand");
    const micEl = icon(mic ? "i-mic" : "i-mic-off");
    micEl.classList.add("p-mic", mic ? "on" : "off");
    const camEl = icon(camera ? "i-cam" : "i-cam-off");
    camEl.classList.add("p-camera", camera ? "on" : "off");
    states.append(handEl, micEl, camEl);
    li.append(states);
    if (host && !self) {
      const mute = button("mute", t("mute"));
      mute.disabled = !mic;
      mute.addEventListener("click", () => send({ type: "host.mute", participant_id: id }));
      const remove = button("remove", t("remove"));
      remove.addEventListener("click", () => send({ type: "host.remove", participant_id: id }));
      li.append(mute, remove);
    }
    rows.push(li);
  }
  list.replaceChildren(...rows);
  $("#participants-title").textContent = t("participantsN", { n: app.participants.size });
  const hands = [...app.participants.values()].filter((p) => p.hand).length;
  setBadge($("#btn-participants"), host ? app.waiting.length + hands : hands);
}

function button(className, label) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = label;
  return b;
}

function setBadge(btn, n) {
  const badge = btn.querySelector(".badge");
  badge.hidden = !n;
  badge.textContent = n > 99 ? "99+" : String(n || "");
}

function onLobbyUpdate(msg) {
  const before = new Set(app.waiting.map((w) => w.participant_id));
  app.waiting = Array.isArray(msg.waiting) ? msg.waiting : [];
  renderWaiting();
  renderParticipants();
  for (const w of app.waiting) if (!before.has(w.participant_id)) toast(t("someoneWaiting", { name: w.name || "" }));
}

function renderWaiting() {
  const panel = $("#waiting");
  const rows = app.waiting.map((w) => {
    const li = document.createElement("li");
    li.dataset.participantId = w.participant_id;
    const name = document.createElement("span");
    name.className = "w-name";
    name.textContent = w.name || "";
    const admit = button("admit primary small", t("admit"));
    admit.addEventListener("click", () => send({ type: "host.admit", participant_id: w.participant_id }));
    const deny = button("deny small", t("deny"));
    deny.addEventListener("click", () => send({ type: "host.deny", participant_id: w.participant_id }));
    li.append(name, admit, deny);
    return li;
  });
  $("#waiting-list").replaceChildren(...rows);
  $("#waiting-title").textContent = t("waitingN", { n: app.waiting.length });
  panel.hidden = app.role !== "host" || app.waiting.length === 0;
}

function renderControls() {
  const set = (btn, pressed, label) => {
    btn.setAttribute("aria-pressed", String(pressed));
    btn.classList.toggle("off", !pressed);
    btn.title = label;
    btn.setAttribute("aria-label", label);
    const l = btn.querySelector(".label");
    if (l) l.textContent = label;
  };
  const cameraOn = app.cameraOn && !!app.local.videoTrack;
  set($("#btn-mic"), app.micOn, t(app.micOn ? "mute" : "unmute"));
  set($("#btn-camera"), cameraOn, t(cameraOn ? "cameraOff" : "cameraOn"));
  set($("#btn-screen"), !!app.screenStream, t(app.screenStream ? "stopSharing" : "shareScreen"));
  set($("#btn-hand"), app.hand, t(app.hand ? "lowerHand" : "raiseHand"));
  set($("#btn-record"), app.recording, t(app.recording ? "stopRecording" : "record"));
  set($("#btn-view"), app.view === "round", t(app.view === "round" ? "gridView" : "roundTableView"));
  set($("#btn-lock"), app.locked, t(app.locked ? "unlockMeeting" : "lockMeeting"));
  for (const b of [$("#btn-screen"), $("#btn-hand"), $("#btn-record"), $("#btn-view"), $("#btn-lock")]) {
    b.classList.remove("off");
    b.classList.toggle("active", b.getAttribute("aria-pressed") === "true");
  }
  $("#btn-chat").setAttribute("aria-pressed", String(app.openPanel === "chat"));
  $("#btn-participants").setAttribute("aria-pressed", String(app.openPanel === "participants"));
  for (const id of ["#btn-chat", "#btn-participants", "#btn-leave", "#btn-end"]) {
    const b = $(id);
    const label = b.querySelector(".label").textContent;
    b.title = label;
    b.setAttribute("aria-label", label);
  }
  setBadge($("#btn-chat"), app.unread);
}

// ---------------------------------------------------------------- controls

function bindControls() {
  $("#btn-mic").addEventListener("click", () => setMic(!app.micOn));
  $("#btn-camera").addEventListener("click", () => setCamera(!(app.cameraOn && app.local.videoTrack)));
  $("#btn-screen").addEventListener("click", () => (app.screenStream ? stopScreen() : startScreen()));
  $("#btn-hand").addEventListener("click", () => {
    app.hand = !app.hand;
    send({ type: "hand", raised: app.hand });
    refreshSelf();
    renderParticipants();
    renderControls();
  });
  $("#btn-record").addEventListener("click", () => send({ type: "host.record", active: !app.recording }));
  $("#btn-chat").addEventListener("click", () => togglePanel("chat"));
  $("#btn-participants").addEventListener("click", () => togglePanel("participants"));
  $("#btn-view").addEventListener("click", () => setView(app.view === "round" ? "grid" : "round"));
  $("#btn-leave").addEventListener("click", leave);
  $("#lobby-leave").addEventListener("click", leave);
  $("#rejoin").addEventListener("click", () => location.reload());
  $("#btn-end").addEventListener("click", () => {
    const dialog = $("#end-dialog");
    if (dialog.showModal) dialog.showModal(); else send({ type: "host.end" });
  });
  $("#end-dialog").addEventListener("close", () => {
    if ($("#end-dialog").returnValue === "end") send({ type: "host.end" });
  });
  for (const b of $$(".panel-close")) b.addEventListener("click", () => togglePanel(b.dataset.panel, false));
  $("#page-prev").addEventListener("click", () => { app.page -= 1; renderGrid(); });
  $("#page-next").addEventListener("click", () => { app.page += 1; renderGrid(); });
  $("#chat-form").addEventListener("submit", (e) => { e.preventDefault(); sendChat(); });
  $("#chat-export").addEventListener("click", () => send({ type: "host.chat_export" }));
  $("#mute-all").addEventListener("click", () => send({ type: "host.mute_all" }));
  $("#btn-lock").addEventListener("click", () => send({ type: "host.lock", locked: !app.locked }));
  $("#admit-all").addEventListener("click", () => send({ type: "host.admit_all" }));
}

function togglePanel(name, open = app.openPanel !== name) {
  if (name === "chat" && !chatAvailable) return;
  app.openPanel = open ? name : app.openPanel === name ? null : app.openPanel;
  $("#chat").hidden = app.openPanel !== "chat";
  $("#participants").hidden = app.openPanel !== "participants";
  if (app.openPanel === "chat") {
    app.unread = 0;
    const list = $("#chat-messages");
    list.scrollTop = list.scrollHeight;
    $("#chat-input").focus();
  }
  renderControls();
  requestAnimationFrame(() => layout());
}

function setView(view) {
  app.view = view;
  document.body.dataset.view = view;
  $("#grid").dataset.view = view;
  renderControls();
  layout(true);
}

async function setMic(on) {
  if (on && !app.local.audioTrack) {
    const track = await app.local.startMic();
    if (!track) { toast(t("microphoneFailed")); return; }
    detector.attach(track);
    if (app.state === "joined" && !(await replaceSenderTrack(app.publisher, "audio", track))) {
      schedulePublishCamera(true);
    }
  }
  app.micOn = on;
  app.local.setMicEnabled(on);
  if (!on) onLocalTalking(false);
  renderPrejoinToggles();
  renderControls();
  refreshSelf();
  renderParticipants();
  sendMediaState();
}

async function setCamera(on) {
  if (on) {
    const track = app.local.videoTrack || (await app.local.startCamera());
    if (!track) { toast(t("cameraFailed")); return; }
    app.cameraOn = true;
    if (app.state === "joined" && !(await replaceSenderTrack(app.publisher, "video", track))) {
      // The publisher has no video sender (joined with the camera off, or over the limit).
      app.videoAllowed = true;
      schedulePublishCamera(true);
    }
  } else {
    app.cameraOn = false;
    await replaceSenderTrack(app.publisher, "video", null);
    app.local.stopCamera();
  }
  renderPrejoinToggles();
  renderControls();
  refreshSelf();
  renderParticipants();
  sendMediaState();
}

/** Swaps the track of the publisher's sender of this kind; false when it has no such sender. */
async function replaceSenderTrack(pc, kind, track) {
  if (!pc || pc.connectionState === "closed") return false;
  const tr = pc.getTransceivers().find((x) => x.receiver.track?.kind === kind && x.sender);
  if (!tr) return false;
  try {
    await tr.sender.replaceTrack(track);
    return true;
  } catch {
    return false;
  }
}

function sendMediaState() {
  if (app.state !== "joined") return;
  send({ type: "media.state", mic: app.micOn && !!app.local.audioTrack, camera: app.cameraOn && !!app.local.videoTrack });
}

function onLocalTalking(talking) {
  app.talkingWant = talking && app.micOn;
  if (app.participantId) setSpeaking(app.participantId, app.talkingWant);
  flushTalking();
}

// At most one `talking` message per interval; the last state wins.
function flushTalking() {
  if (app.state !== "joined" || app.talkingWant === app.talkingSent) return;
  const wait = app.lastTalkingSend + TALKING_MIN_INTERVAL_MS - Date.now();
  if (wait > 0) {
    if (!app.talkingTimer) app.talkingTimer = setTimeout(() => { app.talkingTimer = null; flushTalking(); }, wait);
    return;
  }
  if (send({ type: "talking", talking: app.talkingWant })) {
    app.talkingSent = app.talkingWant;
    app.lastTalkingSend = Date.now();
  }
}

async function startScreen() {
  if (app.screenStream || app.state !== "joined") return;
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    if (err && err.name !== "NotAllowedError" && err.name !== "AbortError") toast(t("screenFailed"));
    return;
  }
  app.screenStream = stream;
  const track = stream.getVideoTracks()[0];
  if (track) track.addEventListener("ended", () => stopScreen());
  renderStage();
  renderControls();
  schedulePublishScreen();
}

function stopScreen() {
  if (!app.screenStream) return;
  for (const track of app.screenStream.getTracks()) track.stop();
  app.screenStream = null;
  app.screenGen += 1;
  const wasPublishing = !!app.screenPublisher || app.screenFeed !== null;
  closePeer(app.screenPublisher);
  app.screenPublisher = null;
  if (wasPublishing) send({ type: "media.unpublish", kind: "screen" });
  app.screenFeed = null;
  renderStage();
  renderControls();
}

// ---------------------------------------------------------------- publishing

function rtcConfig() {
  return { iceServers: Array.isArray(config.ice_servers) ? config.ice_servers : [] };
}

/** Publishes again from scratch; queued per kind, so an answer always meets the offer it answers. */
function schedulePublishCamera(replace = false) {
  const gen = ++app.cameraGen;
  app.publishChain.camera = app.publishChain.camera
    .then(() => publishCamera(gen, replace))
    .catch((err) => console.error("meetkit: publish camera", err));
}

async function publishCamera(gen, replace) {
  if (gen !== app.cameraGen || app.state !== "joined") return;
  if (replace && app.published) send({ type: "media.unpublish", kind: "camera" });
  closePeer(app.publisher);
  app.publisher = null;
  app.published = false;
  app.publisherFeed = null;
  const audio = app.local.audioTrack;
  const video = app.videoAllowed && app.cameraOn ? app.local.videoTrack : null;
  if (!audio && !video) return;
  const pc = new RTCPeerConnection(rtcConfig());
  app.publisher = pc;
  const stream = new MediaStream([audio, video].filter(Boolean));
  if (audio) pc.addTransceiver(audio, { direction: "sendonly", streams: [stream] });
  if (video) pc.addTransceiver(video, { direction: "sendonly", streams: [stream] });
  watchPublisher(pc, "camera");
  const offer = await makeOffer(pc);
  if (gen !== app.cameraGen || app.publisher !== pc) return;
  let answer;
  try {
    answer = await requestPublish("camera", offer);
  } catch (err) {
    if (app.publisher !== pc) return;
    closePeer(pc);
    app.publisher = null;
    if (err.code === "video_limit") {
      app.videoAllowed = false;
      app.cameraOn = false;
      app.local.stopCamera();
      toast(err.message || t("videoLimit"));
      renderControls();
      refreshSelf();
      sendMediaState();
      if (audio) schedulePublishCamera();
    } else if (!["disconnected", "superseded", "media_unavailable"].includes(err.code)) {
      // (media_unavailable was already said when the meeting was entered)
      toast(t("mediaFailed", { message: err.message || err.code }));
    }
    return;
  }
  if (app.publisher !== pc) return;
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  app.published = true;
  app.publisherFeed = feedId(answer.feed);
}

function schedulePublishScreen() {
  const gen = ++app.screenGen;
  app.publishChain.screen = app.publishChain.screen
    .then(() => publishScreen(gen))
    .catch((err) => console.error("meetkit: publish screen", err));
}

async function publishScreen(gen) {
  if (gen !== app.screenGen || !app.screenStream || app.state !== "joined") return;
  closePeer(app.screenPublisher);
  const track = app.screenStream.getVideoTracks()[0];
  if (!track) return;
  const pc = new RTCPeerConnection(rtcConfig());
  app.screenPublisher = pc;
  app.screenFeed = null;
  pc.addTransceiver(track, { direction: "sendonly", streams: [app.screenStream] });
  watchPublisher(pc, "screen");
  const offer = await makeOffer(pc);
  if (gen !== app.screenGen || app.screenPublisher !== pc) return;
  let answer;
  try {
    answer = await requestPublish("screen", offer);
  } catch (err) {
    if (app.screenPublisher !== pc || err.code === "disconnected" || err.code === "superseded") return;
    toast(err.code === "video_limit" ? err.message || t("screenFailed") : t("screenFailed"));
    stopScreen();
    return;
  }
  if (app.screenPublisher !== pc) return;
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  app.screenFeed = feedId(answer.feed) ?? -1;
}

function watchPublisher(pc, kind) {
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState !== "failed") return;
    // ICE failed for good (network change): publish again if this is still the live connection.
    setTimeout(() => {
      if (kind === "camera" && app.publisher === pc) schedulePublishCamera(true);
      if (kind === "screen" && app.screenPublisher === pc) {
        send({ type: "media.unpublish", kind: "screen" });
        schedulePublishScreen();
      }
    }, 1000);
  });
}

function requestPublish(kind, sdp) {
  return new Promise((resolve, reject) => {
    const previous = app.publishWaiters[kind];
    if (previous) previous.reject(Object.assign(new Error("superseded"), { code: "superseded" }));
    const waiter = {
      resolve: (v) => { clearTimeout(waiter.timer); app.publishWaiters[kind] = null; resolve(v); },
      reject: (e) => { clearTimeout(waiter.timer); app.publishWaiters[kind] = null; reject(e); },
      timer: setTimeout(() => waiter.reject(Object.assign(new Error("timeout"), { code: "timeout" })),
        PUBLISH_ANSWER_LIMIT_MS),
    };
    app.publishWaiters[kind] = waiter;
    if (!send({ type: "media.publish", kind, sdp })) {
      waiter.reject(Object.assign(new Error("disconnected"), { code: "disconnected" }));
    }
  });
}

function failPublishWaiters(code) {
  for (const kind of ["camera", "screen"]) {
    const w = app.publishWaiters[kind];
    if (w) w.reject(Object.assign(new Error(code), { code }));
  }
}

function onPublishAnswer(msg) {
  const w = app.publishWaiters[msg.kind];
  if (w) w.resolve(msg);
}

function onMediaError(msg) {
  if (msg.kind && app.publishWaiters[msg.kind] && (msg.feed === undefined || msg.feed === null)) {
    app.publishWaiters[msg.kind].reject(Object.assign(new Error(msg.message || msg.code), {
      code: msg.code, message: msg.message }));
    return;
  }
  const feed = feedId(msg.feed);
  if (feed !== null) {
    app.pendingSubs.delete(feed);
    dropSubscriber(feed, false);
    // Often a feed that just went away (a participant.updated is on its way): ask again later.
    app.failedFeeds.set(feed, Date.now() + SUBSCRIBE_RETRY_MS);
    setTimeout(reconcileSubscriptions, SUBSCRIBE_RETRY_MS + 50);
    console.warn("meetkit: subscribe", feed, msg.code, msg.message);
    return;
  }
  if (msg.code === "publish_failed" && (msg.kind === "camera" || msg.kind === "screen")) {
    // The answer came, but the media never reached the server: publish again, a few times at most.
    const tries = (app.publishRetries[msg.kind] = (app.publishRetries[msg.kind] || 0) + 1);
    if (tries <= 3) {
      setTimeout(() => {
        if (msg.kind === "camera") schedulePublishCamera(true);
        else if (app.screenStream) { send({ type: "media.unpublish", kind: "screen" }); schedulePublishScreen(); }
      }, 1000 * tries);
      return;
    }
  }
  if (msg.code === "video_limit") toast(msg.message || t("videoLimit"));
  else if (msg.code !== "media_unavailable" || !app.mediaUnavailableShown) {
    app.mediaUnavailableShown = msg.code === "media_unavailable";
    toast(t("mediaFailed", { message: msg.message || msg.code }));
  }
}

// ---------------------------------------------------------------- subscribing

/** The feeds to receive: cameras on the visible page and every screen share. */
function wantedFeeds() {
  const feeds = new Set();
  for (const id of app.visible) {
    if (id === app.participantId) continue;
    const feed = feedId(app.participants.get(id)?.feeds?.camera);
    if (feed !== null) feeds.add(feed);
  }
  for (const p of app.participants.values()) {
    if (p.participant_id === app.participantId) continue;
    const feed = feedId(p.feeds?.screen);
    if (feed !== null) feeds.add(feed);
  }
  return feeds;
}

function reconcileSubscriptions() {
  if (app.state !== "joined" || !app.sig?.isOpen) return;
  const want = wantedFeeds();
  for (const feed of [...app.subscribers.keys()]) if (!want.has(feed)) dropSubscriber(feed, true);
  for (const feed of [...app.pendingSubs]) {
    if (!want.has(feed)) {
      send({ type: "media.unsubscribe", feed });
      app.pendingSubs.delete(feed);
    }
  }
  const now = Date.now();
  for (const [feed, retryAt] of app.failedFeeds) if (retryAt <= now || !want.has(feed)) app.failedFeeds.delete(feed);
  for (const feed of want) {
    if (app.subscribers.has(feed) || app.pendingSubs.has(feed) || app.failedFeeds.has(feed)) continue;
    if (send({ type: "media.subscribe", feed })) {
      app.pendingSubs.add(feed);
    }
  }
}

function dropSubscriber(feed, unsubscribe) {
  const pc = app.subscribers.get(feed);
  if (unsubscribe && (pc || app.pendingSubs.has(feed))) send({ type: "media.unsubscribe", feed });
  closePeer(pc);
  app.subscribers.delete(feed);
  app.pendingSubs.delete(feed);
  app.remoteStreams.delete(feed);
  for (const v of $$(`video[data-feed="${feed}"]`)) v.srcObject = null;
}

async function onSubscribeOffer(msg) {
  const feed = feedId(msg.feed);
  if (feed === null || typeof msg.sdp !== "string") return;
  if (app.state !== "joined" || !wantedFeeds().has(feed)) {
    // Paged away (or left) while the offer was on its way.
    app.pendingSubs.delete(feed);
    if (!app.subscribers.has(feed)) send({ type: "media.unsubscribe", feed });
    return;
  }
  app.pendingSubs.delete(feed);
  let pc = app.subscribers.get(feed);
  const renegotiate = pc && pc.signalingState === "stable" && pc.connectionState !== "failed"
    && pc.connectionState !== "closed" && sameIceUfrag(pc.remoteDescription?.sdp, msg.sdp);
  if (!renegotiate) {
    closePeer(pc);
    pc = new RTCPeerConnection(rtcConfig());
    app.subscribers.set(feed, pc);
    const stream = new MediaStream();
    app.remoteStreams.set(feed, stream);
    pc.addEventListener("track", (event) => {
      if (app.subscribers.get(feed) !== pc) return;
      stream.addTrack(event.track);
      for (const v of $$(`video[data-feed="${feed}"]`)) {
        v.srcObject = null;
        attachStream(v, stream);
      }
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState !== "failed" || app.subscribers.get(feed) !== pc) return;
      dropSubscriber(feed, true);
      setTimeout(reconcileSubscriptions, 2000);
    });
  }
  const answer = await answerOffer(pc, msg.sdp);
  if (app.subscribers.get(feed) !== pc) return;
  send({ type: "media.answer", feed, sdp: answer });
}

function sameIceUfrag(a, b) {
  const ufrag = (sdp) => (typeof sdp === "string" ? (sdp.match(/a=ice-ufrag:(\S+)/) || [])[1] : undefined);
  const x = ufrag(a);
  return !!x && x === ufrag(b);
}

// ---------------------------------------------------------------- media lifecycle

/** The media server restarted: everything is renegotiated from scratch. */
function resetMedia() {
  failPublishWaiters("superseded");
  closePeer(app.publisher);
  app.publisher = null;
  app.published = false;
  app.publisherFeed = null;
  closePeer(app.screenPublisher);
  app.screenPublisher = null;
  app.screenFeed = null;
  for (const feed of [...app.subscribers.keys()]) dropSubscriber(feed, false);
  app.pendingSubs.clear();
  app.failedFeeds.clear();
  if (app.state !== "joined") return;
  schedulePublishCamera();
  if (app.screenStream) schedulePublishScreen();
  reconcileSubscriptions();
}

/** A resume that started over as a new participant: the old peer connections belong to nobody. */
function resetMeetingState() {
  resetMedia();
  app.participants = new Map();
  app.order = [];
  app.visible = [];
  app.talking.clear();
  app.chatIds.clear();
  $("#chat-messages").replaceChildren();
  $("#grid").replaceChildren();
}

function stopEverything(sayLeave = false) {
  if (sayLeave) send({ type: "leave" });
  if (app.sig) app.sig.close();
  failPublishWaiters("superseded");
  app.cameraGen += 1;
  app.screenGen += 1;
  closePeer(app.publisher);
  app.publisher = null;
  app.published = false;
  closePeer(app.screenPublisher);
  app.screenPublisher = null;
  if (app.screenStream) for (const track of app.screenStream.getTracks()) track.stop();
  app.screenStream = null;
  for (const pc of app.subscribers.values()) closePeer(pc);
  app.subscribers.clear();
  app.pendingSubs.clear();
  app.remoteStreams.clear();
  for (const v of $$("video")) v.srcObject = null;
  clearTimeout(app.talkingTimer);
  detector.stop();
  app.local.stopAll();
  $("#reconnecting").hidden = true;
  $("#waiting").hidden = true;
  $("#recording-indicator").hidden = true;
  const dialog = $("#end-dialog");
  if (dialog.open) dialog.close("cancel");
}

function leave() {
  const wasJoined = app.state === "joined";
  stopEverything(true);
  showLeft("");
  if (wasJoined) post("left", { reason: "left" });
}

// ---------------------------------------------------------------- chat

function setChat(messages) {
  if (!chatAvailable) return;
  for (const m of messages) addChat(m, true);
}

function addChat(m, history = false) {
  if (!chatAvailable || !m || typeof m.text !== "string") return;
  if (m.id !== undefined && app.chatIds.has(m.id)) return;
  if (m.id !== undefined) app.chatIds.add(m.id);
  const list = $("#chat-messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const mine = m.participant_id === app.participantId;
  if (mine) {
    const i = app.pendingChat.findIndex((p) => p.text === m.text);
    if (i >= 0) {
      const [pending] = app.pendingChat.splice(i, 1);
      pending.el.remove();
    }
  }
  list.append(chatItem(m, mine));
  if (nearBottom || mine) list.scrollTop = list.scrollHeight;
  if (!history && !mine && app.openPanel !== "chat") {
    app.unread += 1;
    renderControls();
  }
}

function chatItem(m, mine, pending = false) {
  const li = document.createElement("li");
  li.className = "msg";
  li.classList.toggle("mine", mine);
  li.classList.toggle("pending", pending);
  if (m.id !== undefined) li.dataset.messageId = String(m.id);
  if (m.participant_id) li.dataset.participantId = m.participant_id;
  const head = document.createElement("div");
  head.className = "msg-head";
  const name = document.createElement("span");
  name.className = "msg-name";
  name.textContent = m.name || "";
  const time = document.createElement("time");
  time.className = "msg-time";
  const when = m.sent_at ? new Date(m.sent_at) : new Date();
  if (!Number.isNaN(when.getTime())) {
    time.dateTime = when.toISOString();
    time.textContent = when.toLocaleTimeString(language(), { hour: "2-digit", minute: "2-digit" });
  }
  head.append(name, time);
  const text = document.createElement("div");
  text.className = "msg-text";
  text.textContent = m.text;
  li.append(head, text);
  return li;
}

function sendChat() {
  const input = $("#chat-input");
  const text = input.value.trim();
  if (!text || text.length > 2000) return;
  if (!send({ type: "chat.send", text })) return;  // keep the text while reconnecting
  input.value = "";
  // Shown at once, greyed, until the server's chat.message for it arrives.
  const el = chatItem({ participant_id: app.participantId, name: app.name, text }, true, true);
  app.pendingChat.push({ text, el });
  const list = $("#chat-messages");
  list.append(el);
  list.scrollTop = list.scrollHeight;
}

function downloadChat(messages) {
  const title = config.room?.display_name || config.room?.meeting_code || "";
  const lines = [t("chatExportHeader", { title }), ""];
  for (const m of messages) {
    const when = m.sent_at ? String(m.sent_at).replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "";
    lines.push(`[${when}] ${String(m.name || "").replace(/[\r\n]+/g, " ")}: ${String(m.text || "")}`);
  }
  const blob = new Blob([lines.join("\n") + "\n"], { type: "text/plain;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  const day = new Date().toISOString().slice(0, 10);
  a.download = `chat-${config.room?.meeting_code || "meeting"}-${day}.txt`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------------------------------------------------------------- toasts, embedder

function toast(text, { sticky = false, action = null, onAction = null } = {}) {
  const el = document.createElement("div");
  el.className = "toast";
  el.setAttribute("role", "status");
  if (action && onAction) {
    el.classList.add("actionable");
    const b = button("toast-action", action);
    b.addEventListener("click", () => { onAction(); el.remove(); });
    el.append(b);
  } else {
    el.textContent = text;
  }
  $("#toasts").append(el);
  if (!sticky) setTimeout(() => el.remove(), 5000);
  return el;
}

function post(event, data) {
  if (window.parent === window) return;
  try {
    window.parent.postMessage({ source: "meetkit", event, data }, "*");
  } catch { /* the parent went away */ }
}

start();
