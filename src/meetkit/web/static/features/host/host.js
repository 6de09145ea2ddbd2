// The host's tools: the waiting room (admit / deny), admit all, mute all, the lock.
import { store, dispatch, send } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $, button, toast } from "../../dom.js";
import { LOCK_CHANGED, WAITING_CHANGED } from "./state.js";

const MAX_KNOCK_TOASTS = 3;  // more newcomers at once get one toast with their number

/** `lobby.update`: the whole list (`waiting`, when we joined or resumed), or coalesced deltas: `added`
 * replaces or adds by participant_id, `removed` drops ids (unknown ones are ignored). */
export function onLobbyUpdate(msg) {
  const byId = new Map(Array.isArray(msg.waiting) ? [] : store.state.host.waiting.map((w) => [w.participant_id, w]));
  const before = new Set(store.state.host.waiting.map((w) => w.participant_id));
  const incoming = [...(Array.isArray(msg.waiting) ? msg.waiting : []), ...(Array.isArray(msg.added) ? msg.added : [])];
  for (const w of incoming) if (w && w.participant_id) byId.set(w.participant_id, w);
  for (const id of Array.isArray(msg.removed) ? msg.removed : []) byId.delete(id);
  const waiting = [...byId.values()];
  dispatch({ type: WAITING_CHANGED, waiting });
  const fresh = waiting.filter((w) => !before.has(w.participant_id));
  if (fresh.length > MAX_KNOCK_TOASTS) toast(t("severalWaiting", { n: fresh.length }));
  else for (const w of fresh) toast(t("someoneWaiting", { name: w.name || "" }));
}

export function onLocked(msg) {
  const locked = !!msg.locked;
  if (locked === store.state.host.locked) return;
  dispatch({ type: LOCK_CHANGED, locked });
  if (store.state.session.state === "joined") toast(t(locked ? "meetingLocked" : "meetingUnlocked"));
}

function drawWaiting({ host, session }) {
  const rows = host.waiting.map((w) => {
    const li = document.createElement("li");
    li.dataset.participantId = w.participant_id;
    const name = document.createElement("span");
    name.className = "w-name";
    name.textContent = w.name || "";
    const admit = button("admit primary small", t("admit"));
    admit.addEventListener("click", () => send({ type: "host.admit", participant_id: w.participant_id }));
    const deny = button("deny small", t("deny"));
    deny.addEventListener("click", () => send({ type: "host.deny", participant_id: w.participant_id }));
    li.append(name);
    if (w.reason === "removed_before") {
      // A host removed this browser earlier in the session: the host decides knowing it.
      const note = document.createElement("span");
      note.className = "w-removed";
      note.textContent = t("removedBefore");
      li.append(note);
    }
    li.append(admit, deny);
    return li;
  });
  $("#waiting-list").replaceChildren(...rows);
  $("#waiting-title").textContent = t("waitingN", { n: host.waiting.length });
  $("#waiting").hidden = session.role !== "host" || host.waiting.length === 0 || session.state !== "joined";
}

export function drawHost() {
  let drawn = null;
  watch(store, ["host", "session"], (state) => {
    if (drawn && drawn.host.waiting === state.host.waiting && drawn.session.role === state.session.role
      && drawn.session.state === state.session.state) return;
    drawn = state;
    drawWaiting(state);
  });
  $("#mute-all").addEventListener("click", () => send({ type: "host.mute_all" }));
  $("#btn-lock").addEventListener("click", () => send({ type: "host.lock", locked: !store.state.host.locked }));
  $("#admit-all").addEventListener("click", () => send({ type: "host.admit_all" }));
  // The waiting card folds to its title (the count goes on), so a long lobby does not cover the grid.
  $("#waiting-toggle").addEventListener("click", () => {
    const toggle = $("#waiting-toggle");
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    const label = t(open ? "collapse" : "expand");
    toggle.setAttribute("aria-label", label);
    toggle.title = label;
    $("#waiting").classList.toggle("collapsed", !open);
  });
}
