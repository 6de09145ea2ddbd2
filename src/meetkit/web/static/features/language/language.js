// The "Language" control (available_features.is_locale_switcher_available): every table the page has,
// each named in its own language (Intl.DisplayNames). A choice relabels the page at once (every view
// draws again) and is remembered in this browser, over the room's ui_settings.language.
import { dispatch } from "../../core.js";
import { REDRAW } from "../../store.js";
import { $ } from "../../dom.js";
import { TABLES, language, setLanguage, translateDocument } from "../../i18n.js";

const KEY = "meetkit.language";

/** The language this browser chose before, if it is one the page has. */
export function chosenLanguage() {
  try {
    const lang = localStorage.getItem(KEY);
    return lang && TABLES[lang] ? lang : null;
  } catch {
    return null;  // storage blocked
  }
}

function nameOf(code) {
  try {
    return new Intl.DisplayNames([code], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

export function startLanguage() {
  const select = $("#language-select");
  for (const code of Object.keys(TABLES)) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = nameOf(code);
    option.lang = code;
    select.append(option);
  }
  select.value = language();
  select.addEventListener("change", () => switchLanguage(select.value));
}

export function switchLanguage(code) {
  setLanguage(code);
  try { localStorage.setItem(KEY, language()); } catch { /* storage blocked */ }
  $("#language-select").value = language();
  translateDocument();
  dispatch({ type: REDRAW });
}
