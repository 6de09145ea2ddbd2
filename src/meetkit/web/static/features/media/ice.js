// ICE of our publishers: candidates trickled as `media.candidate` (so an offer goes at once instead of
// after gathering), and when to restart ICE (network change, `failed`, `disconnected` for a while).
// docs/ui.md "Media".
import { send } from "../../core.js";

const DISCONNECTED_LIMIT_MS = 4000;  // Chromium says "disconnected" for brief losses too: wait first

/**
 * Sends `pc`'s candidates for `target`, but only after the offer they belong to: held from `hold()`
 * (before each setLocalDescription) until `release()` (once `media.publish` is sent).
 */
export function trickleFrom(pc, target) {
  let held = [];
  let holding = true;
  const out = (candidate) => send({ type: "media.candidate", target, candidate });
  pc.addEventListener("icecandidate", (event) => {
    const c = event.candidate;
    // An empty candidate is one m-line's end (older browsers); the null that follows says it all.
    if (c && !c.candidate) return;
    const candidate = c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : null;
    if (holding) held.push(candidate);
    else out(candidate);
  });
  return {
    hold() { holding = true; held = []; },
    release() {
      holding = false;
      for (const candidate of held) out(candidate);
      held = [];
    },
  };
}

/** The offer as soon as it is set: its candidates follow through `trickleFrom`. */
export async function makeTrickleOffer(pc) {
  await pc.setLocalDescription(await pc.createOffer());
  return pc.localDescription.sdp;
}

/** Calls `restart()` when `pc` failed, or stayed disconnected for a while. */
export function watchConnection(pc, restart) {
  let timer = null;
  pc.addEventListener("connectionstatechange", () => {
    clearTimeout(timer);
    if (pc.connectionState === "failed") restart();
    else if (pc.connectionState === "disconnected") timer = setTimeout(() => {
      if (pc.connectionState === "disconnected") restart();
    }, DISCONNECTED_LIMIT_MS);
  });
}

/** Calls `changed()` when the device's network changes (another Wi-Fi, cable, VPN, back online). */
export function onNetworkChange(changed) {
  window.addEventListener("online", changed);
  navigator.connection?.addEventListener?.("change", changed);
}
