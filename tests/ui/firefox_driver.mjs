// Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi, for tests/firefox.py: one
// headless browser, one page, commands as JSON lines on stdin, one JSON reply line each on stdout.
// Playwright for Python cannot drive this Firefox (docs/media.md "Firefox"); puppeteer-core never
// downloads a browser, it only launches the one given.
//
//   → {"id": 1, "cmd": "goto", "url": "..."}          ← {"id": 1, "ok": true, "value": null}
//   cmds: init_script {source} · goto {url} · fill {selector, value} · click {selector} · evaluate {fn, arg?}
//         wait_function {fn, timeout_ms} · close
// The first line out is {"ready": true, "version": "..."} once the page exists.
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

const FIREFOX = process.env.MEETKIT_FIREFOX || "/usr/bin/firefox-esr";
const COMMAND_LIMIT_MS = 60000;

// What keeps this Firefox on the machine: fake camera and microphone without a prompt; ICE with
// real (not mDNS) host addresses including loopback ones, so the media test link's 127.0.0.5 is a
// candidate (docs/media.md "ICE interface"; meetkit passes Janus only the 127.0.0.0/8 ones). Firefox
// gathers every interface only for an origin with a camera/microphone permission, hence the
// permissions.default.* (the fake devices alone do not count); its ice.force_interface pref does
// not reach the ICE stack in 153. And none of the calls home a fresh profile makes (updates,
// telemetry, captive portal, remote settings).
const PREFS = {
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  "permissions.default.camera": 1,
  "permissions.default.microphone": 1,
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
  "media.peerconnection.ice.loopback": true,
  "media.peerconnection.ice.default_address_only": false,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  "media.peerconnection.ice.link_local": false,
  "media.peerconnection.ice.proxy_only_if_behind_proxy": false,
  "media.peerconnection.default_iceservers": "[]",
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "network.dns.disableIPv6": true,
  "network.trr.mode": 5,
  "network.prefetch-next": false,
  "network.dns.disablePrefetch": true,
  "network.http.speculative-parallel-limit": 0,
  "app.update.enabled": false,
  "app.update.auto": false,
  "app.normandy.enabled": false,
  "app.shield.optoutstudies.enabled": false,
  "datareporting.healthreport.uploadEnabled": false,
  "datareporting.policy.dataSubmissionEnabled": false,
  "toolkit.telemetry.enabled": false,
  "toolkit.telemetry.unified": false,
  "toolkit.telemetry.server": "",
  "browser.ping-centre.telemetry": false,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "browser.safebrowsing.downloads.enabled": false,
  "browser.safebrowsing.provider.mozilla.updateURL": "",
  "browser.search.update": false,
  "extensions.update.enabled": false,
  "extensions.getAddons.cache.enabled": false,
  "extensions.blocklist.enabled": false,
  "services.settings.server": "http://127.0.0.1:9/",
  "messaging-system.rsexperimentloader.enabled": false,
  "browser.newtabpage.enabled": false,
  "browser.startup.homepage": "about:blank",
  "geo.provider.network.url": "",
  "media.gmp-manager.url": "",
  "media.gmp-gmpopenh264.enabled": false,
  "media.gmp-gmpopenh264.autoupdate": false,
  "identity.fxaccounts.enabled": false,
  "dom.push.connection.enabled": false,
  "dom.push.serverURL": "",
  "browser.region.network.url": "",
  "browser.region.update.enabled": false,
  "extensions.systemAddon.update.enabled": false,
  "browser.topsites.contile.enabled": false,
  "browser.newtabpage.activity-stream.feeds.section.topstories": false,
};

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// The page's functions arrive as source text and run in the page as one expression (BiDi
// script.evaluate, which the page's CSP does not stop, unlike an eval inside the page).
const call = (source, arg) => `(${source})(${JSON.stringify(arg ?? null)})`;

async function run(state, msg) {
  const { page } = state;
  switch (msg.cmd) {
    case "goto":
      await navigate(state, msg.url);
      return null;
    case "init_script":
      state.initScripts.push(String(msg.source));
      await page.evaluateOnNewDocument(String(msg.source));
      return null;
    case "fill":
      await page.locator(msg.selector).setTimeout(COMMAND_LIMIT_MS).fill(String(msg.value));
      return null;
    case "click":
      await page.locator(msg.selector).setTimeout(COMMAND_LIMIT_MS).click();
      return null;
    case "evaluate":
      return await page.evaluate(call(msg.fn, msg.arg));
    case "wait_function":
      await page.waitForFunction(call(msg.fn), { timeout: msg.timeout_ms ?? 15000, polling: 200 });
      return null;
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

// Shortly after launch Firefox may still swap the first tab's browsing context, detaching a page
// that navigates too early ("Frame detached"): open a fresh page and navigate again (bounded).
async function navigate(state, url) {
  let lastError;
  for (let attempt = 0; attempt < 4; attempt += 1) {
    try {
      await state.page.goto(url, { waitUntil: "load", timeout: COMMAND_LIMIT_MS });
      await state.page.evaluate("1");
      return;
    } catch (err) {
      lastError = err;
      process.stderr.write(`firefox_driver: navigation ${attempt}: ${err.message}\n`);
      if (!/detached|Target closed/i.test(String(err && err.message))) throw err;
      await new Promise((r) => setTimeout(r, 1000));
      await state.page.close().catch(() => {});
      state.page = await openPage(state.browser);
      for (const source of state.initScripts) await state.page.evaluateOnNewDocument(source);
    }
  }
  throw lastError;
}

async function openPage(browser) {
  const page = await browser.newPage();
  page.on("console", (m) => process.stderr.write(`[firefox console] ${m.type()}: ${m.text()}\n`));
  page.on("pageerror", (e) => process.stderr.write(`[firefox pageerror] ${e.message}\n`));
  return page;
}

async function main() {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    protocol: "webDriverBiDi",
    extraPrefsFirefox: PREFS,
    timeout: COMMAND_LIMIT_MS,
  });
  const state = { browser, page: await openPage(browser), initScripts: [] };
  reply({ ready: true, version: await browser.version() });

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await browser.close().catch(() => {});
    process.exit(0);
  };
  const lines = createInterface({ input: process.stdin });
  // One command at a time, in order: the Python side waits for each reply. The end of stdin (the
  // test is done or gone) closes the browser after the commands already read.
  let chain = Promise.resolve();
  lines.on("close", () => { chain = chain.then(close); });
  lines.on("line", (line) => {
    chain = chain.then(async () => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        reply({ id: null, ok: false, error: "not JSON" });
        return;
      }
      if (msg.cmd === "close") {
        reply({ id: msg.id, ok: true, value: null });
        await close();
        return;
      }
      try {
        reply({ id: msg.id, ok: true, value: (await run(state, msg)) ?? null });
      } catch (err) {
        reply({ id: msg.id, ok: false, error: String(err && err.message ? err.message : err) });
      }
    });
  });
}

main().catch((err) => {
  process.stderr.write(`firefox_driver: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
