// The recording indicator and the notice when a recording starts or stops.
import { store } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $, toast } from "../../dom.js";
import { RECORDING_CHANGED } from "./state.js";

export function drawRecording() {
  watch(store, ["recording", "session"], ({ recording, session }) => {
    $("#recording-indicator").hidden = !(recording.active && session.state === "joined");
  });
  store.subscribe((state, prev, action) => {
    if (action.type === RECORDING_CHANGED && state.recording !== prev.recording) {
      toast(t(state.recording.active ? "recordingStarted" : "recordingStopped"));
    }
  });
}
