// Our microphone and camera: what the toggles and device choices do to the tracks and publisher.
import { store, dispatch, runtime } from "../../core.js";
import { t } from "../../i18n.js";
import { toast } from "../../dom.js";
import { MIC_SET, CAMERA_SET, VIDEO_ALLOWED, cameraLive } from "./state.js";
import { joined, syncTracks, sendMediaState } from "./tracks.js";
import { replaceSenderTrack, schedulePublishCamera } from "./publisher.js";
import { onLocalTalking } from "./talking.js";

export async function setMic(on) {
  const { local, detector } = runtime;
  if (on && !local.audioTrack) {
    const track = await local.startMic();
    if (!track) { toast(t("microphoneFailed")); return; }
    syncTracks();
    detector.attach(track);
    if (joined() && !(await replaceSenderTrack("audio", track))) schedulePublishCamera(true);
  }
  dispatch({ type: MIC_SET, on });
  local.setMicEnabled(on);
  if (!on) onLocalTalking(false);
  sendMediaState();
}

export async function setCamera(on) {
  const { local } = runtime;
  if (on) {
    const track = local.videoTrack || (await local.startCamera());
    if (!track) { toast(t("cameraFailed")); return; }
    dispatch({ type: CAMERA_SET, on: true });
    syncTracks();
    if (joined() && !(await replaceSenderTrack("video", track))) {
      // The publisher has no video sender (joined with the camera off, or over the limit).
      dispatch({ type: VIDEO_ALLOWED, allowed: true });
      schedulePublishCamera(true);
    }
  } else {
    dispatch({ type: CAMERA_SET, on: false });
    await replaceSenderTrack("video", null);
    local.stopCamera();
    syncTracks();
  }
  sendMediaState();
}

export const toggleMic = () => setMic(!store.state.media.micOn);
export const toggleCamera = () => setCamera(!cameraLive(store.state));

export async function switchCamera(deviceId) {
  const { local } = runtime;
  local.camId = deviceId;
  if (!store.state.media.cameraOn) return;
  const track = await local.startCamera(deviceId);
  if (!track) { toast(t("cameraFailed")); return; }
  await replaceSenderTrack("video", track);
  syncTracks();
}

export async function switchMic(deviceId) {
  const track = await runtime.local.startMic(deviceId);
  if (!track) { toast(t("microphoneFailed")); return; }
  runtime.detector.attach(track);
  await replaceSenderTrack("audio", track);
  syncTracks();
}

/** Shows our camera in a <video> (the preview, our tile), when it is on. */
export function showLocalVideo(video) {
  const track = store.state.media.cameraOn ? runtime.local.videoTrack : null;
  const current = video.srcObject ? video.srcObject.getVideoTracks()[0] : null;
  if (track === current) return;
  video.srcObject = track ? new MediaStream([track]) : null;
  if (track) video.play().catch(() => {});
}
