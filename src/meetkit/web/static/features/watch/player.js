// Watch together's players behind one interface: play(), pause(), seek(s), time(), playing(),
// setRate(r), destroy(). A video file plays in a <video>; YouTube in its embed frame, driven by the
// IFrame API's own messages (postMessage), so no script of YouTube's runs in the meeting page.

export class VideoPlayer {
  constructor(box, url, onBlocked) {
    this.video = document.createElement("video");
    this.video.id = "watch-video";
    this.video.playsInline = true;
    this.video.preload = "auto";
    this.video.src = url;
    this.onBlocked = onBlocked;
    box.replaceChildren(this.video);
  }
  play() {
    this.video.play().catch((e) => { if (e?.name === "NotAllowedError") this.onBlocked(); });
  }
  pause() { this.video.pause(); }
  seek(s) { this.video.currentTime = s; }
  time() { return this.video.currentTime; }
  playing() { return !this.video.paused; }
  ready() { return this.video.readyState >= 2; }
  setRate(r) { if (this.video.playbackRate !== r) this.video.playbackRate = r; }
  destroy() { this.video.removeAttribute("src"); this.video.load(); this.video.remove(); }
}

const YOUTUBE = "https://www.youtube-nocookie.com";

export class YouTubePlayer {
  constructor(box, videoId, onUnreachable) {
    this.frame = document.createElement("iframe");
    this.frame.id = "watch-youtube";
    this.frame.allow = "autoplay; encrypted-media";
    this.frame.src = `${YOUTUBE}/embed/${encodeURIComponent(videoId)}?enablejsapi=1&controls=0&disablekb=1&playsinline=1&origin=${encodeURIComponent(location.origin)}`;
    this.state = { time: 0, playing: false, ready: false };
    this.listener = (event) => this.heard(event);
    window.addEventListener("message", this.listener);
    this.frame.addEventListener("load", () => this.command("listening"));
    // No answer from the player within 8 s: YouTube cannot be reached from here.
    this.timer = setTimeout(() => { if (!this.state.ready) onUnreachable(); }, 8000);
    box.replaceChildren(this.frame);
  }
  command(func, args = []) {
    const msg = func === "listening" ? { event: "listening", id: "watch" } : { event: "command", func, args };
    this.frame.contentWindow?.postMessage(JSON.stringify(msg), YOUTUBE);
  }
  heard(event) {
    if (event.origin !== YOUTUBE || event.source !== this.frame.contentWindow) return;
    let data = null;
    try { data = typeof event.data === "string" ? JSON.parse(event.data) : event.data; } catch { return; }
    if (data?.event === "onReady") this.state.ready = true;
    const info = data?.info;
    if (info && typeof info === "object") {
      this.state.ready = true;
      if (Number.isFinite(info.currentTime)) this.state.time = info.currentTime;
      if (Number.isInteger(info.playerState)) this.state.playing = info.playerState === 1;
    }
  }
  play() { this.command("playVideo"); }
  pause() { this.command("pauseVideo"); }
  seek(s) { this.command("seekTo", [s, true]); this.state.time = s; }
  time() { return this.state.time; }
  playing() { return this.state.playing; }
  ready() { return this.state.ready; }
  setRate(r) { if (this.rate !== r) { this.rate = r; this.command("setPlaybackRate", [r]); } }
  destroy() { clearTimeout(this.timer); window.removeEventListener("message", this.listener); this.frame.remove(); }
}
