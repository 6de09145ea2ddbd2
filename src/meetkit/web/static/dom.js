// Small DOM helpers shared by the features' views. Participant-provided text only via textContent.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export function icon(id) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `#${id}`);
  svg.append(use);
  return svg;
}

export function button(className, label) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = label;
  return b;
}

export function setBadge(btn, n) {
  const badge = btn.querySelector(".badge");
  badge.hidden = !n;
  badge.textContent = n > 99 ? "99+" : String(n || "");
}

export function toast(text, { sticky = false, action = null, onAction = null } = {}) {
  const el = document.createElement("div");
  el.className = "toast";
  el.setAttribute("role", "status");
  if (action && onAction) {
    el.classList.add("actionable");
    const b = button("toast-action", action);
    b.addEventListener("click", () => { onAction(); el.remove(); });
    el.append(b);
  } else {
    el.textContent = text;
  }
  $("#toasts").append(el);
  if (!sticky) setTimeout(() => el.remove(), 5000);
  return el;
}

export function newVideo() {
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  return video;
}
