// UI strings. Every visible word of the meeting page comes from here (tables in locales/);
// a language the REST API accepts without a table here (ca) falls back to English. Arabic and
// Hebrew lay the page out right to left.

import en from "./locales/en.js";
import es from "./locales/es.js";
import fr from "./locales/fr.js";
import de from "./locales/de.js";
import it from "./locales/it.js";
import pt from "./locales/pt.js";
import nl from "./locales/nl.js";
import ja from "./locales/ja.js";
import zh from "./locales/zh.js";
import ar from "./locales/ar.js";
import he from "./locales/he.js";

export const TABLES = { en, es, fr, de, it, pt, nl, ja, zh, ar, he };
const RIGHT_TO_LEFT = new Set(["ar", "he"]);

let current = en;
let currentLang = "en";

/**
 * Picks the table for the room's `ui_settings.language`. "default" (or nothing) follows the
 * browser's languages; "pt-br" falls back to "pt" then to English, and so on.
 */
export function resolveLanguage(setting, browserLanguages) {
  const wanted = [];
  const s = typeof setting === "string" ? setting.trim().toLowerCase() : "";
  if (s && s !== "default") wanted.push(s);
  else for (const l of browserLanguages || []) if (typeof l === "string") wanted.push(l.toLowerCase());
  for (const w of wanted) {
    if (TABLES[w]) return w;
    const base = w.split(/[-_]/)[0];
    if (TABLES[base]) return base;
  }
  return "en";
}

export function setLanguage(lang) {
  currentLang = TABLES[lang] ? lang : "en";
  current = TABLES[currentLang];
  document.documentElement.lang = currentLang;
  document.documentElement.dir = RIGHT_TO_LEFT.has(currentLang) ? "rtl" : "ltr";
  return currentLang;
}

export function language() {
  return currentLang;
}

export function t(key, vars) {
  let s = current[key] ?? en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** Fills the static markup: data-i18n → textContent, data-i18n-<attr> → that attribute. */
export function translateDocument(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["placeholder", "title", "aria-label"]) {
    const data = "i18n" + attr.replace(/(^|-)(\w)/g, (m, d, c) => c.toUpperCase());
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.dataset[data]));
  }
}
