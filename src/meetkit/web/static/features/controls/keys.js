// Keyboard shortcuts in the meeting (docs/ui.md "Keyboard"): M microphone, V camera, C chat, H hand —
// never while typing in a field, nor with a modifier held (the browser's own shortcuts). Escape closes
// the open panel or the More menu (the whiteboard's canvas keeps its keys) and gives the focus back to the control that opened it.
import { store } from "../../core.js";
import { $ } from "../../dom.js";
import { isIn } from "../session/state.js";
import { togglePanel } from "./controls.js";

const KEYS = { m: "#btn-mic", v: "#btn-camera", c: "#btn-chat", h: "#btn-hand" };

function typing(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function shown(el) {
  return !!el && getComputedStyle(el).display !== "none" && !el.disabled;
}

export function startKeys() {
  document.addEventListener("keydown", (event) => {
    if (!isIn(store.state, "joined") || event.defaultPrevented) return;
    if (event.key === "Escape") {
      const panel = store.state.controls.openPanel;
      if (panel) {
        togglePanel(panel, false);
        $(panel === "chat" ? "#btn-chat" : "#btn-participants")?.focus();
        event.preventDefault();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || document.querySelector("dialog[open]")) return;
    if (event.target.closest?.("#board-canvas")) return;  // the whiteboard's own shortcuts (H: hand tool ...)
    const selector = KEYS[event.key.toLowerCase()];
    const button = selector ? $(selector) : null;
    if (!shown(button)) return;
    button.click();
    event.preventDefault();
  });
}
