// Events for the page that frames us (docs/ui.md "Embedding"): derived from the store's actions,
// the way Jitsi's middleware turns actions into external API events.
import { store, config } from "../../core.js";
import { ADMITTED, SCREEN_SHOWN } from "../session/state.js";
import { PARTICIPANT_JOINED, PARTICIPANT_LEFT, TALKING } from "../participants/state.js";
import { RECORDING_CHANGED } from "../recording/state.js";
import { CHAT_RECEIVED } from "../chat/state.js";
import { WAITING_CHANGED } from "../host/state.js";

// Events name participants and roles, so they go only to the page that frames us, never to "*"
// (docs/embed.md). The framing page's origin: location.ancestorOrigins (Chromium, Safari), else the
// origin of document.referrer (the framing page's referrer policy may hide it: then no target).
function framingOrigin() {
  const ancestors = window.location.ancestorOrigins;
  if (ancestors && ancestors.length) return ancestors[0];
  try {
    return document.referrer ? new URL(document.referrer).origin : null;
  } catch {
    return null;
  }
}

/** An origin ("https://a.example.com") is one of the allowed ones, or under one's "https://*.example.com". */
export function originMatches(origin, allowed) {
  if (!allowed.includes("://*.")) return origin === allowed;
  const [scheme, rest] = allowed.split("://*.");
  const [oScheme, oRest] = origin.split("://");
  if (oScheme !== scheme || oRest === undefined) return false;
  const [host, port = ""] = rest.split(":");
  const [oHost, oPort = ""] = oRest.split(":");
  return oPort === port && oHost.endsWith("." + host) && oHost.length > host.length + 1;
}

/** Where to post: the framing page's origin when it is allowed (any, with no list set); with a list and
 * no known framing origin, each exact allowed origin (the browser delivers only to the one that matches). */
export function postTargets(allowedOrigins, framing) {
  if (allowedOrigins == null) return framing && framing !== "null" ? [framing] : [];
  if (framing && allowedOrigins.some(a => originMatches(framing, a))) return [framing];
  return allowedOrigins.filter(a => !a.includes("*"));
}

let targets = null;

/** An event that is not an action of the store (a server `error`). */
export function embedEvent(event, data) {
  post(event, data);
}

function post(event, data) {
  if (window.parent === window) return;
  if (targets === null) targets = postTargets(config.embed_origins ?? null, framingOrigin());
  for (const target of targets) {
    try {
      window.parent.postMessage({ source: "meetkit", event, data }, target);
    } catch { /* the parent went away */ }
  }
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
    case CHAT_RECEIVED: {
      const m = action.message;
      if (action.history || !m || typeof m.text !== "string") return [];
      return [["chat_message", { participant_id: m.participant_id, name: m.name, role: m.role, text: m.text,
        sent_at: m.sent_at }]];
    }
    case TALKING:
      return [["talking", { participant_id: action.participantId, talking: !!action.talking }]];
    case WAITING_CHANGED: {
      const before = new Set(prev.host.waiting.map((w) => w.participant_id));
      return state.host.waiting.filter((w) => !before.has(w.participant_id))
        .map((w) => ["knocking", { participant_id: w.participant_id, name: w.name, reason: w.reason }]);
    }
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
  post("ready", {});  // the framing page's commands may come now (features/embed/commands.js)
  store.subscribe((state, prev, action) => {
    for (const [event, data] of eventsOf(state, prev, action)) post(event, data);
  });
}
