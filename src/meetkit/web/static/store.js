// A tiny store in the manner of Jitsi Meet's features (actionTypes / actions / reducer / middleware),
// without a framework: each feature owns one slice and a reducer; views subscribe and redraw from
// the slices they read; effects (the socket, peer connections) live in the features' action modules.

/**
 * reducers: { sliceName: (slice | undefined, action, root) => slice }. A reducer returns the same
 * slice object when nothing changed, so a view can skip work by comparing slices by identity.
 */
export function createStore(reducers) {
  const init = { type: "@@init" };
  let state = {};
  for (const [name, reduce] of Object.entries(reducers)) state[name] = reduce(undefined, init, state);
  const listeners = new Set();

  return {
    get state() { return state; },
    dispatch(action) {
      const prev = state;
      const next = { ...prev };
      let changed = false;
      for (const [name, reduce] of Object.entries(reducers)) {
        next[name] = reduce(prev[name], action, prev);
        if (next[name] !== prev[name]) changed = true;
      }
      if (changed) state = next;
      // A listener may dispatch; the nested dispatch notifies everyone with the newer state first.
      for (const listener of [...listeners]) {
        try {
          listener(state, prev, action);
        } catch (err) {
          console.error("meetkit: listener for", action.type, err);
        }
      }
      return action;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** An action every view draws again for, whatever it reads: the page's language changed. */
export const REDRAW = "@@redraw";

/** Runs `draw(state)` now and whenever one of the slices it reads has changed since it last drew. */
export function watch(store, slices, draw) {
  let drawn = null;
  const check = (_state, _prev, action) => {
    const state = store.state;
    if (action?.type !== REDRAW && drawn && slices.every((name) => state[name] === drawn[name])) return;
    drawn = state;
    draw(state);
  };
  check();
  return store.subscribe(check);
}
