/* meetkit embed helper (a classic script, served at /embed.js; types: /embed.d.ts).
 *
 *   var meeting = Meetkit.embed(container, url, {width, height, onEvent});
 *   meeting.on("participant_joined", function (data) { ... });
 *   meeting.setMicrophone(false).then(...);   // every command returns a promise (docs/embed.md)
 *   meeting.destroy();
 *
 * or, without any code:
 *   <div id="meeting"></div>
 *   <script src="https://meet.example.com/embed.js" data-meetkit-url="https://meet.example.com/123456789"
 *           data-target="#meeting" data-width="100%" data-height="640px"></script>
 * The autoloaded meeting (Meetkit.autoloaded) dispatches a "meetkit" CustomEvent on the container
 * (detail: {event, data}).
 */
(function () {
  "use strict";

  var ALLOW = "camera; microphone; display-capture; fullscreen; autoplay";
  var COMMAND_TIMEOUT_MS = 10000;

  function size(value, fallback) {
    if (value === undefined || value === null || value === "") return fallback;
    return typeof value === "number" ? value + "px" : String(value);
  }

  function embed(container, url, options) {
    options = options || {};
    var target = typeof container === "string" ? document.querySelector(container) : container;
    if (!target || !target.appendChild) throw new Error("Meetkit.embed: container not found");
    var src = new URL(url, document.baseURI);
    if (src.protocol !== "https:" && src.protocol !== "http:") throw new Error("Meetkit.embed: url must be http(s)");
    var origin = src.origin;

    var iframe = document.createElement("iframe");
    iframe.setAttribute("allow", ALLOW);
    iframe.setAttribute("title", options.title || "Meeting");
    // The meeting posts its events to the framing page's origin only; this lets it learn that origin
    // (document.referrer) in browsers without location.ancestorOrigins.
    iframe.setAttribute("referrerpolicy", "origin");
    iframe.style.border = "none";
    iframe.style.display = "block";
    iframe.style.width = size(options.width, "100%");
    iframe.style.height = size(options.height, "600px");
    iframe.src = src.href;

    var listeners = {};  // event → [handler]
    var pending = {};    // command id → {resolve, reject, timer}
    var queued = [];     // commands given before the meeting page said it is ready
    var ready = false;
    var nextId = 1;

    function deliver(fn, event, data) {
      try {
        fn(event, data);
      } catch (err) {
        setTimeout(function () { throw err; });
      }
    }

    function onMessage(event) {
      // Only this frame's page, from the meeting's own (meetkit's) origin, speaking meetkit's format:
      // another frame or window cannot make up meeting events or answers.
      if (event.source !== iframe.contentWindow) return;
      if (event.origin !== origin) return;
      var d = event.data;
      if (!d || typeof d !== "object" || d.source !== "meetkit") return;
      if (typeof d.reply === "string") {
        var p = pending[d.reply];
        if (!p) return;
        delete pending[d.reply];
        clearTimeout(p.timer);
        if (d.ok) p.resolve(d.result || {});
        else p.reject(commandError((d.error && d.error.code) || "failed", (d.error && d.error.message) || "failed"));
        return;
      }
      if (typeof d.event !== "string") return;
      if (d.event === "ready" && !ready) {
        ready = true;
        queued.splice(0).forEach(function (message) { iframe.contentWindow.postMessage(message, origin); });
      }
      if (typeof options.onEvent === "function") deliver(options.onEvent, d.event, d.data);
      (listeners[d.event] || []).slice().forEach(function (fn) { deliver(function (e, data) { fn(data); }, d.event, d.data); });
    }
    window.addEventListener("message", onMessage);
    target.appendChild(iframe);

    function command(name, args) {
      return new Promise(function (resolve, reject) {
        var id = "c" + nextId++;
        var timer = setTimeout(function () {
          delete pending[id];
          reject(commandError("timeout", "the meeting did not answer " + name + " within 10 s"));
        }, COMMAND_TIMEOUT_MS);
        pending[id] = { resolve: resolve, reject: reject, timer: timer };
        var message = { source: "meetkit-embed", id: id, command: name, args: args || {} };
        if (ready) iframe.contentWindow.postMessage(message, origin);
        else queued.push(message);
      });
    }

    return {
      iframe: iframe,
      on: function (event, fn) { (listeners[event] = listeners[event] || []).push(fn); return this; },
      off: function (event, fn) {
        listeners[event] = (listeners[event] || []).filter(function (x) { return x !== fn; });
        return this;
      },
      setMicrophone: function (on) { return command("setMicrophone", { on: !!on }); },
      mute: function () { return command("setMicrophone", { on: false }); },
      unmute: function () { return command("setMicrophone", { on: true }); },
      setCamera: function (on) { return command("setCamera", { on: !!on }); },
      leave: function () { return command("leave"); },
      setDisplayName: function (name) { return command("setDisplayName", { name: String(name) }); },
      toggleChat: function (open) { return command("toggleChat", open === undefined ? {} : { open: !!open }); },
      openWhiteboard: function (open) { return command("openWhiteboard", open === undefined ? {} : { open: !!open }); },
      startRecording: function () { return command("startRecording"); },
      stopRecording: function () { return command("stopRecording"); },
      admit: function (participantId) { return command("admit", { participantId: participantId }); },
      deny: function (participantId) { return command("deny", { participantId: participantId }); },
      endMeeting: function () { return command("endMeeting"); },
      destroy: function () {
        window.removeEventListener("message", onMessage);
        Object.keys(pending).forEach(function (id) {
          clearTimeout(pending[id].timer);
          pending[id].reject(commandError("destroyed", "the meeting was removed from the page"));
        });
        pending = {};
        if (iframe.parentNode) iframe.parentNode.removeChild(iframe);
      },
    };
  }

  function commandError(code, message) {
    var err = new Error(message);
    err.code = code;
    return err;
  }

  var Meetkit = window.Meetkit || {};
  Meetkit.embed = embed;
  window.Meetkit = Meetkit;

  var script = document.currentScript;
  var url = script && script.getAttribute("data-meetkit-url");
  if (!url) return;
  function autoload() {
    var selector = script.getAttribute("data-target");
    var container = selector ? document.querySelector(selector) : null;
    if (!container) {
      container = document.createElement("div");
      script.parentNode.insertBefore(container, script.nextSibling);
    }
    Meetkit.autoloaded = embed(container, url, {
      width: script.getAttribute("data-width") || undefined,
      height: script.getAttribute("data-height") || undefined,
      onEvent: function (event, data) {
        container.dispatchEvent(new CustomEvent("meetkit", { detail: { event: event, data: data } }));
      },
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", autoload);
  else autoload();
})();
