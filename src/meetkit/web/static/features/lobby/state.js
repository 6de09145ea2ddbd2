// The waiting screen of someone who knocked: why they wait.
import { SCREEN_SHOWN } from "../session/state.js";

export function lobbyReducer(s = { reason: "approval", hostPresent: null }, action) {
  if (action.type === SCREEN_SHOWN && action.state === "lobby") {
    return { reason: action.reason === "host_absent" ? "host_absent" : "approval",
      hostPresent: typeof action.hostPresent === "boolean" ? action.hostPresent : null };
  }
  return s;
}
