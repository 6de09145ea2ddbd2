// Receiving: ONE RTCPeerConnection carries everything the page receives (Janus multistream, one
// subscriber handle per participant on the server). The page only says what it shows (`media.view`,
// view.js); meetkit decides the subscription and sends `media.offer {sdp, streams}`. We answer at
// once and trickle our candidates (docs/ui.md "Media"); ICE restarts are subscriber-ice.js. `streams` maps each m-line (mid) to a
// participant and feed: videos become per-feed MediaStreams for the tiles, every audio m-line plays
// from its own hidden <audio> (remote-audio.js), whoever is on the visible page.
import { store, dispatch, send, newPeerConnection } from "../../core.js";
import { closePeer } from "../../media.js";
import { STREAMS_CHANGED, feedId } from "./state.js";
import { joined } from "./tracks.js";
import { syncAudio } from "./remote-audio.js";
import { forgetView, sendView, startView } from "./view.js";
import { askIceRestart, forgetRestarts, watchConnection, watchNetwork } from "./subscriber-ice.js";

export { receivingFirst } from "./subscriber-ice.js";

const CANDIDATE_QUEUE_LIMIT = 64;
const VIEW_RETRY_MS = 5000;
// An answer still not made by then (a browser stuck in createAnswer on a starved machine) no longer
// holds back the offers after it: meetkit subscribes afresh after 30 s, on a new connection.
const ANSWER_LIMIT_MS = 15000;

export const subs = {
  pc: null,                 // the subscriber RTCPeerConnection, null until the first offer
  streams: new Map(),       // mid → Stream {mid, type, participant_id, feed, kind, slot}
  chain: Promise.resolve(), // offers are answered in the order they came
  answered: false,          // our answer to the current offer is sent: candidates may follow it
  candidates: [],           // our candidates gathered before the answer was sent
  unsentAnswer: null,       // an answer the socket could not take (reconnecting): sent on resume
  lastAnswer: null,         // our last answer, sent again if meetkit sends its offer again (`offer` id)
  newest: 0,                // the highest `offer` number received: older ones still queued are not answered
  answering: false,         // an offer is being answered (answer())
  stuck: null,              // a connection whose answer ran out of time: never used again (below)
};

/** Which feed each received m-line shows, for the tests and bench (docs/ui.md "window.__meetkit"). */
export function subscriberByFeed() {
  const out = new Map();
  if (!subs.pc) return out;
  for (const s of subs.streams.values()) if (feedId(s.feed) !== null) out.set(s.feed, subs.pc);
  return out;
}

function versionOf(sdp) {
  // o=<user> <session id> <version>: Janus counts the version up in each offer of one subscriber
  // handle (renegotiations, ICE restarts) and starts again at 1 on a new handle. (Its session id is
  // not stable across renegotiations, so it cannot tell them apart.)
  const m = typeof sdp === "string" ? sdp.match(/^o=\S+ \S+ (\d+)/m) : null;
  return m ? Number(m[1]) : 0;
}

function usable(pc) {
  return pc && pc.signalingState === "stable" && pc.connectionState !== "closed";
}

function setStreams(list) {
  if (!Array.isArray(list)) return;
  subs.streams = new Map();
  for (const s of list) if (s && typeof s.mid === "string") subs.streams.set(s.mid, s);
}

/** `media.streams`: an audio slot now carries someone else (a `switch`, no new SDP). */
export function onStreams(msg) {
  setStreams(msg.streams);
  refreshStreams();
}

function newPeer() {
  closeSubscriber();
  const pc = newPeerConnection();
  subs.pc = pc;
  // During answer() (every offer), its own refresh comes once the answer is sent.
  pc.addEventListener("track", () => { if (subs.pc === pc && !subs.answering) refreshStreams(); });
  pc.addEventListener("icecandidate", (event) => { if (subs.pc === pc) trickle(event.candidate); });
  pc.addEventListener("connectionstatechange", () => { if (subs.pc === pc) watchConnection(pc); });
  return pc;
}

/**
 * `media.offer`. Only the newest offer is worth answering: meetkit keeps one outstanding, so an older
 * one still queued was replaced (meetkit gave up waiting and subscribed afresh), and one received
 * again is a re-send (a view sent while it waited, a resume). On a starved machine each answer took
 * seconds; answering the superseded ones too made a page fall further behind with every offer.
 */
export function onSubscribeOffer(msg) {
  const id = Number.isInteger(msg.offer) ? msg.offer : null;
  // An offer made while meetkit was still admitting us can arrive before `admitted`: not answered,
  // and not counted either, so that meetkit's re-send of it (it comes with our first view) is.
  if (!joined()) return subs.chain;
  if (id !== null) {
    if (id === subs.lastAnswer?.offer && usable(subs.pc)) {
      send(subs.lastAnswer);  // meetkit did not get our answer (the socket dropped it)
      return subs.chain;
    }
    // Offer 1 after later ones: the server counts afresh (a node that took the meeting over).
    const recounted = id === 1 && subs.newest > 1;
    if (id <= subs.newest && !recounted) return subs.chain;  // queued or being answered already, or older
    subs.newest = id;
  }
  subs.chain = subs.chain.then(async () => {
    if (id !== null && id < subs.newest) return;
    try {
      await withinLimit(answer(msg));
    } catch (err) {
      console.error("meetkit: subscriber offer", err);
      // Chromium runs a connection's operations one after another: one that hangs holds every later
      // one on it, so the next offer (a re-send, or meetkit's fresh subscription) needs a new connection.
      // (The offers are answered one at a time, so subs.pc is the connection answer() was working on.)
      if (err === TOO_LATE) subs.stuck = subs.pc;
      if (id !== null && subs.newest === id) subs.newest = id - 1;  // a re-send of it is tried again
    }
  });
  return subs.chain;
}

const TOO_LATE = new Error(`no answer made within ${ANSWER_LIMIT_MS} ms`);

function withinLimit(work) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(TOO_LATE), ANSWER_LIMIT_MS);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

async function answer(msg) {
  if (typeof msg.sdp !== "string" || !joined()) return;
  let pc = subs.pc;
  // A renegotiation or an ICE restart of the same Janus handle goes on the same connection; the first
  // offer of a new subscriber handle needs a new one (a new DTLS session).
  if (!usable(pc) || pc === subs.stuck || versionOf(msg.sdp) <= versionOf(pc.remoteDescription?.sdp)) pc = newPeer();
  setStreams(msg.streams);
  subs.answering = true;
  try {
    try {
      await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
    } catch (err) {
      if (subs.pc !== pc || pc.remoteDescription === null) throw err;
      console.warn("meetkit: offer does not fit the subscriber connection, starting over", err);
      pc = newPeer();
      await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
    }
    subs.answered = false;
    await pc.setLocalDescription(await pc.createAnswer());
    if (subs.pc !== pc) return;
    // The answer goes before the tiles are drawn: ICE and the first keyframe wait for it, and the
    // drawing (new video elements, layout) took tens of ms on a busy page (bench/join.py).
    const reply = { type: "media.answer", sdp: pc.localDescription.sdp, trickle: true, offer: msg.offer };
    subs.lastAnswer = reply;
    subs.unsentAnswer = send(reply) ? null : reply;
    if (!subs.unsentAnswer) flushCandidates();
  } finally {
    subs.answering = false;
  }
  if (subs.pc === pc) refreshStreams();
}

// ---------------------------------------------------------------- trickle ICE (our answer's candidates)

function trickle(candidate) {
  // Chromium ends each generation with an empty candidate string; null is the end of gathering.
  if (candidate && !candidate.candidate) return;
  const c = candidate
    ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? undefined, sdpMLineIndex: candidate.sdpMLineIndex ?? undefined }
    : null;
  if (!subs.answered) {
    if (subs.candidates.length < CANDIDATE_QUEUE_LIMIT) subs.candidates.push(c);
    return;
  }
  send({ type: "media.candidate", target: "subscriber", candidate: c });
}

function flushCandidates() {
  subs.answered = true;
  const queued = subs.candidates;
  subs.candidates = [];
  for (const c of queued) send({ type: "media.candidate", target: "subscriber", candidate: c });
}

/** A Janus candidate for the subscriber connection (`media.candidate`, target "subscriber"). */
export function onSubscriberCandidate(msg) {
  const pc = subs.pc;
  if (!pc || pc.connectionState === "closed" || !pc.remoteDescription) return;
  pc.addIceCandidate(msg.candidate || null).catch((err) => console.warn("meetkit: remote candidate", err));
}

// ---------------------------------------------------------------- tracks by mid → tiles and audio

/** Rebuilds the per-feed video streams and the audio players from the transceivers, by mid. */
function refreshStreams() {
  const pc = subs.pc;
  const byMid = new Map();
  if (pc) for (const tr of pc.getTransceivers()) if (tr.mid !== null && !tr.stopped) byMid.set(tr.mid, tr.receiver.track);
  const self = store.state.session.participantId;
  const old = store.state.media.streams;
  const next = new Map();
  const audio = [];
  for (const s of subs.streams.values()) {
    const track = byMid.get(s.mid);
    if (!track) continue;
    if (s.type === "audio") {
      if (s.participant_id !== self) audio.push({ mid: s.mid, track, participantId: s.participant_id });
      continue;
    }
    const feed = feedId(s.feed);
    if (feed === null) continue;
    // The same stream object while the feed keeps its track, so the tile does not re-attach it.
    const prev = old.get(feed);
    next.set(feed, prev && prev.getTracks().length === 1 && prev.getTracks()[0] === track ? prev : new MediaStream([track]));
  }
  const same = next.size === old.size && [...next].every(([feed, stream]) => old.get(feed) === stream);
  if (!same) dispatch({ type: STREAMS_CHANGED, streams: next });
  syncAudio(audio);
}

// ---------------------------------------------------------------- the feature's life

/** What to receive follows the page, the people and the tile sizes on its own. */
export function watchSubscriptions() {
  startView();
  watchNetwork(() => subs.pc);
}

/** Admitted, resumed or reset: say what we show (again), and repair what the socket drop cost. */
export function reconcileSubscriptions() {
  if (!joined()) return;
  if (subs.unsentAnswer && send(subs.unsentAnswer)) {
    subs.unsentAnswer = null;
    flushCandidates();
  }
  sendView(true);
  const state = subs.pc?.connectionState;
  if (state === "failed" || state === "disconnected") askIceRestart({ minGapMs: 0 });
}

/** A `media.error` about receiving: the view is said again a little later. */
export function onSubscribeError(msg) {
  console.warn("meetkit: subscription", msg.code, msg.message);
  forgetView();
  setTimeout(() => sendView(true), VIEW_RETRY_MS);
}

function closeSubscriber() {
  forgetRestarts();
  closePeer(subs.pc);
  subs.pc = null;
  subs.streams = new Map();
  subs.answered = false;
  subs.candidates = [];
  subs.unsentAnswer = null;
  subs.lastAnswer = null;
  if (store.state.media.streams.size) dispatch({ type: STREAMS_CHANGED, streams: new Map() });
  syncAudio([]);
}

/** `media.reset`, leaving, a new participant after a lost resume: everything received is dropped. */
export function closeSubscribers() {
  closeSubscriber();
  subs.newest = 0;  // a new participant's offers count from 1 again
  forgetView();
}
