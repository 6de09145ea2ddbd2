// The meeting page: pre-join, lobby, the meeting itself. It speaks docs/signalling.md over one
// WebSocket; SDP goes through meetkit, never to Janus directly. This module wires the features
// (features/*: state.js reducers on one store, views that draw from it, actions with the effects)
// and maps each server message to its feature through one table.

import { t, resolveLanguage, setLanguage, translateDocument } from "./i18n.js";
import { TalkingDetector } from "./media.js";
import { store, dispatch, runtime, config, chatAvailable, recordingAvailable, boardAvailable, setFeatures, send,
  setIceServers, rtcConfig, trackPeer }
  from "./core.js";
import { $, toast } from "./dom.js";
import { startLanguage, chosenLanguage } from "./features/language/language.js";
import { isIn } from "./features/session/state.js";
import { drawSession } from "./features/session/view.js";
import * as session from "./features/session/actions.js";
import { drawLobby } from "./features/lobby/view.js";
import { startPrejoin, drawPrejoin, showLevel } from "./features/prejoin/prejoin.js";
import { PARTICIPANT_JOINED, PARTICIPANT_LEFT, PARTICIPANT_UPDATED } from "./features/participants/state.js";
import { drawParticipants, startRemoveDialog } from "./features/participants/view.js";
import { drawGridFeature } from "./features/grid/view.js";
import { startChat, onChatMessage, downloadChat } from "./features/chat/chat.js";
import { startControls } from "./features/controls/controls.js";
import { startKeys } from "./features/controls/keys.js";
import { startToasts } from "./features/participants/toasts.js";
import { drawHost, onLobbyUpdate, onLocked } from "./features/host/host.js";
import { RECORDING_CHANGED } from "./features/recording/state.js";
import { drawRecording } from "./features/recording/view.js";
import { postEmbedEvents, embedEvent } from "./features/embed/embed.js";
import { takeEmbedCommands } from "./features/embed/commands.js";
import { startInvite } from "./features/host/invite.js";
import { startBoard, drawBoard, onBoardScene, onBoardUpdated, onBoardLocked, onBoardError, boardHandle }
  from "./features/board/board.js";
import { startWatch, onWatchState, onWatchEnded, watchHandle } from "./features/watch/watch.js";
import { startCaptions, drawCaptions, onCaptionsState, onCaptionsText, onCaptionsError, captionsHandle }
  from "./features/captions/captions.js";
import { onPong } from "./features/watch/clock.js";
import { setMic } from "./features/media/local.js";
import { onPublishAnswer, onPublishError, onPublisherCandidate, ownFeedsAnnounced, pub, restartPublisher }
  from "./features/media/publisher.js";
import { onStreams, onSubscribeError, onSubscribeOffer, onSubscriberCandidate, subs, subscriberByFeed, watchSubscriptions }
  from "./features/media/subscriptions.js";
import { lastView } from "./features/media/view.js";
import { onLocalTalking, onServerTalking, talkingFromBrowsers, watchTalking } from "./features/media/talking.js";

// The hooks the end-to-end tests read (docs/ui.md "window.__meetkit").
window.__meetkit = {
  get state() { return store.state.session.state; },
  get participantId() { return store.state.session.participantId; },
  get publisher() { return pub.publisher; },
  get subscriber() { return subs.pc; },       // the one RTCPeerConnection for everything received
  get streams() { return subs.streams; },     // mid → Stream, from media.offer / media.streams
  get subscribers() { return subscriberByFeed(); },
  get view() { return lastView(); },          // the last media.view sent
  get socket() { return runtime.sig ? runtime.sig.socket : null; },
  get role() { return store.state.session.role; },
  get screenPublisher() { return pub.screenPublisher; },
  get publisherFeed() { return pub.publisherFeed; },
  restartPublisher: (kind) => restartPublisher(kind),
  // The page's own ICE configuration and its refresh (the bundled page's modules are not importable).
  rtcConfig: () => rtcConfig(),
  trackPeer: (pc) => trackPeer(pc),
  get participants() { return store.state.participants.byId; },
  board: boardHandle,
  watch: watchHandle,
  captions: captionsHandle,
};

// ---------------------------------------------------------------- server messages → features

function participantAnnounced(p, updated) {
  if (!p || !p.participant_id) return;
  const known = store.state.participants.byId.has(p.participant_id);
  if (updated && known && p.participant_id === store.state.session.participantId) ownFeedsAnnounced(p);
  dispatch({ type: updated && known ? PARTICIPANT_UPDATED : PARTICIPANT_JOINED, participant: p });
}

function participantLeft(msg) {
  const id = msg.participant_id;
  if (!id || id === store.state.session.participantId) return;
  dispatch({ type: PARTICIPANT_LEFT, participantId: id, reason: msg.reason });
}

function onMediaError(msg) {
  if (msg.code === "media_unavailable") talkingFromBrowsers();
  // Publishing errors name their kind; receiving ones (subscribe_failed, no_offer) do not.
  if (!msg.kind && msg.code !== "media_unavailable") onSubscribeError(msg);
  else onPublishError(msg);
}

const BOARD_ERRORS = new Set(["board_full", "board_read_only", "too_large", "bad_message"]);

function onError(msg) {
  console.warn("meetkit: server error", msg.code, msg.message);
  if (BOARD_ERRORS.has(msg.code) || (msg.code === "rate_limited" && msg.limit === "board")) onBoardError(msg);
  embedEvent("error", { code: msg.code, message: msg.message });
  // rate_limited: the server dropped one message of a class we sent too fast; nothing to tell the person.
  if (msg.code !== "unknown_type" && msg.code !== "rate_limited") toast(t("errorMessage", { message: msg.message || msg.code }));
}

const handlers = {
  "welcome": (msg) => { setIceServers(msg.ice_servers); session.onWelcome(msg); },
  "ice.servers": (msg) => setIceServers(msg.ice_servers),
  "lobby": (msg) => session.showLobby(msg.reason, msg.host_present),
  "admitted": session.onAdmitted,
  "denied": session.onDenied,
  "lobby.update": onLobbyUpdate,
  "participant.joined": (msg) => participantAnnounced(msg.participant, false),
  "participant.updated": (msg) => participantAnnounced(msg.participant, true),
  "participant.left": participantLeft,
  "talking": onServerTalking,
  "chat.message": onChatMessage,
  "chat.export": downloadChat,
  "media.answer": onPublishAnswer,
  "media.offer": onSubscribeOffer,
  "media.streams": onStreams,
  "media.candidate": (msg) => (msg.target === "subscriber" ? onSubscriberCandidate(msg) : onPublisherCandidate(msg)),
  "media.error": onMediaError,
  "media.reset": session.resetMedia,
  "muted": () => { setMic(false); toast(t("mutedByHost")); },
  "removed": session.onRemoved,
  "meeting.ended": session.onEnded,
  "locked": onLocked,
  "recording": (msg) => dispatch({ type: RECORDING_CHANGED, active: !!msg.active }),
  "room.updated": onRoomUpdated,
  "board.scene": onBoardScene,
  "board.updated": onBoardUpdated,
  "board.locked": onBoardLocked,
  "watch.state": onWatchState,
  "watch.ended": onWatchEnded,
  "captions.state": onCaptionsState,
  "captions.text": onCaptionsText,
  "captions.error": onCaptionsError,
  "pong": onPong,
  "error": onError,
};

function onMessage(msg) {
  const handler = Object.hasOwn(handlers, msg.type) ? handlers[msg.type] : null;
  if (handler) handler(msg);
}

// ---------------------------------------------------------------- start-up

/** `room.updated`: the room was changed while the meeting runs (docs/signalling.md). */
function onRoomUpdated(msg) {
  if (msg.room) {
    config.room = { ...config.room, ...msg.room };
    showRoomName(config.room.display_name || "");
  }
  if (msg.available_features) config.available_features = msg.available_features;
  if (msg.recording_options) config.recording_options = msg.recording_options;
  setFeatures(config.available_features);
  applyFeatures();
  applyTheme(msg.theme || {});
}

function applyFeatures() {
  document.body.classList.toggle("no-chat", !chatAvailable);
  document.body.classList.toggle("no-recording", !recordingAvailable);
  document.body.classList.toggle("no-language", !localeSwitcherAvailable());
  document.body.classList.toggle("no-board", !boardAvailable);
  drawBoard();
  drawCaptions();
}

function localeSwitcherAvailable() {
  return config.available_features?.is_locale_switcher_available === true;
}

function showRoomName(name) {
  $("#room-title").textContent = name;
  $("#prejoin-room").textContent = name;
  $("#grid").dataset.title = name;
}

function applyTheme(theme) {
  const root = document.documentElement;
  if (typeof theme.main_color === "string" && /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(theme.main_color)) {
    root.style.setProperty("--accent", theme.main_color);
    root.style.setProperty("--accent-text", contrastText(theme.main_color));
    root.style.setProperty("--accent-fg", readableOnDark(theme.main_color));
  } else {
    for (const name of ["--accent", "--accent-text", "--accent-fg"]) root.style.removeProperty(name);
  }
  const favicon = safeUrl(theme.branded_favicon);
  const icon = document.querySelector('link[rel="icon"]');
  if (favicon && icon) icon.href = favicon;
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

function rgbOf(hex) {
  let h = hex.slice(1);
  if (h.length === 3) h = [...h].map((c) => c + c).join("");
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
}

function luminance([r, g, b]) {
  const [x, y, z] = [r, g, b].map((v) => v / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * x + 0.7152 * y + 0.0722 * z;
}

function contrastText(hex) {
  return luminance(rgbOf(hex)) > 0.4 ? "#111" : "#fff";
}

/** The accent mixed with white until it reads at 4.5:1 on the lightest dark surface (#2a2e37). */
function readableOnDark(hex) {
  const surface = luminance([0x2a, 0x2e, 0x37]);
  const rgb = rgbOf(hex);
  for (let mix = 0; mix <= 1; mix += 0.05) {
    const c = rgb.map((v) => Math.round(v + (255 - v) * mix));
    if ((luminance(c) + 0.05) / (surface + 0.05) >= 4.5) return `rgb(${c.join(", ")})`;
  }
  return "#fff";
}

function start() {
  const chosen = localeSwitcherAvailable() ? chosenLanguage() : null;
  setLanguage(chosen || resolveLanguage(config.ui_settings?.language, navigator.languages || [navigator.language]));
  translateDocument();
  startLanguage();
  applyTheme(config.theme || {});
  applyFeatures();
  document.body.classList.toggle("no-screen", !navigator.mediaDevices?.getDisplayMedia);
  showRoomName(config.room?.display_name || "");

  runtime.detector = new TalkingDetector(onLocalTalking, showLevel);
  // The devices first: getUserMedia takes a while, and the views can be set up meanwhile.
  session.prepare(startPrejoin(), onMessage);
  postEmbedEvents();
  takeEmbedCommands();
  drawSession();
  drawLobby();
  drawPrejoin();
  drawGridFeature();
  drawParticipants();
  startRemoveDialog();
  drawHost();
  drawRecording();
  startChat();
  startControls();
  startKeys();
  startToasts();
  watchSubscriptions();
  watchTalking();
  startInvite();
  startBoard();
  startWatch();
  startCaptions();
  document.addEventListener("pointerdown", () => runtime.detector.resume());
  window.addEventListener("pagehide", () => {
    if (isIn(store.state, "joined", "lobby")) send({ type: "leave" });
  });
}

start();
