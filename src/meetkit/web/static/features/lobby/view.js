// The waiting screen of someone who knocked.
import { store } from "../../core.js";
import { watch } from "../../store.js";
import { t } from "../../i18n.js";
import { $ } from "../../dom.js";
import { showLocalVideo } from "../media/local.js";

export function drawLobby() {
  watch(store, ["lobby", "session", "media"], ({ lobby, session }) => {
    const noHost = lobby.reason === "approval" && lobby.hostPresent === false;
    $("#lobby-reason").textContent = t(lobby.reason === "host_absent" ? "lobbyHostAbsent"
      : noHost ? "lobbyApprovalNoHost" : "lobbyApproval");
    // Back in the lobby after being in the meeting: the connection was lost for longer than a resume
    // allows, and this is a new admission.
    $("#lobby-again").hidden = !session.everJoined;
    if (session.state === "lobby") {
      const preview = $("#lobby-preview");  // how we will look once let in
      showLocalVideo(preview);
      preview.hidden = !preview.srcObject;
    }
  });
}
