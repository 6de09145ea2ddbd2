// The server's clock, as this page estimates it (docs/watch.md "Clock"): pings carry an id, pongs
// bring it back with the server's time; of the samples, the one with the shortest round trip wins,
// and its error is at most half that round trip (NTP's reasoning). Watch together puts every page's
// player on the server's timeline with it.
import { send } from "../../core.js";

let seq = 0;
const sent = new Map();  // ping id → performance.now() when sent
let best = null;         // {rtt, offset}: server time − local time, in ms
let rough = 0;           // from a message's own server_time, until a ping came back

function localNow() {
  return performance.timeOrigin + performance.now();
}

/** A few pings, a quarter second apart (within the ping limit: docs/security.md). */
export function sampleServerClock(count = 5) {
  for (let i = 0; i < count; i++) {
    setTimeout(() => {
      const id = ++seq;
      sent.set(id, performance.now());
      send({ type: "ping", id });
    }, i * 250);
  }
}

export function onPong(msg) {
  if (!Number.isInteger(msg.id) || !sent.has(msg.id) || !Number.isFinite(msg.server_time)) return;
  const t0 = sent.get(msg.id);
  sent.delete(msg.id);
  const t1 = performance.now();
  const rtt = t1 - t0;
  const offset = msg.server_time - (performance.timeOrigin + (t0 + t1) / 2);
  if (!best || rtt <= best.rtt) best = { rtt, offset };
}

/** A first guess from a message stamped when the server sent it (off by its one-way delay). */
export function noteServerTime(serverTime) {
  if (Number.isFinite(serverTime)) rough = serverTime - localNow();
}

/** The server's time now, in ms since the epoch. */
export function serverNow() {
  return localNow() + (best ? best.offset : rough);
}
