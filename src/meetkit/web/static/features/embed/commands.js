// Commands from the page that frames us (docs/embed.md "Commands"): `embed.js`'s promise API posts
// {source: "meetkit-embed", id, command, args}; we answer {source: "meetkit", reply: id, ok, result |
// error: {code, message}} to the origin that asked. A command is taken only from our parent window and,
// when the application lists its embedding origins, only from one of them: no other page can drive it.
import { store, config, send, boardAvailable } from "../../core.js";
import { isIn } from "../session/state.js";
import { originMatches } from "./embed.js";
import { setMic, setCamera } from "../media/local.js";
import { leave } from "../session/actions.js";
import { togglePanel } from "../controls/controls.js";
import { openBoard } from "../board/board.js";

class CommandError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

function inMeeting() {
  if (!isIn(store.state, "joined")) throw new CommandError("not_joined", "not in the meeting yet");
}

function asHost() {
  inMeeting();
  if (store.state.session.role !== "host") throw new CommandError("forbidden", "only the host may do that");
}

function participantId(args) {
  const id = args && args.participantId;
  if (typeof id !== "string" || !id) throw new CommandError("bad_arguments", "participantId is required");
  return id;
}

function sent(message) {
  if (!send(message)) throw new CommandError("not_connected", "the meeting is reconnecting");
}

const COMMANDS = {
  async setMicrophone(args) { await setMic(!!(args && args.on)); return { on: store.state.media.micOn }; },
  async setCamera(args) { await setCamera(!!(args && args.on)); return { on: store.state.media.cameraOn }; },
  leave() { leave(); return {}; },
  setDisplayName(args) {
    inMeeting();
    const name = args && typeof args.name === "string" ? args.name.trim() : "";
    if (!name || name.length > 100) throw new CommandError("bad_arguments", "name must be 1 to 100 characters");
    sent({ type: "name.set", name });
    return {};
  },
  toggleChat(args) {
    inMeeting();
    if (document.body.classList.contains("no-chat")) throw new CommandError("not_available", "this room has no chat");
    const open = args && typeof args.open === "boolean" ? args.open : undefined;
    togglePanel("chat", open);
    return { open: store.state.controls.openPanel === "chat" };
  },
  async openWhiteboard(args) {
    inMeeting();
    if (!boardAvailable) throw new CommandError("not_available", "this room has no whiteboard");
    return { open: await openBoard(typeof args?.open === "boolean" ? args.open : true) };
  },
  startRecording() { asHost(); sent({ type: "host.record", active: true }); return {}; },
  stopRecording() { asHost(); sent({ type: "host.record", active: false }); return {}; },
  admit(args) { asHost(); sent({ type: "host.admit", participant_id: participantId(args) }); return {}; },
  deny(args) { asHost(); sent({ type: "host.deny", participant_id: participantId(args) }); return {}; },
  endMeeting() { asHost(); sent({ type: "host.end" }); return {}; },
};

function allowed(origin) {
  const list = config.embed_origins ?? null;
  return list == null || list.some((a) => originMatches(origin, a));
}

async function run(event) {
  const d = event.data;
  if (!d || typeof d !== "object" || d.source !== "meetkit-embed" || typeof d.command !== "string") return;
  if (event.source !== window.parent || window.parent === window || !allowed(event.origin)) return;
  const reply = { source: "meetkit", reply: d.id };
  try {
    const command = Object.hasOwn(COMMANDS, d.command) ? COMMANDS[d.command] : null;
    if (!command) throw new CommandError("unknown_command", `no command ${d.command}`);
    reply.ok = true;
    reply.result = (await command(d.args || {})) || {};
  } catch (err) {
    reply.ok = false;
    reply.error = { code: err.code || "failed", message: String(err.message || err) };
  }
  try {
    event.source.postMessage(reply, event.origin);
  } catch { /* the parent went away */ }
}

export function takeEmbedCommands() {
  window.addEventListener("message", (event) => { run(event); });
}
