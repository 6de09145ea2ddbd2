// The browser side of media: local devices, peer-connection helpers, and the talking detector.
// meetkit relays SDP to Janus. Publishers' offers go at once and trickle their candidates
// (features/media/ice.js); answers to Janus's offers go once their candidates settle.

const ICE_GATHERING_LIMIT_MS = 5000;

// Chromium gathers in phases 50 ms apart (UDP, then relay, then TCP), so "complete" comes ~100 ms
// after the UDP candidates that carry the media. An answer to Janus's offer goes once candidates
// stop arriving for this long: Janus (full ICE, the offerer) has all its own candidates in the
// offer, and learns any address of ours the answer lacks from our connectivity checks (peer
// reflexive), so nothing is lost by not waiting for the last phase.
const ANSWER_QUIET_MS = 30;

/** Resolves when gathering is complete, or once a candidate is in and none followed for `quietMs`. */
export function iceCandidatesSettled(pc, quietMs = ANSWER_QUIET_MS, limitMs = ICE_GATHERING_LIMIT_MS) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    let quiet = null;
    const done = () => {
      clearTimeout(timer);
      clearTimeout(quiet);
      pc.removeEventListener("icegatheringstatechange", check);
      pc.removeEventListener("icecandidate", onCandidate);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const onCandidate = (event) => {
      if (!event.candidate) return;
      clearTimeout(quiet);
      quiet = setTimeout(done, quietMs);
    };
    const timer = setTimeout(done, limitMs);
    pc.addEventListener("icegatheringstatechange", check);
    pc.addEventListener("icecandidate", onCandidate);
  });
}

export async function answerOffer(pc, sdp) {
  await pc.setRemoteDescription({ type: "offer", sdp });
  const answer = await pc.createAnswer();
  const settled = iceCandidatesSettled(pc);  // listening before the first candidate can come
  await pc.setLocalDescription(answer);
  await settled;
  return pc.localDescription.sdp;
}

export function closePeer(pc) {
  if (!pc) return;
  try { pc.close(); } catch { /* already closed */ }
}

function constraint(deviceId) {
  return deviceId ? { deviceId: { exact: deviceId } } : true;
}

const problemOf = (err) => (err && (err.name === "NotAllowedError" || err.name === "SecurityError") ? "blocked" : "none");

// Also in early-media.js (meeting.html's early getUserMedia): keep the two the same. 1280×720 where the
// camera allows, so the simulcast layers (features/media/publisher.js) are 1280, 640 and 320 wide.
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 20, max: 30 } };

/** The page's early getUserMedia promise (meeting.html), once, for the first full acquisition. */
function takeEarlyMedia(fits) {
  const early = window.__meetkitEarlyMedia;
  window.__meetkitEarlyMedia = null;
  if (early && !fits) early.then((s) => s.getTracks().forEach((track) => track.stop()), () => {});
  return fits ? early : null;
}

/** The participant's microphone and camera. The microphone track is kept while muted (enabled=false). */
export class LocalMedia {
  constructor() {
    this.audioTrack = null;
    this.videoTrack = null;
    this.micId = "";
    this.camId = "";
    this.stream = new MediaStream();
    this.micEnabled = true;
    this.problems = { mic: null, camera: null };  // why the last start of each failed
  }

  /**
   * First acquisition, at the pre-join screen, and the Retry of a blocked device. Returns what is
   * wrong per device: {mic, camera}, each null or "blocked" | "none".
   */
  async acquire({ audio, video }) {
    this.problems = { mic: audio ? null : this.problems.mic, camera: video ? null : this.problems.camera };
    if (!navigator.mediaDevices?.getUserMedia) return { mic: "none", camera: "none" };
    try {
      const early = takeEarlyMedia(audio && video && !this.micId && !this.camId);
      const s = await (early || navigator.mediaDevices.getUserMedia({
        audio: audio ? constraint(this.micId) : false,
        video: video ? { ...VIDEO, ...(this.camId ? { deviceId: { exact: this.camId } } : {}) } : false,
      }));
      for (const track of s.getTracks()) this.setTrack(track);
      return { ...this.problems };
    } catch {
      // One of the two may still work (a laptop without a camera, a site allowed the microphone only).
    }
    if (audio) await this.startMic();
    if (video) await this.startCamera();
    return { ...this.problems };
  }

  setTrack(track) {
    if (track.kind === "audio") {
      if (this.audioTrack && this.audioTrack !== track) this.dropTrack(this.audioTrack);
      this.audioTrack = track;
      track.enabled = this.micEnabled;
      this.micId = track.getSettings().deviceId || this.micId;
    } else {
      if (this.videoTrack && this.videoTrack !== track) this.dropTrack(this.videoTrack);
      this.videoTrack = track;
      this.camId = track.getSettings().deviceId || this.camId;
    }
    this.stream.addTrack(track);
  }

  dropTrack(track) {
    track.stop();
    this.stream.removeTrack(track);
  }

  async startMic(deviceId = this.micId) {
    try {
      const s = await navigator.mediaDevices.getUserMedia({ audio: constraint(deviceId) });
      this.setTrack(s.getAudioTracks()[0]);
      this.problems.mic = null;
      return this.audioTrack;
    } catch (err) {
      this.problems.mic = problemOf(err);
      return null;
    }
  }

  async startCamera(deviceId = this.camId) {
    try {
      const s = await navigator.mediaDevices.getUserMedia({
        video: { ...VIDEO, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) },
      });
      this.setTrack(s.getVideoTracks()[0]);
      this.problems.camera = null;
      return this.videoTrack;
    } catch (err) {
      this.problems.camera = problemOf(err);
      return null;
    }
  }

  /** Stops the camera (its light goes off); the publisher keeps its video sender with no track. */
  stopCamera() {
    if (this.videoTrack) this.dropTrack(this.videoTrack);
    this.videoTrack = null;
  }

  setMicEnabled(on) {
    this.micEnabled = on;
    if (this.audioTrack) this.audioTrack.enabled = on;
  }

  stopAll() {
    for (const track of [this.audioTrack, this.videoTrack]) if (track) this.dropTrack(track);
    this.audioTrack = null;
    this.videoTrack = null;
  }

  static async devices() {
    if (!navigator.mediaDevices?.enumerateDevices) return { cameras: [], mics: [] };
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      cameras: all.filter((d) => d.kind === "videoinput"),
      mics: all.filter((d) => d.kind === "audioinput"),
    };
  }
}

/**
 * Decides from the microphone's level whether the participant is talking, with hysteresis so a
 * cough does not flicker the highlight. `onChange(talking)` fires on changes only.
 */
export class TalkingDetector {
  constructor(onChange, onLevel) {
    this.onChange = onChange;
    this.onLevel = onLevel;
    this.ctx = null;
    this.source = null;
    this.analyser = null;
    this.timer = null;
    this.talking = false;
    this.above = 0;
    this.below = 0;
    this.buf = null;
  }

  attach(track) {
    this.detach();
    if (!track) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!this.ctx) this.ctx = new Ctx();
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.buf = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
    this.timer = setInterval(() => this.sample(), 100);
  }

  resume() {
    if (this.ctx && this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
  }

  sample() {
    this.analyser.getFloatTimeDomainData(this.buf);
    let sum = 0;
    for (let i = 0; i < this.buf.length; i++) sum += this.buf[i] * this.buf[i];
    const rms = Math.sqrt(sum / this.buf.length);
    if (this.onLevel) this.onLevel(Math.min(1, rms * 8));
    // About -34 dBFS to start (for 0.2 s), -40 dBFS to stop (for 0.8 s).
    if (rms > 0.02) { this.above++; this.below = 0; } else if (rms < 0.01) { this.below++; this.above = 0; }
    if (!this.talking && this.above >= 2) this.set(true);
    else if (this.talking && this.below >= 8) this.set(false);
  }

  set(talking) {
    this.talking = talking;
    this.onChange(talking);
  }

  detach() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.source) this.source.disconnect();
    this.source = this.analyser = null;
    if (this.talking) this.set(false);
    this.above = this.below = 0;
  }

  stop() {
    this.detach();
    if (this.ctx) this.ctx.close().catch(() => {});
    this.ctx = null;
  }
}
