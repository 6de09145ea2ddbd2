// Our own talking state: highlighted locally at once, sent at most once per interval (last wins).
import { store, dispatch, send } from "../../core.js";
import { PARTICIPANT_JOINED, TALKING } from "../participants/state.js";
import { ADMITTED } from "../session/state.js";
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

/**
 * The server only relays changes, so whoever arrives would not know we are already talking: on our
 * admission (also after a resume) and when someone new joins, the current state is sent again.
 */
export function resendTalking() {
  talk.sent = false;
  const id = store.state.session.participantId;
  if (id && talk.want) dispatch({ type: TALKING, participantId: id, talking: true, at: Date.now() });
  flushTalking();
}

export function watchTalking() {
  store.subscribe((state, prev, action) => {
    if (action.type === ADMITTED) resendTalking();
    else if (action.type === PARTICIPANT_JOINED && talk.want
      && !prev.participants.byId.has(action.participant.participant_id)
      && action.participant.participant_id !== state.session.participantId) resendTalking();
  });
}
