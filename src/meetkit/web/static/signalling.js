// The meeting's one WebSocket (docs/signalling.md): hello first, JSON frames, resume after a drop.

// Close codes after which reconnecting cannot help (docs/signalling.md, "Close codes"). Not 4408: a
// socket that fell behind is closed for itself only, and reconnecting resumes with the resume token.
export const TERMINAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4404, 4406, 4409, 4410, 4429, 4430, 4431]);

const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000];
const RECONNECT_BUDGET_MS = 60000;
const PING_EVERY_MS = 15000;
const SILENCE_LIMIT_MS = 40000;

/** ws_url from the page configuration is a path ("/_meetkit/ws/<code>") or an absolute ws(s) URL. */
export function socketUrl(wsUrl, base = location.href) {
  const url = new URL(wsUrl, base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  return url.href;
}

export class Signalling {
  /**
   * @param {string} url  absolute ws(s) URL
   * @param {object} handlers
   *   hello(): the `hello` message to send on every (re)connection (it carries `resume` once known)
   *   message(msg): every server message
   *   status(s, detail): "open" | "reconnecting" | "failed" (gave up) | "closed" ({code, reason})
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.ws = null;
    this.stopped = false;
    this.dropAt = null;       // when the current outage began; null while connected
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastHeard = 0;
    this.everOpened = false;
  }

  get socket() {
    return this.ws;
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    this.stopped = false;
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.dropped(ws, 1006);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      this.rawSend(this.handlers.hello());
      this.startKeepalive();
      this.handlers.status("open", { reconnected: this.everOpened });
      this.everOpened = true;
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      // The server answered on this connection: the outage is over, the retry budget starts afresh.
      this.dropAt = null;
      this.attempt = 0;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (msg && typeof msg.type === "string") this.handlers.message(msg);
    };
    ws.onclose = (event) => this.dropped(ws, event.code, event.reason);
    ws.onerror = () => {};  // onclose follows
  }

  dropped(ws, code, reason = "") {
    if (ws && this.ws !== ws) return;
    this.stopKeepalive();
    this.ws = null;
    if (this.stopped) return;
    if (TERMINAL_CLOSE_CODES.has(code)) {
      this.stopped = true;
      this.handlers.status("closed", { code, reason });
      return;
    }
    const now = Date.now();
    if (this.dropAt === null) this.dropAt = now;
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
    if (now + delay - this.dropAt > RECONNECT_BUDGET_MS) {
      this.stopped = true;
      this.handlers.status("failed", { code, reason });
      return;
    }
    this.attempt += 1;
    this.handlers.status("reconnecting", { code, attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  startKeepalive() {
    this.stopKeepalive();
    this.pingTimer = setInterval(() => {
      if (!this.ws) return;
      if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
        // A half-open TCP connection never fires onclose quickly: give up on it ourselves.
        const ws = this.ws;
        detach(ws);
        try { ws.close(4000, "silent"); } catch { /* already closing */ }
        this.dropped(ws, 1006);
        return;
      }
      this.rawSend({ type: "ping" });
    }, PING_EVERY_MS);
  }

  stopKeepalive() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  rawSend(msg) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Sends one message; false when the socket is not open (the caller decides whether that matters). */
  send(msg) {
    return this.rawSend(msg);
  }

  /** Ends the connection for good (leave, removed, ended). */
  close(code = 1000) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopKeepalive();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      try { ws.close(code); } catch { /* already closed */ }
    }
  }
}

function detach(ws) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}
