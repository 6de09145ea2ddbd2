// What every feature shares: the page configuration, the store with every feature's reducer, the
// socket (set once Join is clicked) and the local devices. Imports only pure state modules, so any
// feature may import it without a cycle at load time.

import { createStore } from "./store.js";
import { LocalMedia } from "./media.js";
import { sessionReducer } from "./features/session/state.js";
import { lobbyReducer } from "./features/lobby/state.js";
import { mediaReducer } from "./features/media/state.js";
import { participantsReducer } from "./features/participants/state.js";
import { gridReducer } from "./features/grid/state.js";
import { chatReducer } from "./features/chat/state.js";
import { controlsReducer } from "./features/controls/state.js";
import { hostReducer } from "./features/host/state.js";
import { recordingReducer } from "./features/recording/state.js";

function readConfig() {
  try {
    return JSON.parse(document.getElementById("meetkit-config").textContent) || {};
  } catch {
    return {};
  }
}

export const config = readConfig();
// The room's features: the page's first, then each `room.updated` (a live PATCH of the room).
export let chatAvailable = true;
export let recordingAvailable = true;
export let boardAvailable = true;
export function setFeatures(features) {
  boardAvailable = features?.is_whiteboard_available !== false;
  chatAvailable = features?.is_chat_available !== false;
  recordingAvailable = features?.is_recording_available !== false;
}
setFeatures(config.available_features);

export const store = createStore({
  session: sessionReducer(config.role),
  lobby: lobbyReducer,
  media: mediaReducer,
  participants: participantsReducer,
  grid: gridReducer,
  chat: chatReducer(() => chatAvailable),
  controls: controlsReducer,
  host: hostReducer,
  recording: recordingReducer,
});

export const dispatch = (action) => store.dispatch(action);

/** The effects' handles: not state a view draws from. `sig` is the Signalling once Join is clicked. */
export const runtime = { sig: null, local: new LocalMedia(), detector: null };

export function send(msg) {
  return runtime.sig ? runtime.sig.send(msg) : false;
}

// TURN (docs/media.md "TURN"): the latest ICE servers — from the page config, then `welcome`, then each
// `ice.servers` — and the open peer connections they are handed to. Credentials are short-lived: a
// connection made or ICE-restarted later must use the fresh set, never the page's first one.
let iceServers = Array.isArray(config.ice_servers) ? config.ice_servers : [];
const peers = new Set();

export function rtcConfig() {
  return { iceServers };
}

/** Keep `pc`'s TURN credentials fresh: called once on every connection the page makes. */
export function trackPeer(pc) {
  peers.add(pc);
  return pc;
}

/** A peer connection with the latest ICE servers, kept fresh as new credentials come. */
export function newPeerConnection() {
  return trackPeer(new RTCPeerConnection(rtcConfig()));
}

/** New ICE servers from the server: later connections use them, open ones get them now. */
export function setIceServers(list) {
  if (!Array.isArray(list)) return;
  iceServers = list;
  for (const pc of peers) {
    if (pc.signalingState === "closed") {
      peers.delete(pc);  // close() fires no event: forgotten here
      continue;
    }
    try {
      pc.setConfiguration({ ...pc.getConfiguration(), iceServers: list });
    } catch (err) {
      console.warn("meetkit: new ICE servers refused", err);
    }
  }
}
