// Inviting people: the guest link (this page's URL without the host token) and the meeting code,
// with a copy action. The host opens it from the bar; anyone alone in the room from the empty state.
import { store, config } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $ } from "../../dom.js";

export function guestLink(href = location.href) {
  const url = new URL(href);
  url.searchParams.delete("participant_token");
  url.hash = "";
  return url.href;
}

async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard permission (an iframe without it, say): the older way, from the selected field.
    input.select();
    try { return document.execCommand("copy"); } catch { return false; }
  }
}

function openInvite() {
  const dialog = $("#invite-dialog");
  $("#invite-link").value = guestLink();
  $("#invite-code").textContent = config.room?.meeting_code || "";
  $("#invite-status").textContent = "";
  $("#invite-copy").textContent = t("copy");
  if (dialog.showModal) dialog.showModal();
  $("#invite-link").select();
}

export function startInvite() {
  $("#btn-invite").addEventListener("click", openInvite);
  $("#alone-invite").addEventListener("click", openInvite);
  $("#invite-copy").addEventListener("click", async () => {
    const ok = await copy($("#invite-link").value, $("#invite-link"));
    $("#invite-copy").textContent = t(ok ? "copied" : "copy");
    $("#invite-status").textContent = ok ? "" : t("copyFailed");
  });
  // The empty state: alone in the meeting.
  watch(store, ["participants", "session"], ({ participants, session }) => {
    const alone = session.state === "joined" && [...participants.byId.keys()].every((id) => id === session.participantId);
    $("#alone").hidden = !alone;
  });
}
