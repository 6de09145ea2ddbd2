// The pre-join screen: name, preview, device choice. State: the media slice (what is on, what the
// devices gave); the rendering below only reads it.
import { store, dispatch, runtime, config } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $ } from "../../dom.js";
import { LocalMedia } from "../../media.js";
import { CAMERA_SET, DEVICES_CHECKED, MIC_SET } from "../media/state.js";
import { syncTracks } from "../media/tracks.js";
import { retryDevices, showLocalVideo, switchCamera, switchMic, toggleCamera, toggleMic } from "../media/local.js";
import { deviceNotice, drawMicToggle, drawCameraToggle } from "../media/devices.js";
import { join, savedName } from "../session/actions.js";

/** Asks for the devices; resolves when they answered (Join waits for it). */
export function startPrejoin() {
  const nameInput = $("#name");
  nameInput.value = savedName();
  const updateJoin = () => { $("#join").disabled = !nameInput.value.trim(); };
  nameInput.addEventListener("input", updateJoin);
  updateJoin();

  const micOn = config.initial_join_options?.microphone_state !== "off";
  dispatch({ type: MIC_SET, on: micOn });
  runtime.local.setMicEnabled(micOn);

  const acquiring = runtime.local.acquire({ audio: true, video: true }).then((problems) => {
    const { local } = runtime;
    dispatch({ type: DEVICES_CHECKED, mic: local.audioTrack ? null : problems.mic,
      camera: local.videoTrack ? null : problems.camera });
    syncTracks();
    if (!local.videoTrack) dispatch({ type: CAMERA_SET, on: false });
    if (local.audioTrack) runtime.detector.attach(local.audioTrack);
    return fillDevices();
  });
  navigator.mediaDevices?.addEventListener?.("devicechange", () => fillDevices());

  $("#prejoin-mic").addEventListener("click", toggleMic);
  $("#prejoin-camera").addEventListener("click", toggleCamera);
  $("#prejoin-retry").addEventListener("click", retryDevices);
  $("#camera-select").addEventListener("change", (e) => switchCamera(e.target.value));
  $("#mic-select").addEventListener("change", (e) => switchMic(e.target.value));
  $("#prejoin-form").addEventListener("submit", (e) => { e.preventDefault(); join(); });
  if (!nameInput.value) nameInput.focus();
  return acquiring;
}

async function fillDevices() {
  const { cameras, mics } = await LocalMedia.devices();
  fillSelect($("#camera-select"), cameras, runtime.local.camId, "cameraN");
  fillSelect($("#mic-select"), mics, runtime.local.micId, "microphoneN");
}

function fillSelect(select, devices, current, labelKey) {
  select.replaceChildren();
  if (!devices.length) {
    select.append(new Option(t("deviceNone"), ""));
    select.disabled = true;
    return;
  }
  select.disabled = false;
  devices.forEach((d, i) => select.append(new Option(d.label || t(labelKey, { n: i + 1 }), d.deviceId)));
  if (current && devices.some((d) => d.deviceId === current)) select.value = current;
}

export function drawPrejoin() {
  watch(store, ["media", "session"], (state) => {
    const { media, session } = state;
    drawMicToggle($("#prejoin-mic"), state);
    drawCameraToggle($("#prejoin-camera"), state);
    const preview = $("#preview");
    if (session.state === "prejoin" || session.state === "connecting") showLocalVideo(preview);
    else preview.srcObject = null;
    $("#preview-off").hidden = media.cameraOn && media.hasVideo;
    const notice = deviceNotice(state, true);
    $("#prejoin-message").textContent = notice ? notice.text : "";
    $("#prejoin-retry").hidden = !notice?.retry;
    $("#prejoin-notice").hidden = !notice;
  });
}

/** The microphone level bar of the preview. */
export function showLevel(level) {
  const bar = $("#preview-level span");
  if (bar && store.state.session.state === "prejoin") bar.style.width = `${Math.round(level * 100)}%`;
}
