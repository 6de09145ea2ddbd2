// Events for the page that frames us (docs/ui.md "Embedding"): derived from the store's actions,
// the way Jitsi's middleware turns actions into external API events.
import { store } from "../../core.js";
import { ADMITTED, SCREEN_SHOWN } from "../session/state.js";
import { PARTICIPANT_JOINED, PARTICIPANT_LEFT } from "../participants/state.js";
import { RECORDING_CHANGED } from "../recording/state.js";

function post(event, data) {
  if (window.parent === window) return;
  try {
    window.parent.postMessage({ source: "meetkit", event, data }, "*");
  } catch { /* the parent went away */ }
}

function eventsOf(state, prev, action) {
  switch (action.type) {
    case ADMITTED:
      return prev.session.everJoined ? []
        : [["joined", { participant_id: state.session.participantId, role: state.session.role }]];
    case PARTICIPANT_JOINED: {
      const p = action.participant;
      if (prev.participants.byId.has(p.participant_id) || p.participant_id === state.session.participantId) return [];
      return [["participant_joined", { participant_id: p.participant_id, name: p.name, role: p.role }]];
    }
    case PARTICIPANT_LEFT:
      return prev.participants.byId.has(action.participantId)
        ? [["participant_left", { participant_id: action.participantId, reason: action.reason }]] : [];
    case RECORDING_CHANGED:
      if (state.recording === prev.recording) return [];
      return [[state.recording.active ? "recording_started" : "recording_stopped", {}]];
    case SCREEN_SHOWN:
      if (prev.session.state === action.state) return [];
      if (action.state === "ended" && !action.notFound) return [["meeting_ended", {}]];
      if (action.state === "removed") return [["left", { reason: "removed" }]];
      if (action.state === "left" && action.leftReason && prev.session.state === "joined") return [["left", { reason: action.leftReason }]];
      return [];
    default:
      return [];
  }
}

export function postEmbedEvents() {
  store.subscribe((state, prev, action) => {
    for (const [event, data] of eventsOf(state, prev, action)) post(event, data);
  });
}
