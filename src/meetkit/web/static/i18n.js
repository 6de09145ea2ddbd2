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

/**
 * The string for `key` in the page's language. `{name}` placeholders are filled from `vars`, numbers
 * written the language's way (Intl.NumberFormat). A value may be a set of
 * plural forms ({one, two, few, many, other, zero}); `vars.n` picks one by the language's own rules
 * (Intl.PluralRules: Arabic has six, Hebrew three, Japanese one).
 */
export function t(key, vars) {
  let s = current[key] ?? en[key] ?? key;
  if (s && typeof s === "object") {
    const form = Number.isFinite(vars?.n) ? new Intl.PluralRules(currentLang).select(vars.n) : "other";
    s = s[form] ?? s.other ?? "";
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? written(vars[k]) : m));
  return s;
}

function written(value) {
  return typeof value === "number" ? new Intl.NumberFormat(currentLang).format(value) : String(value);
}

/** Fills the static markup: data-i18n → textContent, data-i18n-<attr> → that attribute. */
export function translateDocument(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["placeholder", "title", "aria-label"]) {
    const data = "i18n" + attr.replace(/(^|-)(\w)/g, (m, d, c) => c.toUpperCase());
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.dataset[data]));
  }
}
