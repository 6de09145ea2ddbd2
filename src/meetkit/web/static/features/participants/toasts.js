// What deserves a toast while it happens: someone raises a hand, a chat message comes while the chat
// panel is closed (a preview of it). Derived from the store's actions, like the embed events.
import { store } from "../../core.js";
import { t } from "../../i18n.js";
import { toast } from "../../dom.js";
import { PARTICIPANT_UPDATED } from "./state.js";
import { CHAT_RECEIVED } from "../chat/state.js";

const PREVIEW = 90;  // characters of a chat message shown in its toast

export function startToasts() {
  store.subscribe((state, prev, action) => {
    if (action.type === PARTICIPANT_UPDATED) {
      const p = action.participant;
      const before = p && prev.participants.byId.get(p.participant_id);
      if (p && before && !before.hand && p.hand && p.participant_id !== state.session.participantId) {
        toast(t("handRaisedBy", { name: p.name || "" }));
      }
    } else if (action.type === CHAT_RECEIVED && !action.history) {
      const m = action.message;
      if (!m || m.participant_id === state.session.participantId || state.controls.openPanel === "chat") return;
      if (document.body.classList.contains("no-chat") || typeof m.text !== "string") return;
      const text = m.text.length > PREVIEW ? m.text.slice(0, PREVIEW - 1) + "…" : m.text;
      toast(`${m.name || ""}: ${text}`);
    }
  });
}
