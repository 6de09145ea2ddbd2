// Publishing our camera (with the microphone; simulcast) and our screen: one RTCPeerConnection per
// kind, offers sent at once with their candidates trickled, `media.publish` → `media.answer`; ICE
// restarted on the same connection (and feed) when the network changes or the connection fails.
// Each kind's publishes are queued, so an answer always meets the offer it answers (docs/ui.md "Media").
import { store, dispatch, runtime, send, newPeerConnection } from "../../core.js";
import { closePeer } from "../../media.js";
import { t } from "../../i18n.js";
import { toast } from "../../dom.js";
import { CAMERA_SET, SCREEN_SET, VIDEO_ALLOWED, feedId } from "./state.js";
import { joined, syncTracks, sendMediaState } from "./tracks.js";
import { makeTrickleOffer, onNetworkChange, trickleFrom, watchConnection } from "./ice.js";
import { failPublishWaiters, rejectPublish, requestPublish } from "./requests.js";

export { failPublishWaiters, onPublishAnswer } from "./requests.js";

const RESTARTS_BEFORE_REPUBLISH = 2;  // ICE restarts of one connection that failed again: start over
// A publish that failed for a reason that passes (no answer in time on a busy server, the media
// server refused or lost it, the media never came up) is tried again, later each time, for as long as
// we are in the meeting: a camera that never comes back is worse than a late one. Told once.
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const TELL_AFTER_FAILURES = 3;
const PASSING = new Set(["timeout", "publish_failed"]);

// Three layers of the camera, highest first (Janus is told `rid_order: "hml"`): a subscriber gets
// the one fitting its tile. The browser drops the layers its source is too small for.
const CAMERA_LAYERS = [
  { rid: "h", maxBitrate: 1200000 },
  { rid: "m", scaleResolutionDownBy: 2, maxBitrate: 450000 },
  { rid: "l", scaleResolutionDownBy: 4, maxBitrate: 150000 },
];

export const pub = {
  publisher: null,         // RTCPeerConnection for kind "camera"
  publisherFeed: null,
  published: false,        // the camera publisher has its answer
  cameraGen: 0,
  screenPublisher: null,
  screenStream: null,
  screenFeed: null,
  screenGen: 0,
  chain: { camera: Promise.resolve(), screen: Promise.resolve() },
  retries: { camera: 0, screen: 0 },
  unavailableShown: false,
};

/** Swaps the track of the publisher's sender of this kind; false when it has no such sender. */
export async function replaceSenderTrack(kind, track) {
  const pc = pub.publisher;
  if (!pc || pc.connectionState === "closed") return false;
  const tr = pc.getTransceivers().find((x) => x.receiver.track?.kind === kind && x.sender);
  if (!tr) return false;
  try {
    await tr.sender.replaceTrack(track);
    return true;
  } catch {
    return false;
  }
}

/** Publishes again from scratch. */
export function schedulePublishCamera(replace = false) {
  const gen = ++pub.cameraGen;
  pub.chain.camera = pub.chain.camera
    .then(() => publishCamera(gen, replace))
    .catch((err) => console.error("meetkit: publish camera", err));
}

async function publishCamera(gen, replace) {
  if (gen !== pub.cameraGen || !joined()) return;
  if (replace && pub.published) send({ type: "media.unpublish", kind: "camera" });
  closePeer(pub.publisher);
  pub.publisher = null;
  pub.published = false;
  pub.publisherFeed = null;
  const { media } = store.state;
  const audio = runtime.local.audioTrack;
  const video = media.videoAllowed && media.cameraOn ? runtime.local.videoTrack : null;
  if (!audio && !video) return;
  const pc = newPeerConnection();
  pub.publisher = pc;
  const stream = new MediaStream([audio, video].filter(Boolean));
  if (audio) pc.addTransceiver(audio, { direction: "sendonly", streams: [stream] });
  if (video) pc.addTransceiver(video, { direction: "sendonly", streams: [stream], sendEncodings: CAMERA_LAYERS });
  watchPublisher(pc, "camera");
  const offer = await makeTrickleOffer(pc);
  if (gen !== pub.cameraGen || pub.publisher !== pc) return;
  let answer;
  try {
    answer = await requestPublish("camera", offer, pc);
  } catch (err) {
    if (pub.publisher !== pc) return;
    closePeer(pc);
    pub.publisher = null;
    if (err.code === "video_limit") {
      dispatch({ type: VIDEO_ALLOWED, allowed: false });
      dispatch({ type: CAMERA_SET, on: false });
      runtime.local.stopCamera();
      syncTracks();
      toast(err.message || t("videoLimit"));
      sendMediaState();
      if (audio) schedulePublishCamera();
    } else if (PASSING.has(err.code)) {
      retryLater("camera", err);
    } else if (!["disconnected", "superseded", "media_unavailable"].includes(err.code)) {
      // (media_unavailable was already said when the meeting was entered)
      toast(t("mediaFailed", { message: err.message || err.code }));
    }
    return;
  }
  if (pub.publisher !== pc) return;
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  pub.published = true;
  pub.publisherFeed = feedId(answer.feed);
}

export function schedulePublishScreen() {
  const gen = ++pub.screenGen;
  pub.chain.screen = pub.chain.screen
    .then(() => publishScreen(gen))
    .catch((err) => console.error("meetkit: publish screen", err));
}

async function publishScreen(gen) {
  if (gen !== pub.screenGen || !pub.screenStream || !joined()) return;
  closePeer(pub.screenPublisher);
  const track = pub.screenStream.getVideoTracks()[0];
  if (!track) return;
  const pc = newPeerConnection();
  pub.screenPublisher = pc;
  pub.screenFeed = null;
  pc.addTransceiver(track, { direction: "sendonly", streams: [pub.screenStream] });
  watchPublisher(pc, "screen");
  const offer = await makeTrickleOffer(pc);
  if (gen !== pub.screenGen || pub.screenPublisher !== pc) return;
  let answer;
  try {
    answer = await requestPublish("screen", offer, pc);
  } catch (err) {
    if (pub.screenPublisher !== pc || err.code === "disconnected" || err.code === "superseded") return;
    if (PASSING.has(err.code)) {
      retryLater("screen", err);
      return;
    }
    toast(err.code === "video_limit" ? err.message || t("screenFailed") : t("screenFailed"));
    stopScreen();
    return;
  }
  if (pub.screenPublisher !== pc) return;
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  pub.screenFeed = feedId(answer.feed) ?? -1;
}

export async function startScreen() {
  if (pub.screenStream || !joined()) return;
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    if (err && err.name !== "NotAllowedError" && err.name !== "AbortError") toast(t("screenFailed"));
    return;
  }
  pub.screenStream = stream;
  const track = stream.getVideoTracks()[0];
  if (track) track.addEventListener("ended", () => stopScreen());
  dispatch({ type: SCREEN_SET, on: true });
  schedulePublishScreen();
}

export function stopScreen() {
  if (!pub.screenStream) return;
  for (const track of pub.screenStream.getTracks()) track.stop();
  pub.screenStream = null;
  pub.screenGen += 1;
  const wasPublishing = !!pub.screenPublisher || pub.screenFeed !== null;
  closePeer(pub.screenPublisher);
  pub.screenPublisher = null;
  if (wasPublishing) send({ type: "media.unpublish", kind: "screen" });
  pub.screenFeed = null;
  dispatch({ type: SCREEN_SET, on: false });
}

const livePublisher = (kind) => (kind === "camera" ? pub.publisher : pub.screenPublisher);

function watchPublisher(pc, kind) {
  pc.__meetkitTrickle = trickleFrom(pc, kind);
  pc.__meetkitRestarts = 0;
  watchConnection(pc, () => restartPublisher(kind, pc));
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") pc.__meetkitRestarts = 0;
  });
}

/**
 * Restarts ICE on our `kind` publisher (same connection, same feed: nobody resubscribes): a new offer
 * with new credentials as `media.publish {restart: true}`. After a few restarts that did not help, or
 * when the server has no live publisher to restart, the connection is made again from scratch.
 */
export function restartPublisher(kind, pc = livePublisher(kind)) {
  if (!pc || pc !== livePublisher(kind) || pc.connectionState === "closed") return;
  const answered = kind === "camera" ? pub.published : pub.screenFeed !== null;
  if (!answered) return;  // its first publish is still under way
  if (++pc.__meetkitRestarts > RESTARTS_BEFORE_REPUBLISH) {
    republish(kind);
    return;
  }
  pub.chain[kind] = pub.chain[kind]
    .then(() => restartIce(kind, pc))
    .catch((err) => console.error("meetkit: ICE restart", kind, err));
}

async function restartIce(kind, pc) {
  if (pc !== livePublisher(kind)) return;
  pc.restartIce();
  pc.__meetkitTrickle.hold();
  const offer = await makeTrickleOffer(pc);
  let answer;
  try {
    answer = await requestPublish(kind, offer, pc, { restart: true });
  } catch (err) {
    if (pc !== livePublisher(kind) || err.code === "superseded" || err.code === "disconnected") return;
    republish(kind);
    return;
  }
  if (pc !== livePublisher(kind)) return;
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
}

function republish(kind) {
  if (kind === "camera") schedulePublishCamera(true);
  else if (pub.screenStream) republishScreen();
}

// Another network (Wi-Fi → cable, back online): the old paths may be gone; restart before they fail.
onNetworkChange(() => {
  for (const kind of ["camera", "screen"]) restartPublisher(kind);
});

function republishScreen() {
  send({ type: "media.unpublish", kind: "screen" });
  schedulePublishScreen();
}

/** A candidate Janus trickled for one of our publishers (`media.candidate`). */
export function onPublisherCandidate(msg) {
  const pc = msg.target === "camera" || msg.target === "screen" ? livePublisher(msg.target) : null;
  if (!pc || pc.connectionState === "closed" || !pc.remoteDescription) return;
  pc.addIceCandidate(msg.candidate || null).catch(() => {});
}

/** A `media.error` about a publish (not a feed); true when it was one. */
export function onPublishError(msg) {
  if ((msg.feed === undefined || msg.feed === null) && rejectPublish(msg)) return true;
  if (feedId(msg.feed) !== null) return false;
  if (msg.code === "publish_failed" && (msg.kind === "camera" || msg.kind === "screen")) {
    // The answer came, but the media never reached the server (or the server lost it): again.
    retryLater(msg.kind, msg);
    return true;
  }
  if (msg.code === "video_limit" && msg.kind === "camera") cameraRefused(msg);
  else if (msg.code === "video_limit") toast(msg.message || t("videoLimit"));
  else if (msg.code !== "media_unavailable" || !pub.unavailableShown) {
    pub.unavailableShown = msg.code === "media_unavailable";
    toast(t("mediaFailed", { message: msg.message || msg.code }));
  }
  return true;
}

/** Publishes `kind` again a little later, unless something else published it meanwhile. */
function retryLater(kind, err) {
  const tries = (pub.retries[kind] = (pub.retries[kind] || 0) + 1);
  if (tries === TELL_AFTER_FAILURES) toast(t("mediaFailed", { message: err.message || err.code }));
  const gen = kind === "camera" ? pub.cameraGen : pub.screenGen;
  setTimeout(() => {
    if (!joined() || gen !== (kind === "camera" ? pub.cameraGen : pub.screenGen)) return;
    if (kind === "camera") schedulePublishCamera(true);
    else if (pub.screenStream) republishScreen();
  }, RETRY_DELAYS_MS[Math.min(tries, RETRY_DELAYS_MS.length) - 1]);
}

/** Our camera was turned on again over the video sender it kept, but its place was taken meanwhile. */
function cameraRefused(msg) {
  dispatch({ type: CAMERA_SET, on: false });
  replaceSenderTrack("video", null);
  runtime.local.stopCamera();
  syncTracks();
  toast(msg.message || t("videoLimit"));
  sendMediaState();
}

/** Our own participant was announced with feeds: the retries start over. */
export function ownFeedsAnnounced(p) {
  for (const kind of ["camera", "screen"]) if (feedId(p.feeds?.[kind]) !== null) pub.retries[kind] = 0;
}

/** Closes both publishers (the media server restarted, or the meeting is over for us). */
export function closePublishers({ stopScreenTracks = false } = {}) {
  failPublishWaiters("superseded");
  closePeer(pub.publisher);
  pub.publisher = null;
  pub.published = false;
  pub.publisherFeed = null;
  closePeer(pub.screenPublisher);
  pub.screenPublisher = null;
  pub.screenFeed = null;
  if (stopScreenTracks) {
    pub.cameraGen += 1;
    pub.screenGen += 1;
    if (pub.screenStream) for (const track of pub.screenStream.getTracks()) track.stop();
    pub.screenStream = null;
    dispatch({ type: SCREEN_SET, on: false });
  }
}
