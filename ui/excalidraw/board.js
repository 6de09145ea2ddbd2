// The whiteboard's bundle entry (scripts/build-ui.sh builds it with esbuild into web/excalidraw/):
// Excalidraw and React behind one small API, so the meeting page never imports React itself and
// loads all of this only when someone opens the board (features/board/board.js).
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import { Excalidraw, CaptureUpdateAction, reconcileElements, restoreElements } from "@excalidraw/excalidraw";
import "@excalidraw/excalidraw/index.css";

// Excalidraw's language codes for the meeting's own (i18n.js).
const LANGS = { en: "en", es: "es-ES", fr: "fr-FR", de: "de-DE", it: "it-IT", pt: "pt-PT", nl: "nl-NL",
  ja: "ja-JP", zh: "zh-CN", ar: "ar-SA", he: "he-IL" };

// UI of Excalidraw's own that has no place in a meeting: opening and saving files on this computer
// (the board is the meeting's; the REST export saves it), and the theme switch (the page has one theme).
const UI_OPTIONS = { canvasActions: { loadScene: false, saveToActiveFile: false, toggleTheme: false, export: false,
  saveAsImage: true, clearCanvas: false } };

// mount(el, options) → Promise of the board: merge(), addFiles(), fit(), setReadOnly(), setLanguage(),
// elements(), files(), unmount().
// options: lang, readOnly, onChange(elements, files), onPointerUp().
export function mount(el, options) {
  const root = createRoot(el);
  let readOnly = !!options.readOnly;
  let lang = options.lang;
  let api = null;
  let ready;
  const apiReady = new Promise((resolve) => { ready = resolve; });
  const render = () => root.render(createElement(Excalidraw, {
    langCode: LANGS[lang] || "en",
    viewModeEnabled: readOnly,
    UIOptions: UI_OPTIONS,
    handleKeyboardGlobally: false,
    excalidrawAPI: (a) => { if (!api) { api = a; ready(a); } },
    onChange: (elements, _appState, files) => options.onChange?.(elements, files),
  }));
  render();
  return apiReady.then(() => ({
    // Remote elements in, by Excalidraw's own rule (version, then nonce); not an undoable step.
    merge(remote) {
      const local = api.getSceneElementsIncludingDeleted();
      const elements = reconcileElements(local, restoreElements(remote, null), api.getAppState());
      api.updateScene({ elements, captureUpdate: CaptureUpdateAction.NEVER });
    },
    addFiles(files) { api.addFiles(files); },
    // Brings what is drawn into view: others drew it on screens of other sizes.
    fit() { api.scrollToContent(undefined, { fitToContent: true }); },
    setReadOnly(on) { readOnly = !!on; render(); },
    setLanguage(code) { if (code !== lang) { lang = code; render(); } },
    elements() { return api.getSceneElementsIncludingDeleted(); },
    files() { return api.getFiles(); },
    api,
    unmount() { root.unmount(); },
  }));
}
