// One participant's tile: video (or avatar), name, muted and hand badges.
import { t } from "../../i18n.js";
import { icon, newVideo } from "../../dom.js";
import { feedId } from "../media/state.js";
import { showLocalVideo } from "../media/local.js";

export function createTile(id) {
  const el = document.createElement("div");
  el.className = "tile";
  el.dataset.participantId = id;
  const avatar = document.createElement("div");
  avatar.className = "avatar";
  avatar.append(document.createElement("span"));
  const bar = document.createElement("div");
  bar.className = "tile-bar";
  const mic = document.createElement("span");
  mic.className = "tile-mic";
  mic.setAttribute("role", "img");
  mic.append(icon("i-mic-off"));
  const name = document.createElement("span");
  name.className = "tile-name";
  const hand = document.createElement("span");
  hand.className = "tile-hand";
  hand.append(icon("i-hand"));
  bar.append(mic, name, hand);
  // Pin: this tile becomes the big one of speaker view (grid/view.js listens on the grid).
  const pin = document.createElement("button");
  pin.type = "button";
  pin.className = "tile-pin round-btn small";
  pin.append(icon("i-pin"));
  el.append(avatar, bar, pin);
  let hue = 0;
  for (const c of id) hue = (hue * 31 + c.charCodeAt(0)) % 360;
  el.style.setProperty("--hue", hue);
  return el;
}

/**
 * Two characters for the avatar (docs/ui.md "Initials"): the first letters of the first and the last
 * word when both words start with a letter ("Ada Lovelace" → "AL"); otherwise the first two
 * characters of the first word ("Bot 10" → "BO", "Ada" → "AD", "10" → "10").
 */
export function initials(name) {
  const words = String(name || "").trim().split(/\s+/).filter(Boolean).map((w) => [...w]);
  if (!words.length) return "?";
  const first = words[0];
  const last = words[words.length - 1];
  const letter = (c) => /\p{L}/u.test(c || "");
  const pair = words.length > 1 && letter(first[0]) && letter(last[0]) ? first[0] + last[0] : first.slice(0, 2).join("");
  return pair.toLocaleUpperCase();
}

export function updateTile(el, p, state) {
  if (!p) return;
  const { session, media, participants } = state;
  const self = p.participant_id === session.participantId;
  const cameraOn = self ? media.cameraOn && media.hasVideo : !!p.camera;
  const micOn = self ? media.micOn && media.hasAudio : !!p.mic;
  const hand = self ? participants.hand : !!p.hand;
  const feed = self ? null : feedId(p.feeds?.camera);
  let video = el.querySelector("video");
  if (self) {
    if (!video || video.dataset.local !== "camera") {
      video?.remove();
      video = newVideo();
      video.muted = true;
      video.dataset.local = "camera";
      video.classList.add("mirror");
      el.prepend(video);
    }
    showLocalVideo(video);
  } else if (feed !== null) {
    if (!video || video.dataset.feed !== String(feed)) {
      video?.remove();
      video = newVideo();
      video.dataset.feed = String(feed);
      el.prepend(video);
    }
    attachStream(video, media.streams.get(feed));
  } else if (video) {
    video.remove();
  }
  const pinned = state.grid.pinned === p.participant_id;
  const pinName = t(pinned ? "unpin" : "pin", { name: p.name || "" });
  const pinButton = el.querySelector(".tile-pin");
  if (pinButton.getAttribute("aria-label") !== pinName) {
    pinButton.setAttribute("aria-label", pinName);
    pinButton.title = pinName;
  }
  pinButton.setAttribute("aria-pressed", String(pinned));
  el.classList.toggle("self", self);
  el.classList.toggle("no-video", !cameraOn);
  el.classList.toggle("muted", !micOn);
  el.classList.toggle("hand", hand);
  el.classList.toggle("speaking", participants.talking.has(p.participant_id));
  el.querySelector(".avatar span").textContent = initials(p.name);
  el.querySelector(".tile-name").textContent = self ? `${p.name || session.name} ${t("you")}` : p.name || "";
  const micBadge = el.querySelector(".tile-mic");
  micBadge.title = micOn ? "" : t("micIsOff");
  if (micOn) micBadge.removeAttribute("aria-label"); else micBadge.setAttribute("aria-label", t("micIsOff"));
  micBadge.setAttribute("aria-hidden", String(micOn));
  el.querySelector(".tile-hand").title = hand ? t("handRaised") : "";
}

export function attachStream(video, stream) {
  if (!stream) {
    // The feed's m-line may now carry someone else (the subscriber connection outlives its streams).
    if (video.srcObject) video.srcObject = null;
    return;
  }
  if (video.srcObject === stream) return;
  // Remote videos carry no sound (remote-audio.js plays it), so muted: they always autoplay.
  video.muted = true;
  video.srcObject = stream;
  video.play().catch(() => {});
}
