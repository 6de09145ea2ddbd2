// The waiting screen of someone who knocked.
import { store } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $ } from "../../dom.js";

export function drawLobby() {
  watch(store, ["lobby"], ({ lobby }) => {
    $("#lobby-reason").textContent = t(lobby.reason === "host_absent" ? "lobbyHostAbsent" : "lobbyApproval");
  });
}
