// The subscriber connection's ICE: restarted without leaving the meeting when it fails, stays
// disconnected, or the network changes; and, joining, the wait for it to come up (receivingFirst).
// The connection is subscriptions.js's; watchNetwork() tells this module how to find it.
import { store, send } from "../../core.js";
import { feedId } from "./state.js";
import { joined } from "./tracks.js";

// "disconnected" often heals by itself within a few seconds (a lost packet burst); "failed" does not.
const DISCONNECTED_GRACE_MS = 3000;
// An ICE restart that has not brought the connection back by then is asked for again.
const RESTART_RETRY_MS = 8000;
// Two network events (online + connection change) for one move are one restart.
const NETWORK_COALESCE_MS = 1000;
// Joining, the page's own camera waits this long at most for the subscriber connection to come up.
const RECEIVE_FIRST_MS = 1500;

const ice = {
  current: () => null,      // the subscriber RTCPeerConnection now
  restartAskedAt: 0,
  restartTimer: null,
  disconnectTimer: null,
  onConnected: [],          // receivingFirst()'s waiters
};

/** The connection state of the current subscriber connection `pc` changed. */
export function watchConnection(pc) {
  clearTimeout(ice.disconnectTimer);
  if (pc.connectionState === "failed") askIceRestart();
  else if (pc.connectionState === "disconnected") {
    ice.disconnectTimer = setTimeout(() => {
      if (ice.current() === pc && pc.connectionState === "disconnected") askIceRestart();
    }, DISCONNECTED_GRACE_MS);
  } else if (pc.connectionState === "connected") {
    clearTimeout(ice.restartTimer);
    ice.restartAskedAt = 0;
    settleReceiving();
  }
}

function settleReceiving() {
  const waiters = ice.onConnected;
  ice.onConnected = [];
  for (const resolve of waiters) resolve();
}

/**
 * Resolves once the subscriber connection is up, or after RECEIVE_FIRST_MS, or at once when `others`
 * (the participants met on admission) publish nothing. Joining, the page's own camera starts after
 * this: starting a three-layer encoder while the first offer is answered, ICE checked and the first
 * frame decoded made the first remote frame wait for the CPU (bench/join.py).
 */
export function receivingFirst(others) {
  const self = store.state.session.participantId;
  const incoming = (others || []).some((p) => p.participant_id !== self
    && (feedId(p.feeds?.camera) !== null || feedId(p.feeds?.screen) !== null));
  if (!incoming || ice.current()?.connectionState === "connected") return Promise.resolve();
  return new Promise((resolve) => {
    ice.onConnected.push(resolve);
    setTimeout(resolve, RECEIVE_FIRST_MS);
  });
}

/** Asks meetkit for an ICE-restart offer on our subscriber (same handle, same streams). */
export function askIceRestart({ minGapMs = RESTART_RETRY_MS } = {}) {
  const pc = ice.current();
  if (!pc || pc.connectionState === "closed" || !joined()) return;
  if (Date.now() - ice.restartAskedAt < minGapMs) return;
  if (!send({ type: "media.ice_restart", target: "subscriber" })) return;  // asked again on resume
  ice.restartAskedAt = Date.now();
  clearTimeout(ice.restartTimer);
  ice.restartTimer = setTimeout(() => {
    if (ice.current() === pc && pc.connectionState !== "connected" && pc.connectionState !== "closed") askIceRestart();
  }, RESTART_RETRY_MS);
}

/** The subscriber connection is closed: its timers go. */
export function forgetRestarts() {
  clearTimeout(ice.restartTimer);
  clearTimeout(ice.disconnectTimer);
  ice.restartAskedAt = 0;
}

/** From now on, a network change restarts the ICE of the connection `current()` returns. */
export function watchNetwork(current) {
  ice.current = current;
  // The path the media took may be gone while the state still says "connected" for seconds.
  const onNetworkChange = () => askIceRestart({ minGapMs: NETWORK_COALESCE_MS });
  navigator.connection?.addEventListener?.("change", onNetworkChange);
  window.addEventListener("online", onNetworkChange);
}
