// The chat as received (deduplicated by id), our messages not yet echoed, and the unread count.
import { ADMITTED, RESTARTED } from "../session/state.js";
import { PANEL_SET } from "../controls/state.js";

export const CHAT_RECEIVED = "chat/received";  // {message, history}
export const CHAT_SENT = "chat/sent";          // {key, text}: shown greyed until the server echoes it

const initial = { messages: [], ids: new Set(), pending: [], unread: 0 };

function receive(s, m, history, root) {
  if (!m || typeof m.text !== "string") return s;
  if (m.id !== undefined && s.ids.has(m.id)) return s;
  const ids = m.id !== undefined ? new Set(s.ids).add(m.id) : s.ids;
  const mine = m.participant_id === root.session.participantId;
  let pending = s.pending;
  if (mine) {
    const i = pending.findIndex((p) => p.text === m.text);
    if (i >= 0) pending = pending.filter((_, j) => j !== i);
  }
  const unread = s.unread + (!history && !mine && root.controls.openPanel !== "chat" ? 1 : 0);
  return { messages: [...s.messages, { ...m, mine }], ids, pending, unread };
}

export const chatReducer = (available) => (s = initial, action, root) => {
  if (!available()) return s;
  switch (action.type) {
    case ADMITTED: {
      let next = s;
      for (const m of action.msg.chat || []) next = receive(next, m, true, root);
      return next;
    }
    case CHAT_RECEIVED: return receive(s, action.message, action.history, root);
    case CHAT_SENT: return { ...s, pending: [...s.pending, { key: action.key, text: action.text }] };
    case PANEL_SET: return action.panel === "chat" && s.unread ? { ...s, unread: 0 } : s;
    case RESTARTED: return { ...s, messages: [], ids: new Set() };
    default: return s;
  }
};
