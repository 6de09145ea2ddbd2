// Which tiles are on the page: the tile order (self first, then by arrival), paging, the view.
import { ADMITTED, RESTARTED } from "../session/state.js";
import { PARTICIPANT_JOINED, PARTICIPANT_LEFT, TALKING } from "../participants/state.js";

export const PAGE_SET = "grid/page-set";          // {page}
export const PAGE_SIZE_SET = "grid/page-size";    // {size}
export const VIEW_SET = "grid/view-set";          // {view: "grid" | "round" | "speaker"}
export const PIN_SET = "grid/pin-set";            // {participantId | null}: pinned, in speaker view

// The speaker a share's strip and speaker view show is held this long after they last talked before
// someone else may take the place: with several open microphones the speaker changes every second,
// and each change re-lays the page out and changes what it receives (a new subscription offer).
export const SPEAKER_HOLD_MS = 4000;

const initial = { order: [], page: 0, pageSize: 6, view: "grid", pinned: null, held: null };

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
    case PARTICIPANT_LEFT: return { ...s, order: s.order.filter((id) => id !== action.participantId),
      pinned: s.pinned === action.participantId ? null : s.pinned,
      held: s.held?.id === action.participantId ? null : s.held };
    case TALKING: return action.talking ? hold(promoteSpeaker(s, action.participantId, root), action, root)
      : stoppedTalking(s, action, root);
    case PAGE_SET: return { ...s, page: action.page };
    case PAGE_SIZE_SET: return s.pageSize === action.size ? s : { ...s, pageSize: action.size };
    case VIEW_SET: return { ...s, view: action.view, pinned: action.view === "speaker" ? s.pinned : null };
    case PIN_SET: return { ...s, pinned: action.participantId,
      view: action.participantId ? "speaker" : s.view, page: action.participantId ? 0 : s.page };
    case RESTARTED: return { ...s, order: [] };
    default: return s;
  }
}

function pageOf(s, byId, first = []) {
  const known = s.order.filter((id) => byId.has(id));
  const lead = [...new Set(first.filter((id) => known.includes(id)))];
  const ids = [...lead, ...known.filter((id) => !lead.includes(id))];
  const pages = Math.max(1, Math.ceil(ids.length / s.pageSize));
  const page = Math.max(0, Math.min(s.page, pages - 1));
  return { ids: ids.slice(page * s.pageSize, (page + 1) * s.pageSize), page, pages };
}

/** `held`: {id, at}, the speaker shown. Someone else takes the place only once the held speaker has
 * stopped talking and SPEAKER_HOLD_MS have passed since (`at`: when they started, then when they stopped). */
function hold(s, action, root) {
  const id = action.participantId;
  if (id === root.session.participantId) return s;
  const at = Number(action.at) || 0;
  const held = s.held;
  if (held && held.id !== id && (root.participants.talking.has(held.id) || at - held.at < SPEAKER_HOLD_MS)) return s;
  return { ...s, held: { id, at } };
}

// The held speaker stopped: whoever talks meanwhile takes the place (they started while it was held),
// else the held speaker keeps it, its hold counted from now.
function stoppedTalking(s, action, root) {
  if (s.held?.id !== action.participantId) return s;
  const at = Number(action.at) || 0;
  const selfId = root.session.participantId;
  const next = [...root.participants.talking].find((id) => id !== action.participantId && id !== selfId);
  return { ...s, held: { id: next || s.held.id, at } };
}

/** Who is speaking now, or spoke last (not this page's own participant), held a few seconds. */
export function speakerId(state) {
  const { byId, talking, lastSpoke } = state.participants;
  const selfId = state.session.participantId;
  const held = state.grid.held?.id;
  if (held && held !== selfId && byId.has(held)) return held;
  const now = [...talking].find((id) => id !== selfId && byId.has(id));
  if (now) return now;
  let best = null;
  for (const [id, at] of lastSpoke) if (id !== selfId && byId.has(id) && (!best || at > best[1])) best = [id, at];
  return best ? best[0] : null;
}

/** The big tile of speaker view: whoever is pinned, else the speaker, else someone else, else oneself. */
export function featuredId(state) {
  const { byId } = state.participants;
  const { pinned } = state.grid;
  if (pinned && byId.has(pinned)) return pinned;
  const selfId = state.session.participantId;
  return speakerId(state) || state.grid.order.find((id) => id !== selfId && byId.has(id)) || selfId;
}

/** Who leads the first page: the featured tile in speaker view; during a screen share, the presenter
 * and the speaker, so a phone's two places below the share show them rather than oneself. */
function leaders(state) {
  const first = [];
  if (state.grid.view === "speaker") first.push(featuredId(state));
  const selfId = state.session.participantId;
  const presenters = [...state.participants.byId.values()]
    .filter((p) => p.participant_id !== selfId && p.feeds?.screen != null).map((p) => p.participant_id);
  if (presenters.length) {
    first.push(...presenters);
    const speaker = speakerId(state);
    if (speaker) first.push(speaker);
  }
  return first;
}

/** The participants whose tiles are on the current page, and the page (clamped) of how many. */
export const visiblePage = (state) => pageOf(state.grid, state.participants.byId, leaders(state));

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
