// The whiteboard's sync (docs/whiteboard.md): what this page changed goes out as `board.update`, at
// most every 100 ms and in frames the socket takes; what others changed comes in and is merged by
// Excalidraw's own rule, the one meetkit stores by. An element goes out only once its version is past
// the one this page last sent or heard, so a merged change never echoes back. An image goes out only
// after its file is stored (PUT), so whoever sees the image can fetch the file.
import { send, store, config } from "../../core.js";

const FLUSH_MS = 100;
const MAX_FRAME = 60 * 1024;  // the socket refuses a message over ~68 KB (signalling/protocol)
const FETCH_TRIES = 5;
const MAX_ELEMENT = 48 * 1024;  // meetkit refuses a larger element (domain/board.py)
const UPLOAD_TRIES = 3;

export function fileUrl(fileId) {
  return `/_meetkit/board/${config.room?.meeting_code}/files/${encodeURIComponent(fileId)}`;
}

function credentials() {
  const s = store.state.session;
  return { "X-Meetkit-Participant": s.participantId || "", Authorization: `Bearer ${s.resumeToken || ""}` };
}

// The page's CSP lets no fetch() read a data: URL; decode it here.
function blobOf(dataURL) {
  const comma = dataURL.indexOf(",");
  const mime = dataURL.slice(5, comma).split(";")[0];
  const raw = atob(dataURL.slice(comma + 1));
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return new Blob([bytes], { type: mime });
}

function dataUrlOf(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

export class BoardSync {
  constructor({ onError }) {
    this.board = null;
    this.known = new Map();    // element id → the highest version sent or heard
    this.stored = new Set();   // file ids meetkit has
    this.failed = new Set();   // file ids it refused (too large, wrong type): their images stay here
    this.fetching = new Set();
    this.tries = new Map();   // file id → failed uploads so far
    this.tooLarge = new Set();
    this.timer = null;
    this.onError = onError;
  }

  attach(board) {
    this.board = board;
  }

  // Excalidraw's onChange fires on every render; the flush looks at what moved.
  changed() {
    if (this.timer || !this.board) return;
    this.timer = setTimeout(() => { this.timer = null; this.flush(); }, FLUSH_MS);
  }

  async flush() {
    const files = this.board.files();
    let batch = [];
    let size = 0;
    for (const el of this.board.elements()) {
      if ((this.known.get(el.id) ?? 0) >= el.version) continue;
      if (el.type === "image" && el.fileId && !this.stored.has(el.fileId)) {
        if (files[el.fileId] && !this.failed.has(el.fileId)) this.store(files[el.fileId]);
        continue;  // goes out with the flush after its file is stored
      }
      const bytes = JSON.stringify(el).length;
      if (bytes > MAX_ELEMENT) {  // (a very long freehand stroke): kept here, said once
        if (!this.tooLarge.has(el.id)) { this.tooLarge.add(el.id); this.onError("too_large"); }
        continue;
      }
      if (batch.length && size + bytes > MAX_FRAME) {
        this.sendBatch(batch);
        batch = [];
        size = 0;
      }
      batch.push(el);
      size += bytes;
    }
    if (batch.length) this.sendBatch(batch);
  }

  sendBatch(elements) {
    if (!send({ type: "board.update", elements })) return;  // reconnecting: the next board.scene resyncs
    for (const el of elements) this.known.set(el.id, el.version);
  }

  async store(file) {
    if (this.fetching.has(file.id)) return;
    this.fetching.add(file.id);
    try {
      const body = blobOf(file.dataURL);
      const res = await fetch(fileUrl(file.id), { method: "PUT", body,
        headers: { ...credentials(), "Content-Type": file.mimeType } });
      if (res.ok) this.stored.add(file.id);
      else {
        this.failed.add(file.id);
        const err = await res.json().catch(() => ({}));
        this.onError(err.message || `HTTP ${res.status}`);
      }
    } catch (e) {
      // The network: tried again later, a few times, then given up.
      const tries = (this.tries.get(file.id) ?? 0) + 1;
      this.tries.set(file.id, tries);
      if (tries >= UPLOAD_TRIES) {
        this.failed.add(file.id);
        this.onError(String(e?.message || e));
      } else {
        setTimeout(() => this.changed(), 1000 * tries);
      }
      return;
    } finally {
      this.fetching.delete(file.id);
    }
    this.changed();
  }

  // board.scene and board.updated: others' copies in, then the images this page lacks.
  received(elements) {
    if (!this.board) return;
    this.board.merge(elements);
    // Known as sent only where the merge took their copy: where this page's copy won (newer, or being
    // edited here), it still has to go out.
    const local = new Map(this.board.elements().map((e) => [e.id, e]));
    for (const el of elements) {
      const mine = typeof el?.id === "string" ? local.get(el.id) : null;
      if (mine && mine.version === el.version && mine.versionNonce === el.versionNonce) {
        this.known.set(el.id, Math.max(this.known.get(el.id) ?? 0, el.version));
      }
      if (el?.type === "image" && el.fileId) this.stored.add(el.fileId);
    }
    const have = this.board.files();
    for (const el of elements) {
      if (el?.type === "image" && typeof el.fileId === "string" && !el.isDeleted && !have[el.fileId]) this.fetchFile(el.fileId);
    }
  }

  async fetchFile(fileId) {
    if (this.fetching.has(fileId)) return;
    this.fetching.add(fileId);
    try {
      for (let i = 0; i < FETCH_TRIES; i++) {
        const res = await fetch(fileUrl(fileId), { headers: credentials() }).catch(() => null);
        if (res?.ok) {
          const blob = await res.blob();
          this.board.addFiles([{ id: fileId, mimeType: blob.type, dataURL: await dataUrlOf(blob), created: Date.now() }]);
          return;
        }
        await new Promise((r) => setTimeout(r, 300 * (i + 1)));  // bounded: 4.5 s in all
      }
    } finally {
      this.fetching.delete(fileId);
    }
  }

  // A new board.scene replaces what this page knew (a reload, a reconnect).
  reset() {
    this.known.clear();
  }
}
