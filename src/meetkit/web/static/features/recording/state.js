// Whether the room is being recorded (announced by the server to everyone).

export const RECORDING_CHANGED = "recording/changed";  // {active}

export function recordingReducer(s = { active: false }, action) {
  if (action.type === RECORDING_CHANGED && action.active !== s.active) return { active: action.active };
  return s;
}
