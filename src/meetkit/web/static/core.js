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
const features = config.available_features || {};
export const chatAvailable = features.is_chat_available !== false;
export const recordingAvailable = features.is_recording_available !== false;

export const store = createStore({
  session: sessionReducer(config.role),
  lobby: lobbyReducer,
  media: mediaReducer,
  participants: participantsReducer,
  grid: gridReducer,
  chat: chatReducer(chatAvailable),
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

export function rtcConfig() {
  return { iceServers: Array.isArray(config.ice_servers) ? config.ice_servers : [] };
}
