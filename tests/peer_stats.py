"""What a page's peer connections carry, read the same way in Chromium and Firefox: every
RTCPeerConnection the page makes is remembered by a script that runs before the page's own
(Playwright's add_init_script, the Firefox driver's init_script), so the figures do not depend on how
the meeting UI keeps its connections (one per feed, or one subscriber for all)."""

from __future__ import annotations

RECORD_PEERS_JS = """(() => {
  const Original = window.RTCPeerConnection;
  if (!Original || window.__peers) return;
  window.__peers = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__peers.push(this); }
  };
})();"""

# Totals over the open connections: decoded video frames and audio packets received, and the
# simulcast encodings (rids) the page is sending video on, with each one's frame width.
PAGE_STATS_JS = """async () => {
  const r = {open: 0, video_frames: 0, audio_packets: 0, audio_energy: 0, rids: [], frame_width: 0, sent: {}};
  for (const pc of window.__peers || []) {
    if (pc.connectionState === 'closed' || pc.signalingState === 'closed') continue;
    r.open += 1;
    const stats = await pc.getStats();
    stats.forEach(s => {
      const kind = s.kind || s.mediaType;
      if (s.type === 'inbound-rtp' && kind === 'video') {
        r.video_frames += s.framesDecoded || 0;
        r.frame_width = Math.max(r.frame_width, s.frameWidth || 0);
      }
      if (s.type === 'inbound-rtp' && kind === 'audio') {
        r.audio_packets += s.packetsReceived || 0;
        r.audio_energy += s.totalAudioEnergy || 0;
      }
      if (s.type === 'outbound-rtp' && kind === 'video' && s.rid && (s.bytesSent || 0) > 0) {
        r.rids.push(s.rid);
        r.sent[s.rid] = s.frameWidth || 0;
      }
    });
  }
  r.rids.sort();
  return r;
}"""

# A page that publishes its camera in simulcast on its own, whatever the meeting UI asks for: the
# camera is captured at 1280x720 and every video transceiver the page adds for sending gets the
# three layers of docs/media.md (rid h/m/l). For tests that need a simulcast publisher through the
# real meeting UI and signalling.
SIMULCAST_JS = """(() => {
  if (window.__simulcast) return;
  window.__simulcast = true;
  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const getUserMedia = md.getUserMedia.bind(md);
    md.getUserMedia = (c) => getUserMedia(c && c.video ? {...c, video: {
      ...(typeof c.video === 'object' ? c.video : {}),
      width: {ideal: 1280}, height: {ideal: 720}}} : c);
  }
  const add = RTCPeerConnection.prototype.addTransceiver;
  RTCPeerConnection.prototype.addTransceiver = function (what, init) {
    const video = what === 'video' || (what && what.kind === 'video');
    if (video && init && init.direction === 'sendonly' && !init.sendEncodings) {
      init = {...init, sendEncodings: [
        {rid: 'h', maxBitrate: 1200000},
        {rid: 'm', maxBitrate: 450000, scaleResolutionDownBy: 2},
        {rid: 'l', maxBitrate: 150000, scaleResolutionDownBy: 4}]};
    }
    return add.call(this, what, init);
  };
})();"""
