// Receiving: one RTCPeerConnection per remote feed. The wanted feeds are the cameras on the
// visible page and every screen share; they are reconciled whenever the page or the people change.
import { store, dispatch, runtime, send, rtcConfig } from "../../core.js";
import { watch } from "../../store.js";
import { answerOffer, closePeer } from "../../media.js";
import { visiblePage } from "../grid/state.js";
import { STREAMS_CHANGED, feedId } from "./state.js";
import { joined } from "./tracks.js";

const SUBSCRIBE_RETRY_MS = 5000;

export const subs = {
  peers: new Map(),        // feed → RTCPeerConnection
  pending: new Set(),      // feeds asked for, offer not yet in
  failed: new Map(),       // feed → when to ask again after a media.error
};

function setStream(feed, stream) {
  const streams = new Map(store.state.media.streams);
  if (stream) streams.set(feed, stream); else if (!streams.delete(feed)) return;
  dispatch({ type: STREAMS_CHANGED, streams });
}

/** The feeds to receive: cameras on the visible page and every screen share. */
function wantedFeeds(state) {
  const self = state.session.participantId;
  const { byId } = state.participants;
  const feeds = new Set();
  for (const id of visiblePage(state).ids) {
    if (id === self) continue;
    const feed = feedId(byId.get(id)?.feeds?.camera);
    if (feed !== null) feeds.add(feed);
  }
  for (const p of byId.values()) {
    if (p.participant_id === self) continue;
    const feed = feedId(p.feeds?.screen);
    if (feed !== null) feeds.add(feed);
  }
  return feeds;
}

export function reconcileSubscriptions() {
  if (!joined() || !runtime.sig?.isOpen) return;
  const want = wantedFeeds(store.state);
  for (const feed of [...subs.peers.keys()]) if (!want.has(feed)) dropSubscriber(feed, true);
  for (const feed of [...subs.pending]) {
    if (!want.has(feed)) {
      send({ type: "media.unsubscribe", feed });
      subs.pending.delete(feed);
    }
  }
  const now = Date.now();
  for (const [feed, retryAt] of subs.failed) if (retryAt <= now || !want.has(feed)) subs.failed.delete(feed);
  for (const feed of want) {
    if (subs.peers.has(feed) || subs.pending.has(feed) || subs.failed.has(feed)) continue;
    if (send({ type: "media.subscribe", feed })) subs.pending.add(feed);
  }
}

/** Subscriptions follow the page, the people and the session on their own. */
export function watchSubscriptions() {
  watch(store, ["session", "participants", "grid"], reconcileSubscriptions);
}

export function dropSubscriber(feed, unsubscribe) {
  const pc = subs.peers.get(feed);
  if (unsubscribe && (pc || subs.pending.has(feed))) send({ type: "media.unsubscribe", feed });
  closePeer(pc);
  subs.peers.delete(feed);
  subs.pending.delete(feed);
  setStream(feed, null);
}

export async function onSubscribeOffer(msg) {
  const feed = feedId(msg.feed);
  if (feed === null || typeof msg.sdp !== "string") return;
  if (!joined() || !wantedFeeds(store.state).has(feed)) {
    // Paged away (or left) while the offer was on its way.
    subs.pending.delete(feed);
    if (!subs.peers.has(feed)) send({ type: "media.unsubscribe", feed });
    return;
  }
  subs.pending.delete(feed);
  let pc = subs.peers.get(feed);
  const renegotiate = pc && pc.signalingState === "stable" && pc.connectionState !== "failed"
    && pc.connectionState !== "closed" && sameIceUfrag(pc.remoteDescription?.sdp, msg.sdp);
  if (!renegotiate) {
    closePeer(pc);
    const peer = new RTCPeerConnection(rtcConfig());
    pc = peer;
    subs.peers.set(feed, peer);
    peer.addEventListener("track", (event) => {
      if (subs.peers.get(feed) !== peer) return;
      // A new stream object per track, so the tiles see the change and (re)attach it.
      const old = store.state.media.streams.get(feed);
      setStream(feed, new MediaStream([...(old ? old.getTracks() : []), event.track]));
    });
    peer.addEventListener("connectionstatechange", () => {
      if (peer.connectionState !== "failed" || subs.peers.get(feed) !== peer) return;
      dropSubscriber(feed, true);
      setTimeout(reconcileSubscriptions, 2000);
    });
  }
  const answer = await answerOffer(pc, msg.sdp);
  if (subs.peers.get(feed) !== pc) return;
  send({ type: "media.answer", feed, sdp: answer });
}

/** A `media.error` about a feed: often one that just went away; asked for again later. */
export function onSubscribeError(msg) {
  const feed = feedId(msg.feed);
  if (feed === null) return;
  subs.pending.delete(feed);
  dropSubscriber(feed, false);
  subs.failed.set(feed, Date.now() + SUBSCRIBE_RETRY_MS);
  setTimeout(reconcileSubscriptions, SUBSCRIBE_RETRY_MS + 50);
  console.warn("meetkit: subscribe", feed, msg.code, msg.message);
}

/** A feed announced (again) is live: a subscription that failed before may be asked for at once. */
export function forgetFailures(p) {
  for (const feed of [p.feeds?.camera, p.feeds?.screen]) if (feedId(feed) !== null) subs.failed.delete(feed);
}

export function closeSubscribers() {
  for (const feed of [...subs.peers.keys()]) dropSubscriber(feed, false);
  subs.pending.clear();
  subs.failed.clear();
}

function sameIceUfrag(a, b) {
  const ufrag = (sdp) => (typeof sdp === "string" ? (sdp.match(/a=ice-ufrag:(\S+)/) || [])[1] : undefined);
  const x = ufrag(a);
  return !!x && x === ufrag(b);
}
