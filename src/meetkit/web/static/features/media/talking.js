// Our own talking state: highlighted locally at once, sent at most once per interval (last wins).
import { store, dispatch, send } from "../../core.js";
import { TALKING } from "../participants/state.js";
import { joined } from "./tracks.js";

const TALKING_MIN_INTERVAL_MS = 700;
const talk = { want: false, sent: false, timer: null, lastSend: 0 };

export function onLocalTalking(talking) {
  talk.want = talking && store.state.media.micOn;
  const id = store.state.session.participantId;
  if (id) dispatch({ type: TALKING, participantId: id, talking: talk.want, at: Date.now() });
  flushTalking();
}

function flushTalking() {
  if (!joined() || talk.want === talk.sent) return;
  const wait = talk.lastSend + TALKING_MIN_INTERVAL_MS - Date.now();
  if (wait > 0) {
    if (!talk.timer) talk.timer = setTimeout(() => { talk.timer = null; flushTalking(); }, wait);
    return;
  }
  if (send({ type: "talking", talking: talk.want })) {
    talk.sent = talk.want;
    talk.lastSend = Date.now();
  }
}

export function stopTalking() {
  clearTimeout(talk.timer);
  talk.timer = null;
}
