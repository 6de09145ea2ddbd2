// The meeting UI's socket module (web/static/signalling.js) in Node, as a participant whose page stops
// reading for a while: node slow_reader.mjs <signalling.js path> <ws url> <flag file>. Once admitted it
// blocks its event loop until <flag file> exists (at most 30 s), so the server's queue for it fills;
// then it carries on as the page would. Each event is one JSON line on stdout.
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [modulePath, url, flag] = process.argv.slice(2);
const { Signalling } = await import(pathToFileURL(modulePath).href);
const out = (event) => process.stdout.write(JSON.stringify(event) + "\n");
let resume = null;
let admissions = 0;

const sig = new Signalling(url, {
  hello: () => ({ type: "hello", v: 1, name: "Sam", mic: false, camera: false, ...(resume ? { resume } : {}) }),
  message: (msg) => {
    if (msg.type === "welcome") {
      resume = { participant_id: msg.participant_id, resume_token: msg.resume_token };
      out({ event: "welcome", resumed: msg.resumed, participant_id: msg.participant_id });
    } else if (msg.type === "admitted") {
      admissions += 1;
      out({ event: "admitted", n: admissions });
      if (admissions === 1) setTimeout(stall, 0);
      else { sig.close(); out({ event: "done" }); setTimeout(() => process.exit(0), 50); }
    }
  },
  status: (status, detail) => out({ event: "status", status, code: detail?.code ?? null }),
});

function stall() {
  out({ event: "stalled" });
  const until = Date.now() + 30000;
  while (!existsSync(flag) && Date.now() < until) { /* the page is busy: nothing is read */ }
  out({ event: "reading" });
}

setTimeout(() => { out({ event: "timeout" }); process.exit(1); }, 60000);
sig.connect();
