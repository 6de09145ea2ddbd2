// A publish's offer and the answer that meets it: one waiter per kind, superseded by the next offer
// of that kind, failed by a timeout, a refusal (`media.error` with the kind) or a lost socket. Each
// offer has a number (`offer`), which meetkit's reply carries: the late answer to an offer given up
// (a timeout, then a retry) is not taken for the retry's.
import { send } from "../../core.js";

const PUBLISH_ANSWER_LIMIT_MS = 20000;
const waiters = { camera: null, screen: null };
let offers = 0;

const fail = (code, message) => Object.assign(new Error(message || code), { code, message });

/** Sends `media.publish` (candidates trickled after it) and resolves with its `media.answer`. */
export function requestPublish(kind, sdp, pc, { restart = false } = {}) {
  return new Promise((resolve, reject) => {
    const previous = waiters[kind];
    if (previous) previous.reject(fail("superseded"));
    const waiter = {
      offer: ++offers,
      resolve: (v) => { clearTimeout(waiter.timer); waiters[kind] = null; resolve(v); },
      reject: (e) => { clearTimeout(waiter.timer); waiters[kind] = null; reject(e); },
      timer: setTimeout(() => waiter.reject(fail("timeout")), PUBLISH_ANSWER_LIMIT_MS),
    };
    waiters[kind] = waiter;
    const msg = { type: "media.publish", kind, sdp, trickle: true, offer: waiter.offer, ...(restart ? { restart: true } : {}) };
    if (!send(msg)) {
      waiter.reject(fail("disconnected"));
    } else {
      pc.__meetkitTrickle.release();  // the candidates follow their offer
    }
  });
}

export function failPublishWaiters(code) {
  for (const kind of ["camera", "screen"]) waiters[kind]?.reject(fail(code));
}

/** The waiter a reply is for: the one of its kind, unless the reply names another offer. */
function waiterFor(msg) {
  const waiter = msg.kind ? waiters[msg.kind] : null;
  return waiter && (msg.offer == null || msg.offer === waiter.offer) ? waiter : null;
}

export function onPublishAnswer(msg) {
  waiterFor(msg)?.resolve(msg);
}

/** A `media.error` for a publish under way (no feed): its waiter is refused; true when there was one. */
export function rejectPublish(msg) {
  const waiter = waiterFor(msg);
  if (!waiter) return false;
  waiter.reject(fail(msg.code, msg.message));
  return true;
}
