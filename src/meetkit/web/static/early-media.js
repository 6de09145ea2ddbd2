// A classic script in the page head (the CSP allows no inline script; docs/embed.md).
// The camera and microphone are asked for while the modules load (LocalMedia.acquire in media.js
// takes this promise; the video constraints are media.js's VIDEO), so devices and modules overlap.
window.__meetkitEarlyMedia = navigator.mediaDevices && navigator.mediaDevices.getUserMedia
  ? navigator.mediaDevices.getUserMedia({ audio: true,
    video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 20, max: 30 } } })
  : null;
if (window.__meetkitEarlyMedia) window.__meetkitEarlyMedia.catch(() => {});
