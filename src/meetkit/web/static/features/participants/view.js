// The participants panel: a row per participant, with the host's mute and remove on others' rows.
import { store, send } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $, button, icon, setBadge } from "../../dom.js";
import { participantIds } from "./state.js";

/** A state icon that says what it shows (role img + label); `label` null hides it from assistive tech. */
function stateIcon(id, className, label) {
  const svg = icon(id);
  svg.classList.add(className);
  if (label) {
    svg.removeAttribute("aria-hidden");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = label;
    svg.prepend(title);
  }
  return svg;
}

function row(p, state) {
  const { session, media, participants } = state;
  const id = p.participant_id;
  const self = id === session.participantId;
  const mic = self ? media.micOn && media.hasAudio : !!p.mic;
  const camera = self ? media.cameraOn && media.hasVideo : !!p.camera;
  const hand = self ? participants.hand : !!p.hand;
  const li = document.createElement("li");
  li.dataset.participantId = id;
  li.dataset.mic = mic ? "on" : "off";
  li.dataset.camera = camera ? "on" : "off";
  li.dataset.hand = hand ? "up" : "down";
  const name = document.createElement("span");
  name.className = "p-name";
  name.textContent = self ? `${p.name || session.name} ${t("you")}` : p.name || "";
  li.append(name);
  if (p.role === "host") {
    const badge = document.createElement("span");
    badge.className = "p-role";
    badge.textContent = t("host");
    li.append(badge);
  }
  const states = document.createElement("span");
  states.className = "p-states";
  const handEl = stateIcon("i-hand", "p-hand", hand ? t("handRaised") : null);
  const micEl = stateIcon(mic ? "i-mic" : "i-mic-off", "p-mic", t(mic ? "micIsOn" : "micIsOff"));
  micEl.classList.add(mic ? "on" : "off");
  const camEl = stateIcon(camera ? "i-cam" : "i-cam-off", "p-camera", t(camera ? "camIsOn" : "camIsOff"));
  camEl.classList.add(camera ? "on" : "off");
  states.append(handEl, micEl, camEl);
  li.append(states);
  if (session.role === "host" && !self) {
    const mute = button("mute", t("mute"));
    mute.disabled = !mic;
    mute.addEventListener("click", () => send({ type: "host.mute", participant_id: id }));
    const remove = button("remove", t("remove"));
    remove.addEventListener("click", () => confirmRemove(id, p.name || ""));
    li.append(mute, remove);
  }
  return li;
}

/** Remove is not undone by a click: the host confirms it, naming who goes. */
function confirmRemove(id, name) {
  const dialog = $("#remove-dialog");
  if (!dialog.showModal) { send({ type: "host.remove", participant_id: id }); return; }
  $("#remove-text").textContent = t("removeConfirm", { name });
  dialog.dataset.participantId = id;
  dialog.returnValue = "";
  dialog.showModal();
}

export function startRemoveDialog() {
  const dialog = $("#remove-dialog");
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "remove" && dialog.dataset.participantId) {
      send({ type: "host.remove", participant_id: dialog.dataset.participantId });
    }
    delete dialog.dataset.participantId;
  });
}

export function drawParticipants() {
  // Talking changes nothing here; only redraw when what a row shows has changed.
  let last = null;
  watch(store, ["participants", "media", "session", "host"], (state) => {
    const { participants, session, media, host } = state;
    const key = [participants.byId, participants.hand, session, media.micOn, media.cameraOn, media.hasVideo, host.waiting];
    if (last && key.every((x, i) => x === last[i])) return;
    last = key;
    const rows = [];
    const ids = participantIds(state);
    const up = (id) => (id === session.participantId ? participants.hand : !!participants.byId.get(id)?.hand);
    for (const id of [...ids.filter(up), ...ids.filter((id) => !up(id))]) {  // raised hands first
      const p = participants.byId.get(id);
      if (p) rows.push(row(p, state));
    }
    $("#participant-list").replaceChildren(...rows);
    $("#participants-title").textContent = t("participantsN", { n: participants.byId.size });
    const hands = [...participants.byId.values()].filter((p) => p.hand).length;
    setBadge($("#btn-participants"), session.role === "host" ? host.waiting.length + hands : hands);
  });
}
