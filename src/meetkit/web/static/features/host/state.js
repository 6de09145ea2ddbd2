// What the host manages: who waits in the lobby, the lock.
import { WELCOMED } from "../session/state.js";

export const WAITING_CHANGED = "host/waiting-changed";  // {waiting}
export const LOCK_CHANGED = "host/lock-changed";        // {locked}

export function hostReducer(s = { waiting: [], locked: false }, action) {
  switch (action.type) {
    case WELCOMED: return { ...s, locked: !!action.locked };
    case WAITING_CHANGED: return { ...s, waiting: action.waiting };
    case LOCK_CHANGED: return { ...s, locked: action.locked };
    default: return s;
  }
}
