// How the microphone and camera toggles look, and the notice when the browser refuses a device
// (docs/ui.md "Blocked devices"). Toggles keep one name; `aria-pressed="true"` means live.
import { t } from "../../i18n.js";
import { cameraBlocked, micBlocked } from "./state.js";

function drawToggle(btn, { name, pressed, blocked, title }) {
  btn.setAttribute("aria-label", name);
  btn.title = title;
  btn.classList.toggle("off", !pressed);
  btn.classList.toggle("blocked", blocked);
  // Still clickable when blocked: the click retries. It only looks disabled.
  if (blocked) btn.setAttribute("aria-disabled", "true"); else btn.removeAttribute("aria-disabled");
  if (btn.closest("[role=menu]")) {
    btn.removeAttribute("aria-pressed");
    btn.setAttribute("aria-checked", String(pressed));
  } else {
    btn.removeAttribute("aria-checked");
    btn.setAttribute("aria-pressed", String(pressed));
  }
  const label = btn.querySelector(".label");
  if (label) label.textContent = name;
}

export function drawMicToggle(btn, state) {
  const { media } = state;
  const blocked = micBlocked(state);
  // Before the devices answered there is no track yet: show what the user chose.
  const live = media.micOn && !media.micProblem;
  drawToggle(btn, {
    name: t(blocked ? "micBlocked" : "microphone"),
    pressed: live && !blocked,
    blocked,
    title: blocked ? t("micBlockedText") : t(live ? "mute" : "unmute"),
  });
}

export function drawCameraToggle(btn, state) {
  const { media } = state;
  const blocked = cameraBlocked(state);
  const live = media.cameraOn && media.hasVideo;
  drawToggle(btn, { name: t("camera"), pressed: live, blocked, title: blocked ? t("cameraBlockedText") : t(live ? "cameraOff" : "cameraOn") });
}

export { drawToggle };

/** What to tell about the devices: {text, retry} or null. `prejoin` also says when none was found. */
export function deviceNotice(state, prejoin) {
  const mic = micBlocked(state);
  const camera = cameraBlocked(state);
  if (mic && camera) return { text: t("devicesBlocked"), retry: true };
  if (mic) return { text: t("micBlockedText"), retry: true };
  if (camera) return { text: t("cameraBlockedText"), retry: true };
  const { media } = state;
  if (prejoin && !media.hasAudio && !media.hasVideo && (media.micProblem || media.cameraProblem)) {
    return { text: t("noDevices"), retry: false };
  }
  return null;
}
