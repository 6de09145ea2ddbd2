// The control bar: each button's state drawn from the store, each click an action.
import { store, dispatch, send, chatAvailable } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $, $$, setBadge } from "../../dom.js";
import { PANEL_SET } from "./state.js";
import { HAND_SET } from "../participants/state.js";
import { retryDevices, toggleCamera, toggleMic } from "../media/local.js";
import { deviceNotice, drawCameraToggle, drawMicToggle, drawToggle } from "../media/devices.js";
import { fitControls, startMoreMenu } from "./more.js";
import { pub, startScreen, stopScreen } from "../media/publisher.js";
import { leave } from "../session/actions.js";
import { layout, toggleSpeakerView, toggleView } from "../grid/view.js";

/** A toggle keeps one name; its state is `aria-pressed` (`aria-checked` while in the More menu). */
function setToggle(btn, pressed, name, title = name) {
  drawToggle(btn, { name, pressed, blocked: false, title });
  btn.classList.remove("off");
  btn.classList.toggle("active", pressed);
}

function setButton(btn, name) {
  btn.setAttribute("aria-label", name);
  btn.title = name;
}

let lastMicName = null;

function drawControls(state) {
  const { media, participants, recording, grid, host, controls, chat } = state;
  drawMicToggle($("#btn-mic"), state);
  drawCameraToggle($("#btn-camera"), state);
  setToggle($("#btn-screen"), media.screenSharing, t("shareScreen"), t(media.screenSharing ? "stopSharing" : "shareScreen"));
  setToggle($("#btn-hand"), participants.hand, t("raiseHand"), t(participants.hand ? "lowerHand" : "raiseHand"));
  setToggle($("#btn-record"), recording.active, t("record"), t(recording.active ? "stopRecording" : "record"));
  setToggle($("#btn-view"), grid.view === "round", t("roundTableView"));
  setToggle($("#btn-speaker"), grid.view === "speaker", t("speakerView"));
  setToggle($("#btn-fullscreen"), !!document.fullscreenElement, t("fullscreen"),
    t(document.fullscreenElement ? "exitFullscreen" : "fullscreen"));
  setToggle($("#btn-lock"), host.locked, t("lockMeeting"), t(host.locked ? "unlockMeeting" : "lockMeeting"));
  setToggle($("#btn-chat"), controls.openPanel === "chat", t("chat"));
  setToggle($("#btn-participants"), controls.openPanel === "participants", t("participants"));
  setButton($("#btn-leave"), t("leave"));
  setButton($("#btn-end"), t("endForAll"));
  setButton($("#btn-invite"), t("invite"));
  setButton($("#btn-more"), t("more"));
  setBadge($("#btn-chat"), chat.unread);
  if ($("#btn-mic").getAttribute("aria-label") !== lastMicName) {
    lastMicName = $("#btn-mic").getAttribute("aria-label");
    requestAnimationFrame(fitControls);  // "Microphone blocked" is wider
  }
  const notice = deviceNotice(state, false);
  const box = $("#device-notice");
  if (notice && notice.text !== box.dataset.dismissed) {
    $("#device-notice-text").textContent = notice.text;
    box.hidden = false;
  } else {
    box.hidden = true;
  }
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
  requestAnimationFrame(() => { layout(); fitControls(); });
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
  $("#btn-speaker").addEventListener("click", toggleSpeakerView);
  // Full screen: the whole meeting (in an iframe, embed.js's allow="fullscreen" lets it).
  $("#btn-fullscreen").hidden = !document.fullscreenEnabled;
  $("#btn-fullscreen").addEventListener("click", () => {
    const done = document.fullscreenElement ? document.exitFullscreen() : document.documentElement.requestFullscreen();
    done?.catch?.(() => {});
  });
  document.addEventListener("fullscreenchange", () => drawControls(store.state));
  $("#btn-leave").addEventListener("click", leave);
  $("#lobby-leave").addEventListener("click", leave);
  $("#rejoin").addEventListener("click", () => location.reload());
  // The end screens offer a way on: try again (the host may unlock, a place may free up), ask again
  // (a removed guest waits for the host's decision), or go back where the link came from.
  $("#denied-retry").addEventListener("click", () => location.reload());
  $("#removed-ask").addEventListener("click", () => location.reload());
  $("#ended-back").hidden = history.length < 2 || window.parent !== window;
  $("#ended-back").addEventListener("click", () => history.back());
  $("#btn-end").addEventListener("click", () => {
    const dialog = $("#end-dialog");
    if (dialog.showModal) dialog.showModal(); else send({ type: "host.end" });
  });
  $("#end-dialog").addEventListener("close", () => {
    if ($("#end-dialog").returnValue === "end") send({ type: "host.end" });
  });
  $("#device-retry").addEventListener("click", retryDevices);
  $("#device-notice-close").addEventListener("click", () => {
    const box = $("#device-notice");
    box.dataset.dismissed = $("#device-notice-text").textContent;
    box.hidden = true;
  });
  startMoreMenu();
  for (const b of $$(".panel-close")) b.addEventListener("click", () => togglePanel(b.dataset.panel, false));
}
