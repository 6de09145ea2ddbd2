/* meetkit embed helper (a classic script, served at /embed.js).
 *
 *   Meetkit.embed(container, url, {width, height, onEvent}) → {iframe, destroy()}
 *
 * or, without any code:
 *   <div id="meeting"></div>
 *   <script src="https://meet.example.com/embed.js" data-meetkit-url="https://meet.example.com/123456789"
 *           data-target="#meeting" data-width="100%" data-height="640px"></script>
 * The autoloaded meeting dispatches a "meetkit" CustomEvent on the container (detail: {event, data}).
 */
(function () {
  "use strict";

  var ALLOW = "camera; microphone; display-capture; fullscreen; autoplay";

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

    function onMessage(event) {
      // Only this frame's page, from the meeting's own (meetkit's) origin, speaking meetkit's format:
      // another frame or window cannot make up meeting events.
      if (event.source !== iframe.contentWindow) return;
      if (event.origin !== origin) return;
      var d = event.data;
      if (!d || typeof d !== "object" || d.source !== "meetkit" || typeof d.event !== "string") return;
      if (typeof options.onEvent === "function") {
        try {
          options.onEvent(d.event, d.data);
        } catch (err) {
          setTimeout(function () { throw err; });
        }
      }
    }
    window.addEventListener("message", onMessage);
    target.appendChild(iframe);

    return {
      iframe: iframe,
      destroy: function () {
        window.removeEventListener("message", onMessage);
        if (iframe.parentNode) iframe.parentNode.removeChild(iframe);
      },
    };
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
