// Featured screen shares above the grid: everyone else's screen feeds, and our own share.
import { store } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $, $$, newVideo } from "../../dom.js";
import { feedId } from "../media/state.js";
import { pub } from "../media/publisher.js";
import { attachStream } from "./tile.js";

export function drawStage(relayout) {
  watch(store, ["participants", "media", "session"], (state) => {
    const { session, participants, media } = state;
    const stage = $("#stage");
    const shares = [];
    for (const p of participants.byId.values()) {
      if (p.participant_id === session.participantId) continue;
      const feed = feedId(p.feeds?.screen);
      if (feed !== null) shares.push({ id: p.participant_id, name: p.name, feed });
    }
    if (media.screenSharing && pub.screenStream) {
      shares.unshift({ id: session.participantId, name: session.name, feed: null, local: true });
    }
    const keep = new Set(shares.map((s) => `${s.id}:${s.feed}`));
    for (const el of $$(".screen-tile", stage)) if (!keep.has(el.dataset.key)) el.remove();
    for (const s of shares) {
      const key = `${s.id}:${s.feed}`;
      let el = $$(".screen-tile", stage).find((x) => x.dataset.key === key);
      if (!el) {
        el = document.createElement("div");
        el.className = "screen-tile";
        el.dataset.key = key;
        el.dataset.participantId = s.id;
        const video = newVideo();
        video.muted = true;
        if (s.local) {
          video.dataset.local = "screen";
          video.srcObject = pub.screenStream;
          video.play().catch(() => {});
        } else {
          video.dataset.feed = String(s.feed);
        }
        const label = document.createElement("span");
        label.className = "tile-name";
        el.append(video, label);
        stage.append(el);
      }
      el.querySelector(".tile-name").textContent = t("screenOf", { name: s.name || "" });
      if (!s.local) attachStream(el.querySelector("video"), media.streams.get(s.feed));
    }
    const has = shares.length > 0;
    stage.hidden = !has;
    const area = $("#stage-area");
    if (area.classList.contains("has-stage") !== has) {
      area.classList.toggle("has-stage", has);
      requestAnimationFrame(() => relayout(true));
    }
  });
}
