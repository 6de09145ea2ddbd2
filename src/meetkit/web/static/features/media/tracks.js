// The local tracks as the store sees them, and what the server is told about them.
import { store, dispatch, runtime, send } from "../../core.js";
import { TRACKS_CHANGED, micLive, cameraLive } from "./state.js";

export const joined = () => store.state.session.state === "joined";

/** Tells the store which local tracks exist (after anything that may have added or dropped one). */
export function syncTracks() {
  const { audioTrack, videoTrack } = runtime.local;
  dispatch({ type: TRACKS_CHANGED, hasAudio: !!audioTrack, hasVideo: !!videoTrack, videoTrackId: videoTrack?.id ?? null });
}

export function sendMediaState() {
  if (!joined()) return;
  send({ type: "media.state", mic: micLive(store.state), camera: cameraLive(store.state) });
}
