// Who is talking. With a media server, meetkit decides it from Janus's audio levels and tells
// everyone, ourselves included (`talking`): the browser's own detector then only drives the mic-level
// meter, and our `talking` is never sent (the server would ignore it). Without one (`media.error`
// media_unavailable at admission), the old way: our detector highlights our tile at once and the state
// is sent at most once per interval (last wins).
import { store, dispatch, send } from "../../core.js";
import { PARTICIPANT_JOINED, TALKING } from "../participants/state.js";
import { ADMITTED } from "../session/state.js";
import { joined } from "./tracks.js";

const TALKING_MIN_INTERVAL_MS = 700;
const talk = { want: false, sent: false, timer: null, lastSend: 0, fromServer: true };

/** `talking {participant_id, talking}` from the server. */
export function onServerTalking(msg) {
  if (!msg.participant_id) return;
  dispatch({ type: TALKING, participantId: msg.participant_id, talking: !!msg.talking, at: Date.now() });
}

/** There is no media server for us: talking comes from the browsers' detectors again. */
export function talkingFromBrowsers() {
  if (!talk.fromServer) return;
  talk.fromServer = false;
  resendTalking();
}

export function onLocalTalking(talking) {
  talk.want = talking && store.state.media.micOn;
  if (talk.fromServer) return;
  const id = store.state.session.participantId;
  if (id) dispatch({ type: TALKING, participantId: id, talking: talk.want, at: Date.now() });
  flushTalking();
}

function flushTalking() {
  if (talk.fromServer || !joined() || talk.want === talk.sent) return;
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
 * Without a media server the server only relays changes, so whoever arrives would not know we are
 * already talking: on our admission (also after a resume) and when someone new joins, the current
 * state is sent again. (Janus's levels need no such help.)
 */
function resendTalking() {
  if (talk.fromServer) return;
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
