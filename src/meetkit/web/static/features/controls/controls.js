// The control bar: each button's state drawn from the store, each click an action.
import { store, dispatch, send, chatAvailable } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $, $$, setBadge } from "../../dom.js";
import { PANEL_SET } from "./state.js";
import { HAND_SET } from "../participants/state.js";
import { toggleCamera, toggleMic } from "../media/local.js";
import { pub, startScreen, stopScreen } from "../media/publisher.js";
import { leave } from "../session/actions.js";
import { layout, toggleView } from "../grid/view.js";

function setToggle(btn, pressed, label) {
  btn.setAttribute("aria-pressed", String(pressed));
  btn.classList.toggle("off", !pressed);
  btn.title = label;
  btn.setAttribute("aria-label", label);
  const l = btn.querySelector(".label");
  if (l) l.textContent = label;
}

function drawControls(state) {
  const { media, participants, recording, grid, host, controls, chat } = state;
  const cameraOn = media.cameraOn && media.hasVideo;
  setToggle($("#btn-mic"), media.micOn, t(media.micOn ? "mute" : "unmute"));
  setToggle($("#btn-camera"), cameraOn, t(cameraOn ? "cameraOff" : "cameraOn"));
  setToggle($("#btn-screen"), media.screenSharing, t(media.screenSharing ? "stopSharing" : "shareScreen"));
  setToggle($("#btn-hand"), participants.hand, t(participants.hand ? "lowerHand" : "raiseHand"));
  setToggle($("#btn-record"), recording.active, t(recording.active ? "stopRecording" : "record"));
  setToggle($("#btn-view"), grid.view === "round", t(grid.view === "round" ? "gridView" : "roundTableView"));
  setToggle($("#btn-lock"), host.locked, t(host.locked ? "unlockMeeting" : "lockMeeting"));
  for (const b of [$("#btn-screen"), $("#btn-hand"), $("#btn-record"), $("#btn-view"), $("#btn-lock")]) {
    b.classList.remove("off");
    b.classList.toggle("active", b.getAttribute("aria-pressed") === "true");
  }
  $("#btn-chat").setAttribute("aria-pressed", String(controls.openPanel === "chat"));
  $("#btn-participants").setAttribute("aria-pressed", String(controls.openPanel === "participants"));
  for (const id of ["#btn-chat", "#btn-participants", "#btn-leave", "#btn-end"]) {
    const b = $(id);
    const label = b.querySelector(".label").textContent;
    b.title = label;
    b.setAttribute("aria-label", label);
  }
  setBadge($("#btn-chat"), chat.unread);
}

export function togglePanel(name, open = store.state.controls.openPanel !== name) {
  if (name === "chat" && !chatAvailable) return;
  const current = store.state.controls.openPanel;
  dispatch({ type: PANEL_SET, panel: open ? name : current === name ? null : current });
}

function drawPanels({ controls }) {
  $("#chat").hidden = controls.openPanel !== "chat";
  $("#participants").hidden = controls.openPanel !== "participants";
  if (controls.openPanel === "chat") {
    const list = $("#chat-messages");
    list.scrollTop = list.scrollHeight;
    $("#chat-input").focus();
  }
  requestAnimationFrame(() => layout());
}

function toggleHand() {
  const raised = !store.state.participants.hand;
  dispatch({ type: HAND_SET, raised });
  send({ type: "hand", raised });
}

export function startControls() {
  watch(store, ["media", "participants", "recording", "grid", "host", "controls", "chat"], drawControls);
  let panel;
  watch(store, ["controls"], (state) => {
    if (state.controls.openPanel === panel) return;
    panel = state.controls.openPanel;
    drawPanels(state);
  });
  $("#btn-mic").addEventListener("click", toggleMic);
  $("#btn-camera").addEventListener("click", toggleCamera);
  $("#btn-screen").addEventListener("click", () => (pub.screenStream ? stopScreen() : startScreen()));
  $("#btn-hand").addEventListener("click", toggleHand);
  $("#btn-record").addEventListener("click", () => send({ type: "host.record", active: !store.state.recording.active }));
  $("#btn-chat").addEventListener("click", () => togglePanel("chat"));
  $("#btn-participants").addEventListener("click", () => togglePanel("participants"));
  $("#btn-view").addEventListener("click", toggleView);
  $("#btn-leave").addEventListener("click", leave);
  $("#lobby-leave").addEventListener("click", leave);
  $("#rejoin").addEventListener("click", () => location.reload());
  $("#btn-end").addEventListener("click", () => {
    const dialog = $("#end-dialog");
    if (dialog.showModal) dialog.showModal(); else send({ type: "host.end" });
  });
  $("#end-dialog").addEventListener("close", () => {
    if ($("#end-dialog").returnValue === "end") send({ type: "host.end" });
  });
  for (const b of $$(".panel-close")) b.addEventListener("click", () => togglePanel(b.dataset.panel, false));
}
