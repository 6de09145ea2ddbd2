// The raw-Janus baseline page of bench/join.py (bench/raw_janus.py says what it does and does not do).
// One module for both roles: ?role=pub&room=R publishes the fake camera; ?role=sub&room=R&feed=F
// subscribes to F. Janus replies "ack" then an "event" with the same transaction for plugin messages.
const q = new URLSearchParams(location.search);
const B = window.__bench = window.__bench || { marks: {} };
const now = () => performance.timeOrigin + performance.now();
const mark = (k) => { if (!(k in B.marks)) B.marks[k] = now(); };
const room = Number(q.get('room'));
const ws = new WebSocket(q.get('janus'), 'janus-protocol');
const waiting = new Map();
let tx = 0;
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.janus === 'ack' && waiting.get(m.transaction)?.async) return;
  const w = waiting.get(m.transaction);
  if (w) { waiting.delete(m.transaction); m.janus === 'error' ? w.reject(new Error(JSON.stringify(m.error))) : w.resolve(m); }
};
const call = (msg, async = false) => new Promise((resolve, reject) => {
  const transaction = 't' + (++tx);
  waiting.set(transaction, { resolve, reject, async });
  ws.send(JSON.stringify({ ...msg, transaction }));
});
const loopbackOnly = (sdp) => sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate:') || / 127\.\d+\.\d+\.\d+ /.test(l)).join('\r\n');
await new Promise((r) => { ws.onopen = r; });
mark('ws.open');
const session = (await call({ janus: 'create' })).data.id;
const handle = (await call({ janus: 'attach', session_id: session, plugin: 'janus.plugin.videoroom' })).data.id;
const message = (body, jsep) => call({ janus: 'message', session_id: session, handle_id: handle, body, ...(jsep ? { jsep } : {}) }, true);
const pc = new RTCPeerConnection({ iceServers: [] });
pc.onicecandidate = (e) => {
  const c = e.candidate;
  if (c && !/ 127\.\d+\.\d+\.\d+ /.test(c.candidate)) return;
  const candidate = c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : { completed: true };
  ws.send(JSON.stringify({ janus: 'trickle', session_id: session, handle_id: handle, candidate, transaction: 'c' + (++tx) }));
};
pc.onconnectionstatechange = () => mark('pc.' + pc.connectionState);
window.__raw = { pc };
setInterval(() => ws.send(JSON.stringify({ janus: 'keepalive', session_id: session, transaction: 'k' + (++tx) })), 20000);

if (q.get('role') === 'pub') {
  const joined = await message({ request: 'join', ptype: 'publisher', room, display: 'raw publisher' });
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  stream.getTracks().forEach((t) => pc.addTrack(t, stream));
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const reply = await message({ request: 'configure', audio: true, video: true }, { type: 'offer', sdp: loopbackOnly(offer.sdp) });
  await pc.setRemoteDescription(reply.jsep);
  window.__raw.feed = joined.plugindata.data.id;
} else {
  const video = document.getElementById('v');
  pc.ontrack = (e) => {
    mark('sub.track.' + e.track.kind);
    if (e.track.kind !== 'video') return;
    video.srcObject = new MediaStream([e.track]);
    video.addEventListener('loadeddata', () => mark('frame.loadeddata'));
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => mark('frame.rvfc'));
  };
  const poll = async () => {
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0) mark('frame.stats');
    });
  };
  const tick = () => poll().catch(() => {}).finally(() => { if (!('frame.stats' in B.marks)) setTimeout(tick, 20); });
  tick();
  const offer = await message({ request: 'join', ptype: 'subscriber', room, streams: [{ feed: Number(q.get('feed')) }] });
  mark('recv.offer');
  await pc.setRemoteDescription(offer.jsep);
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  await message({ request: 'start' }, { type: 'answer', sdp: loopbackOnly(answer.sdp) });
  mark('send.start');
}
