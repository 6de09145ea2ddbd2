// The chat panel: messages drawn from the chat slice (appended as they come), sending with a
// greyed copy until the server's echo, and the host's export (text or JSON).
// A host's message carries a "Host" badge from the server's `role`, never from the name: a guest
// can call itself "Host" but cannot get the badge.
import { store, dispatch, send, config, chatAvailable } from "../../core.js";
import { watch } from "../../store.js";
import { t, language } from "../../i18n.js";
import { $ } from "../../dom.js";
import { CHAT_RECEIVED, CHAT_SENT } from "./state.js";

let pendingKey = 0;
let exportFormat = "text";  // which button asked for the chat.export that comes back

export function onChatMessage(msg) {
  if (chatAvailable) dispatch({ type: CHAT_RECEIVED, message: msg, history: false });
}

function chatItem(m, mine, pending = false) {
  const li = document.createElement("li");
  li.className = "msg";
  li.classList.toggle("mine", mine);
  li.classList.toggle("pending", pending);
  li.classList.toggle("from-host", m.role === "host");
  if (m.id !== undefined) li.dataset.messageId = String(m.id);
  if (m.participant_id) li.dataset.participantId = m.participant_id;
  const head = document.createElement("div");
  head.className = "msg-head";
  const name = document.createElement("span");
  name.className = "msg-name";
  name.textContent = m.name || "";
  const time = document.createElement("time");
  time.className = "msg-time";
  const when = m.sent_at ? new Date(m.sent_at) : new Date();
  if (!Number.isNaN(when.getTime())) {
    time.dateTime = when.toISOString();
    time.textContent = when.toLocaleTimeString(language(), { hour: "2-digit", minute: "2-digit" });
  }
  head.append(name);
  if (m.role === "host") {
    const badge = document.createElement("span");
    badge.className = "msg-role";
    badge.textContent = t("host");
    head.append(badge);
  }
  head.append(time);
  const text = document.createElement("div");
  text.className = "msg-text";
  text.textContent = m.text;
  li.append(head, text);
  return li;
}

function drawChat() {
  const list = $("#chat-messages");
  let shown = 0;                 // how many of chat.messages are in the list
  const pendingEls = new Map();  // key → element
  let messages = null;
  watch(store, ["chat"], ({ chat, session }) => {
    list.dataset.empty = t("noMessages");  // shown while the list is empty (meeting.css)
    if (chat.messages !== messages && (!messages || chat.messages.length < shown)) {
      list.replaceChildren();    // a new participant after a failed resume: start over
      shown = 0;
    }
    messages = chat.messages;
    const keep = new Set(chat.pending.map((p) => p.key));
    for (const [key, el] of pendingEls) if (!keep.has(key)) { el.remove(); pendingEls.delete(key); }
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    let mine = false;
    for (; shown < chat.messages.length; shown++) {
      const m = chat.messages[shown];
      mine ||= m.mine;
      list.insertBefore(chatItem(m, m.mine), list.querySelector(".msg.pending"));
    }
    for (const p of chat.pending) {
      if (pendingEls.has(p.key)) continue;
      const el = chatItem({ participant_id: session.participantId, name: session.name, role: session.role,
        text: p.text }, true, true);
      pendingEls.set(p.key, el);
      list.append(el);
      mine = true;
    }
    if (nearBottom || mine) list.scrollTop = list.scrollHeight;
  });
}

function sendChat() {
  const input = $("#chat-input");
  const text = input.value.trim();
  if (!text || text.length > 2000) return;
  if (!send({ type: "chat.send", text })) return;  // keep the text while reconnecting
  input.value = "";
  dispatch({ type: CHAT_SENT, key: ++pendingKey, text });
}

/** One line, whatever the room's name holds (the export's own lines are escaped by the server). */
const oneLine = (value) => String(value || "").replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ");

export function downloadChat(msg) {
  const title = oneLine(config.room?.display_name || config.room?.meeting_code || "");
  const day = new Date().toISOString().slice(0, 10);
  const base = `chat-${config.room?.meeting_code || "meeting"}-${day}`;
  if (exportFormat === "json") {
    const body = JSON.stringify({ room: config.room?.display_name || "", meeting_code: config.room?.meeting_code || "",
      messages: msg.messages || [] }, null, 2);
    save(new Blob([body + "\n"], { type: "application/json" }), `${base}.json`);
    return;
  }
  // The server's text form: one line per message, `[time] [role] name: text`, newlines escaped.
  const text = `${t("chatExportHeader", { title })}\n\n${typeof msg.text === "string" ? msg.text : ""}`;
  save(new Blob([text], { type: "text/plain;charset=utf-8" }), `${base}.txt`);
}

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function askExport(format) {
  exportFormat = format;
  send({ type: "host.chat_export" });
}

export function startChat() {
  drawChat();
  $("#chat-form").addEventListener("submit", (e) => { e.preventDefault(); sendChat(); });
  $("#chat-export").addEventListener("click", () => askExport("text"));
  $("#chat-export-json").addEventListener("click", () => askExport("json"));
}
