// A publish's offer and the answer that meets it: one waiter per kind, superseded by the next offer
// of that kind, failed by a timeout, a refusal (`media.error` with the kind) or a lost socket.
import { send } from "../../core.js";

const PUBLISH_ANSWER_LIMIT_MS = 20000;
const waiters = { camera: null, screen: null };

const fail = (code, message) => Object.assign(new Error(message || code), { code, message });

/** Sends `media.publish` (candidates trickled after it) and resolves with its `media.answer`. */
export function requestPublish(kind, sdp, pc, { restart = false } = {}) {
  return new Promise((resolve, reject) => {
    const previous = waiters[kind];
    if (previous) previous.reject(fail("superseded"));
    const waiter = {
      resolve: (v) => { clearTimeout(waiter.timer); waiters[kind] = null; resolve(v); },
      reject: (e) => { clearTimeout(waiter.timer); waiters[kind] = null; reject(e); },
      timer: setTimeout(() => waiter.reject(fail("timeout")), PUBLISH_ANSWER_LIMIT_MS),
    };
    waiters[kind] = waiter;
    if (!send({ type: "media.publish", kind, sdp, trickle: true, ...(restart ? { restart: true } : {}) })) {
      waiter.reject(fail("disconnected"));
    } else {
      pc.__meetkitTrickle.release();  // the candidates follow their offer
    }
  });
}

export function failPublishWaiters(code) {
  for (const kind of ["camera", "screen"]) waiters[kind]?.reject(fail(code));
}

export function onPublishAnswer(msg) {
  waiters[msg.kind]?.resolve(msg);
}

/** A `media.error` for a publish under way (no feed): its waiter is refused; true when there was one. */
export function rejectPublish(msg) {
  const waiter = msg.kind ? waiters[msg.kind] : null;
  if (!waiter) return false;
  waiter.reject(fail(msg.code, msg.message));
  return true;
}
