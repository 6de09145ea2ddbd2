// Everyone in the room as last announced, who is talking, and our own raised hand.
import { ADMITTED, RESTARTED } from "../session/state.js";

export const PARTICIPANT_JOINED = "participants/joined";    // {participant}
export const PARTICIPANT_UPDATED = "participants/updated";  // {participant}
export const PARTICIPANT_LEFT = "participants/left";        // {participantId, reason}
export const TALKING = "participants/talking";              // {participantId, talking, at}
export const HAND_SET = "participants/hand-set";            // {raised}

const initial = { byId: new Map(), talking: new Set(), lastSpoke: new Map(), hand: false };

function selfParticipant(root) {
  const { session, media } = root;
  return { participant_id: session.participantId, name: session.name, role: session.role, mic: media.micOn && media.hasAudio,
    camera: media.cameraOn && media.hasVideo, hand: root.participants.hand, feeds: {}, joined_at: new Date().toISOString() };
}

export function participantsReducer(s = initial, action, root) {
  switch (action.type) {
    case ADMITTED: {
      const byId = new Map();
      for (const p of action.msg.participants || []) if (p && p.participant_id) byId.set(p.participant_id, p);
      const selfId = root.session.participantId;
      if (!byId.has(selfId)) byId.set(selfId, selfParticipant(root));
      return { ...s, byId, hand: !!byId.get(selfId)?.hand };
    }
    case PARTICIPANT_JOINED:
    case PARTICIPANT_UPDATED: {
      const p = action.participant;
      const byId = new Map(s.byId).set(p.participant_id, p);
      const hand = p.participant_id === root.session.participantId ? !!p.hand : s.hand;
      return { ...s, byId, hand };
    }
    case PARTICIPANT_LEFT: {
      if (!s.byId.has(action.participantId)) return s;
      const byId = new Map(s.byId);
      byId.delete(action.participantId);
      const talking = new Set(s.talking);
      talking.delete(action.participantId);
      return { ...s, byId, talking };
    }
    case TALKING: {
      const talking = new Set(s.talking);
      if (action.talking) talking.add(action.participantId); else talking.delete(action.participantId);
      const lastSpoke = action.talking ? new Map(s.lastSpoke).set(action.participantId, action.at) : s.lastSpoke;
      return { ...s, talking, lastSpoke };
    }
    case HAND_SET: return { ...s, hand: action.raised };
    case RESTARTED: return { ...s, byId: new Map(), talking: new Set() };
    default: return s;
  }
}

/** Our own participant, then the others in the order they were announced. */
export function participantIds(s) {
  const self = s.session.participantId;
  return [self, ...[...s.participants.byId.keys()].filter((id) => id !== self)];
}
