// Exactly one screen shown, and what the end screens say.
import { store } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $, $$ } from "../../dom.js";

const SCREENS = { prejoin: "prejoin", connecting: "connecting", lobby: "lobby", joined: "meeting",
  denied: "denied", removed: "removed", ended: "ended", left: "left" };
const DENIED = { host_denied: "deniedHostDenied", locked: "deniedLocked", full: "deniedFull", ended: "deniedEnded",
  lobby_full: "deniedLobbyFull" };

export function drawSession() {
  watch(store, ["session"], ({ session }) => {
    document.body.dataset.state = session.state;
    document.body.dataset.role = session.role;
    const screen = SCREENS[session.state];
    for (const el of $$(".screen")) el.hidden = el.id !== screen;
    const key = DENIED[session.deniedReason];
    $("#denied-reason").textContent = key ? t(key) : "";
    $("#left-text").textContent = session.leftText;
    if (session.state === "ended") {
      $("#ended-title").textContent = t(session.notFound ? "notFoundTitle" : "endedTitle");
      $("#ended-text").textContent = t(session.notFound ? "notFoundText" : "endedText");
    }
  });
}
