// Which tiles are on the page: the tile order (self first, then by arrival), paging, the view.
import { ADMITTED, RESTARTED } from "../session/state.js";
import { PARTICIPANT_JOINED, PARTICIPANT_LEFT, TALKING } from "../participants/state.js";

export const PAGE_SET = "grid/page-set";          // {page}
export const PAGE_SIZE_SET = "grid/page-size";    // {size}
export const VIEW_SET = "grid/view-set";          // {view: "grid" | "round"}

const initial = { order: [], page: 0, pageSize: 6, view: "grid" };

export function gridReducer(s = initial, action, root) {
  switch (action.type) {
    case ADMITTED: {
      const selfId = root.session.participantId;
      const list = (action.msg.participants || []).filter((p) => p && p.participant_id);
      const ids = new Set(list.map((p) => p.participant_id));
      const known = s.order.filter((id) => ids.has(id) && id !== selfId);
      const fresh = list.filter((p) => p.participant_id !== selfId && !known.includes(p.participant_id))
        .sort((a, b) => String(a.joined_at || "").localeCompare(String(b.joined_at || "")))
        .map((p) => p.participant_id);
      return { ...s, order: [selfId, ...known, ...fresh] };
    }
    case PARTICIPANT_JOINED: {
      const id = action.participant.participant_id;
      return s.order.includes(id) ? s : { ...s, order: [...s.order, id] };
    }
    case PARTICIPANT_LEFT: return { ...s, order: s.order.filter((id) => id !== action.participantId) };
    case TALKING: return action.talking ? promoteSpeaker(s, action.participantId, root) : s;
    case PAGE_SET: return { ...s, page: action.page };
    case PAGE_SIZE_SET: return s.pageSize === action.size ? s : { ...s, pageSize: action.size };
    case VIEW_SET: return { ...s, view: action.view };
    case RESTARTED: return { ...s, order: [] };
    default: return s;
  }
}

function pageOf(s, byId) {
  const ids = s.order.filter((id) => byId.has(id));
  const pages = Math.max(1, Math.ceil(ids.length / s.pageSize));
  const page = Math.max(0, Math.min(s.page, pages - 1));
  return { ids: ids.slice(page * s.pageSize, (page + 1) * s.pageSize), page, pages };
}

/** The participants whose tiles are on the current page, and the page (clamped) of how many. */
export const visiblePage = (state) => pageOf(state.grid, state.participants.byId);

// Someone talking on another page is swapped onto this one (in place of whoever spoke longest
// ago), so the speaker is seen (everyone is heard whatever the page: remote-audio.js).
function promoteSpeaker(s, id, root) {
  const { byId, talking, lastSpoke } = root.participants;
  const selfId = root.session.participantId;
  const visible = pageOf(s, byId).ids;
  if (id === selfId || visible.includes(id) || !byId.has(id)) return s;
  if (s.order.length <= s.pageSize) return s;
  const candidates = visible.filter((x) => x !== selfId && !talking.has(x));
  if (!candidates.length) return s;
  candidates.sort((a, b) => (lastSpoke.get(a) || 0) - (lastSpoke.get(b) || 0));
  const out = candidates[0];
  const order = [...s.order];
  const i = order.indexOf(out);
  const j = order.indexOf(id);
  if (i < 0 || j < 0) return s;
  order[i] = id;
  order[j] = out;
  return { ...s, order };
}
