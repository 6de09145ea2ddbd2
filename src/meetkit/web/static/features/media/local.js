// Our microphone and camera: what the toggles and device choices do to the tracks and publisher.
import { store, dispatch, runtime } from "../../core.js";
import { t } from "../../i18n.js";
import { toast } from "../../dom.js";
import { MIC_SET, CAMERA_SET, DEVICES_CHECKED, VIDEO_ALLOWED, cameraLive } from "./state.js";
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

export function toggleMic() {
  const { media } = store.state;
  if (!media.hasAudio && media.micProblem) return retryDevices();
  return setMic(!media.micOn);
}

/** Asks the browser again for the devices it refused (after the user allowed them, say). */
export async function retryDevices() {
  const { local, detector } = runtime;
  const { media } = store.state;
  const audio = !local.audioTrack && !!media.micProblem;
  const video = !local.videoTrack && !!media.cameraProblem;
  if (!audio && !video) return;
  const problems = await local.acquire({ audio, video });
  dispatch({ type: DEVICES_CHECKED, mic: local.audioTrack ? null : problems.mic,
    camera: local.videoTrack ? null : problems.camera });
  if (audio && local.audioTrack) {
    local.setMicEnabled(store.state.media.micOn);
    detector.attach(local.audioTrack);
  }
  if (video && local.videoTrack) dispatch({ type: CAMERA_SET, on: true });
  syncTracks();
  const gotAudio = audio && local.audioTrack;
  const gotVideo = video && local.videoTrack;
  if (joined() && (gotAudio || gotVideo)) {
    const swapped = (!gotAudio || (await replaceSenderTrack("audio", local.audioTrack)))
      && (!gotVideo || (await replaceSenderTrack("video", local.videoTrack)));
    if (!swapped) {
      dispatch({ type: VIDEO_ALLOWED, allowed: true });
      schedulePublishCamera(true);
    }
  }
  sendMediaState();
  if ((audio && !local.audioTrack) || (video && !local.videoTrack)) toast(t("stillBlocked"));
}
export function toggleCamera() {
  const { media } = store.state;
  if (!media.hasVideo && media.cameraProblem === "blocked") return retryDevices();
  return setCamera(!cameraLive(store.state));
}

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
