// Everyone's sound, apart from the tiles: one hidden <audio> per audio m-line of the subscriber
// connection, so people are heard whichever page is shown (videos are muted; they carry no audio).
import { store, dispatch } from "../../core.js";
import { t } from "../../i18n.js";
import { $$, toast } from "../../dom.js";
import { SOUND_BLOCKED } from "./state.js";

const players = new Map();  // mid → <audio>

function container() {
  let box = document.getElementById("remote-audio");
  if (!box) {
    box = document.createElement("div");
    box.id = "remote-audio";
    box.hidden = true;
    document.body.append(box);
  }
  return box;
}

function play(el) {
  el.muted = store.state.media.soundBlocked;
  el.play().catch((err) => {
    if (err && err.name === "NotAllowedError") soundBlocked();
  });
}

/** [{mid, track, participantId}]: the audio to play now; players for other mids are removed. */
export function syncAudio(list) {
  const keep = new Set();
  for (const { mid, track, participantId } of list) {
    keep.add(mid);
    let el = players.get(mid);
    if (!el) {
      el = document.createElement("audio");
      el.autoplay = true;
      el.dataset.mid = mid;
      players.set(mid, el);
      container().append(el);
    }
    el.dataset.participantId = participantId || "";
    if (el.srcObject?.getTracks()[0] !== track) {
      el.srcObject = new MediaStream([track]);
      play(el);
    }
  }
  for (const [mid, el] of players) {
    if (keep.has(mid)) continue;
    el.srcObject = null;
    el.remove();
    players.delete(mid);
  }
}

// The browser refused to play remote sound before the page got a click: play muted, offer a button.
function soundBlocked() {
  if (store.state.media.soundBlocked) return;
  dispatch({ type: SOUND_BLOCKED, blocked: true });
  for (const el of $$("#remote-audio audio")) { el.muted = true; el.play().catch(() => {}); }
  toast(t("enableSound"), {
    sticky: true,
    action: t("enableSound"),
    onAction: () => {
      dispatch({ type: SOUND_BLOCKED, blocked: false });
      for (const el of $$("#remote-audio audio")) { el.muted = false; el.play().catch(() => {}); }
    },
  });
}
