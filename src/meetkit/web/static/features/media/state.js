// The local side of media as the views see it: what the user wants on, what the devices gave, the
// remote videos by feed and the low-bandwidth choice. The peer connections themselves live in
// publisher.js and subscriptions.js (they are effects, not state).
import { RESTARTED } from "../session/state.js";

export const MIC_SET = "media/mic-set";                  // {on}
export const CAMERA_SET = "media/camera-set";            // {on}
export const TRACKS_CHANGED = "media/tracks-changed";    // {hasAudio, hasVideo, videoTrackId}
export const VIDEO_ALLOWED = "media/video-allowed";      // {allowed}
export const DEVICES_CHECKED = "media/devices-checked";  // {mic, camera}: null | "blocked" | "none"
export const SCREEN_SET = "media/screen-set";            // {on}
export const SOUND_BLOCKED = "media/sound-blocked";      // {blocked}
export const STREAMS_CHANGED = "media/streams-changed";  // {streams: Map<feed, MediaStream>}: received videos
export const LOW_BANDWIDTH_SET = "media/low-bandwidth";  // {on}: receive the lowest layers only

const initial = {
  micOn: true,
  cameraOn: true,
  videoAllowed: true,
  hasAudio: false,
  hasVideo: false,
  videoTrackId: null,      // a new camera track (another device) redraws what shows it
  micProblem: null,
  cameraProblem: null,
  screenSharing: false,
  soundBlocked: false,
  streams: new Map(),
  lowBandwidth: false,
};

export function mediaReducer(s = initial, action) {
  switch (action.type) {
    case MIC_SET: return s.micOn === action.on ? s : { ...s, micOn: action.on };
    case CAMERA_SET: return s.cameraOn === action.on ? s : { ...s, cameraOn: action.on };
    case TRACKS_CHANGED:
      if (s.hasAudio === action.hasAudio && s.hasVideo === action.hasVideo
        && s.videoTrackId === action.videoTrackId) return s;
      return { ...s, hasAudio: action.hasAudio, hasVideo: action.hasVideo, videoTrackId: action.videoTrackId,
        micProblem: action.hasAudio ? null : s.micProblem, cameraProblem: action.hasVideo ? null : s.cameraProblem };
    case VIDEO_ALLOWED: return { ...s, videoAllowed: action.allowed };
    case DEVICES_CHECKED: return { ...s, micProblem: action.mic, cameraProblem: action.camera };
    case SCREEN_SET: return { ...s, screenSharing: action.on };
    case SOUND_BLOCKED: return { ...s, soundBlocked: action.blocked };
    case STREAMS_CHANGED: return { ...s, streams: action.streams };
    case LOW_BANDWIDTH_SET: return s.lowBandwidth === action.on ? s : { ...s, lowBandwidth: action.on };
    case RESTARTED: return { ...s, streams: new Map() };
    default: return s;
  }
}

/** Live microphone / camera: wanted on and a track to send. */
export const micLive = (s) => s.media.micOn && s.media.hasAudio;
export const cameraLive = (s) => s.media.cameraOn && s.media.hasVideo;
/** The browser refuses the device (permission): the toggle shows it blocked and offers a retry. */
export const micBlocked = (s) => !s.media.hasAudio && s.media.micProblem === "blocked";
export const cameraBlocked = (s) => !s.media.hasVideo && s.media.cameraProblem === "blocked";

export function feedId(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
