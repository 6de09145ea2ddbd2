// Entering and leaving the room: Join, the server's verdicts, the socket's fate, and Leave.
import { store, dispatch, runtime, config, send } from "../../core.js";
import { Signalling, socketUrl } from "../../signalling.js";
import { t } from "../../i18n.js";
import { $, toast } from "../../dom.js";
import { ADMITTED, NAME_CHOSEN, RESTARTED, SCREEN_SHOWN, WELCOMED, isIn } from "./state.js";
import { CAMERA_SET, VIDEO_ALLOWED } from "../media/state.js";
import { syncTracks, sendMediaState } from "../media/tracks.js";
import { pub, closePublishers, failPublishWaiters, schedulePublishCamera, schedulePublishScreen } from "../media/publisher.js";
import { closeSubscribers, receivingFirst, reconcileSubscriptions } from "../media/subscriptions.js";
import { stopTalking } from "../media/talking.js";
import { RECORDING_CHANGED } from "../recording/state.js";

const NAME_KEY = "meetkit.name";
// The signed per-browser id from `welcome`, sent back in every hello: a participant the host removed
// comes back to the waiting room (docs/signalling.md). Best effort: storage may be blocked or cleared.
const BROWSER_KEY = "meetkit.browser_id";
let acquiring = Promise.resolve();
// Resolved once the pre-join devices are settled (and a camera turned off before Join is stopped):
// publishing waits for it, the socket and admission do not.
let devicesReady = Promise.resolve();
let devicesSettled = false;
let onMessage = () => {};

/** The pre-join getUserMedia promise, which Join waits for; and the handler of server messages. */
export function prepare(devices, handler) {
  acquiring = devices;
  onMessage = handler;
}

export async function join() {
  const name = $("#name").value.trim().slice(0, 100);
  if (!name || !isIn(store.state, "prejoin")) return;
  dispatch({ type: NAME_CHOSEN, name });
  try { localStorage.setItem(NAME_KEY, name); } catch { /* storage blocked */ }
  dispatch({ type: SCREEN_SHOWN, state: "connecting" });
  runtime.detector.resume();
  devicesReady = Promise.resolve(acquiring).catch((err) => console.warn("meetkit: devices", err)).then(() => {
    devicesSettled = true;
    if (!store.state.media.cameraOn) {
      runtime.local.stopCamera();
      syncTracks();
    }
  });
  // The socket opens and admission runs while the devices are still being acquired (a quick Join
  // does not wait for getUserMedia): subscribing to others needs no devices of ours.
  runtime.sig = new Signalling(socketUrl(config.ws_url || ""), {
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
  runtime.sig.connect();
  await devicesReady;
}

export function savedName() {
  try { return localStorage.getItem(NAME_KEY) || ""; } catch { return ""; /* storage blocked in a frame */ }
}

function helloMessage() {
  const { session, media } = store.state;
  const hello = {
    type: "hello",
    v: 1,
    name: session.name,
    // Before the devices are settled, what the participant chose; media.state corrects it after.
    mic: media.micOn && (media.hasAudio || !devicesSettled),
    camera: media.cameraOn && (media.hasVideo || !devicesSettled),
  };
  if (config.host_token) hello.host_token = config.host_token;
  let browserId = "";
  try { browserId = localStorage.getItem(BROWSER_KEY) || ""; } catch { /* storage blocked */ }
  if (browserId) hello.browser_id = browserId.slice(0, 128);
  if (session.participantId && session.resumeToken) {
    hello.resume = { participant_id: session.participantId, resume_token: session.resumeToken };
  }
  return hello;
}

function onSocketStatus(status, detail) {
  if (status === "open") {
    $("#reconnecting").hidden = true;
    return;
  }
  if (status === "reconnecting") {
    // An in-flight publish will not get its answer on the new socket: ask again after resuming.
    failPublishWaiters("disconnected");
    if (isIn(store.state, "joined")) $("#reconnecting").hidden = false;
    return;
  }
  $("#reconnecting").hidden = true;
  if (status === "failed") {
    if (isIn(store.state, "connecting", "lobby", "joined")) {
      stopEverything();
      showLeft(t("leftConnectionLost"), "connection_lost");
    }
    return;
  }
  // "closed" with a code that means it is over; the message before it usually said why.
  const code = detail.code;
  if (isIn(store.state, "denied", "removed", "ended", "left")) return;
  if (code === 4401) onRemoved();
  else if (code === 4410) onEnded();
  else if (code === 4403) onDenied({ reason: "" });
  else if (code === 4404) {
    stopEverything();
    dispatch({ type: SCREEN_SHOWN, state: "ended", notFound: true });
  } else if (code === 4409) {
    stopEverything(false);
    showLeft(t("leftReplaced"));
  } else if (code in FINAL_TEXTS) {
    stopEverything();
    showLeft(t(FINAL_TEXTS[code]), "connection_lost");
  } else {
    stopEverything();
    showLeft(t("errorMessage", { message: detail.reason || String(code) }));
  }
}

// Closes of the server's limits (docs/signalling.md, "Close codes"): final, each with its own words.
const FINAL_TEXTS = { 4406: "leftOrigin", 4429: "leftRateLimited", 4430: "leftTooManySockets", 4431: "leftTooManyLookups" };

/** leftReason: what the embedder is told, when we were in the meeting ("left" | "connection_lost"). */
function showLeft(text, leftReason = null) {
  dispatch({ type: SCREEN_SHOWN, state: "left", text: text || "", leftReason });
}

export function onWelcome(msg) {
  if (typeof msg.browser_id === "string") {
    try { localStorage.setItem(BROWSER_KEY, msg.browser_id); } catch { /* storage blocked */ }
  }
  const before = store.state.session;
  if (before.participantId && !msg.resumed) {
    // The resume token was too old: this is a new participant; what we had belongs to the old one.
    resetMedia();
    dispatch({ type: RESTARTED });
  }
  const resumed = !!msg.resumed && msg.participant_id === before.participantId;
  dispatch({ type: WELCOMED, participantId: msg.participant_id, resumeToken: msg.resume_token, role: msg.role,
    locked: !!msg.locked });
  if (msg.state === "lobby" && !isIn(store.state, "lobby")) {
    showLobby(config.room?.join_approval_level === "after_owner_only" ? "host_absent" : "approval");
  }
  if (resumed && isIn(store.state, "joined")) {
    toast(t("reconnected"));
    // `admitted` normally follows and does the same; both are idempotent.
    if (!pub.published) schedulePublishCamera();
    reconcileSubscriptions();
  }
}

export function showLobby(reason, hostPresent) {
  dispatch({ type: SCREEN_SHOWN, state: "lobby", reason, hostPresent });
}

export function onAdmitted(msg) {
  const allowed = msg.video_allowed !== false;
  dispatch({ type: VIDEO_ALLOWED, allowed });
  if (!allowed && store.state.media.cameraOn) {
    dispatch({ type: CAMERA_SET, on: false });
    runtime.local.stopCamera();
    syncTracks();
    toast(msg.message || t("videoLimit"));
  } else if (msg.message) {
    toast(msg.message);
  }
  dispatch({ type: ADMITTED, msg });
  if (typeof msg.recording === "boolean") dispatch({ type: RECORDING_CHANGED, active: msg.recording });
  reconcileSubscriptions();
  Promise.all([devicesReady, receivingFirst(msg.participants)]).then(() => {
    if (!isIn(store.state, "joined")) return;
    if (!pub.published) schedulePublishCamera();
    if (pub.screenStream && !pub.screenFeed) schedulePublishScreen();
    sendMediaState();
  });
}

export function onDenied(msg) {
  stopEverything();
  dispatch({ type: SCREEN_SHOWN, state: "denied", reason: msg.reason });
}

export function onRemoved() {
  if (isIn(store.state, "removed")) return;
  stopEverything();
  dispatch({ type: SCREEN_SHOWN, state: "removed" });
}

export function onEnded() {
  if (isIn(store.state, "ended")) return;
  stopEverything();
  dispatch({ type: SCREEN_SHOWN, state: "ended" });
}

/** The media server restarted: everything is renegotiated from scratch. */
export function resetMedia() {
  closePublishers();
  closeSubscribers();
  if (!isIn(store.state, "joined")) return;
  schedulePublishCamera();
  if (pub.screenStream) schedulePublishScreen();
  reconcileSubscriptions();
}

function stopEverything(sayLeave = false) {
  if (sayLeave) send({ type: "leave" });
  if (runtime.sig) runtime.sig.close();
  closePublishers({ stopScreenTracks: true });
  closeSubscribers();
  for (const v of document.querySelectorAll("video")) v.srcObject = null;
  stopTalking();
  runtime.detector.stop();
  runtime.local.stopAll();
  syncTracks();
  $("#reconnecting").hidden = true;
  const dialog = $("#end-dialog");
  if (dialog.open) dialog.close("cancel");
}

export function leave() {
  const wasJoined = isIn(store.state, "joined");
  stopEverything(true);
  showLeft("", wasJoined ? "left" : null);
}
