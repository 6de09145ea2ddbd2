"""Time to the first remote video frame for a guest, and chat fan-out latency to a full room.

    .venv/bin/python bench/join.py [--joins 10] [--participants 250] [--messages 50] [--only join|fanout]
                                   [--receivers 4] [--playwright-click] [--no-raw] [--dump timeline.json]

1. Join: a real `meetkit serve` on 127.0.0.1 (plain HTTP, SQLite) with its own Janus (managed media;
   ICE on 127.0.0.5, the veth made by scripts/media-net.sh, needs root). A room with
   join_approval_level "none" is made through the REST API; a host joins in one Chromium context (fake
   camera and microphone) and publishes. Then `--joins` times (after a warm-up join) a fresh guest
   context opens the guest URL, fills #name and clicks #join, and we take the time from the start of
   page.goto to the first decoded remote video frame (the earliest of: a requestVideoFrameCallback on
   the host's `video[data-feed]`, its `loadeddata`, or inbound-rtp framesDecoded > 0 polled every
   20 ms in the page), split into goto -> `window.__meetkit.state === 'joined'` and joined -> frame.
   The name is typed and Join pressed by a script in the page as soon as the form is there
   (DOMContentLoaded); `--playwright-click` uses page.fill + page.click instead, which adds
   Playwright's own round trips and actionability checks (hundreds of ms on 2 cores). Each guest
   leaves before the next one comes. The page is instrumented (WebSocket frames, getUserMedia, peer
   connection and ICE states, static file timings) so the median timeline says where the time goes.
   Aim: p50 <= 0.5 s. Alternated with each guest join (unless --no-raw), a raw-Janus baseline: a
   minimal page served by the bench joins the same Janus directly as a subscriber to a raw publisher's
   feed, timed the same way (bench/raw_janus.py says what it does and does not do); printed: meetkit
   and raw p50/p99 and meetkit / raw (aim <= 1.2).
2. Fan-out: a server without media; `--participants` WebSocket participants in one room (hello, then
   `admitted`); one of them posts `--messages` chat messages `--interval` s apart, each carrying its
   send time; latency = arrival at each participant's socket - send, over all (message, participant)
   pairs. The receiving sockets are spread over `--receivers` processes (one clock: time.time()), so
   the reading side is not what is measured; their CPU and event-loop lag are printed to show it.
   Aim: p99 <= 100 ms.

Everything stays on 127.0.0.0/8 (browsers' non-loopback ICE candidates are dropped by meetkit,
MEETKIT_MEDIA_CANDIDATE_NETWORKS) and every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import raw_janus
from tests.support import Server, create_application, media_env, media_net, start_server, stop_server

from meetkit.client import MeetingsClient

ROOT = Path(__file__).resolve().parents[1]
JOIN_AIM = 0.5  # seconds, p50 (issue 11; it was 1.0)
RAW_RATIO_AIM = 1.2  # meetkit p50 / raw-Janus p50
FANOUT_AIM = 0.100  # seconds, p99


def pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (and its waited-for children) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids = [int(x) for x in (task / "children").read_text().split()]
                out += kids
                todo += kids
    return out


@contextlib.contextmanager
def server(folder: Path, env: dict[str, str]) -> Iterator[Server]:
    """A meetkit server; on exit it is stopped, and anything it started (Janus) that outlived it is killed."""
    srv = start_server("sqlite", folder, env, tls=False)
    try:
        yield srv
    finally:
        kids = descendants(srv.process.pid)
        stop_server(srv)
        for kid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(kid, signal.SIGKILL)
                print(f"  (killed pid {kid}, left behind by the server)", file=sys.stderr)


def make_room(srv: Server, folder: Path) -> dict[str, Any]:
    app_id, key = create_application(srv, folder / "keys")
    with MeetingsClient(srv.base_url, app_id, key) as api:
        room: dict[str, Any] = api.create_room({"display_name": "bench", "join_approval_level": "none"})
    return room


# --------------------------------------------------------------------------------------------- join

# Runs in every guest page before its own scripts: timestamps (epoch ms, the same clock as
# time.time()) of what the page does, and of the first remote video frame.
INSTRUMENT_JS = r"""
(() => {
  const B = window.__bench = { marks: {}, subs: 0 };
  const now = () => performance.timeOrigin + performance.now();
  const mark = (k) => { if (!(k in B.marks)) B.marks[k] = now(); };
  B.mark = mark;

  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...args) {
      super(...args);
      mark('ws.new');
      this.addEventListener('open', () => mark('ws.open'));
      this.addEventListener('message', (e) => {
        try { mark('recv.' + JSON.parse(e.data).type); } catch (err) { /* not JSON */ }
      });
    }
    send(data) {
      try { mark('send.' + JSON.parse(data).type); } catch (err) { /* not JSON */ }
      return super.send(data);
    }
  };

  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const gum = md.getUserMedia.bind(md);
    md.getUserMedia = async (c) => { mark('gum.start'); const s = await gum(c); mark('gum.end'); return s; };
  }

  const PC = window.RTCPeerConnection;
  const origSRD = PC.prototype.setRemoteDescription;
  const origSLD = PC.prototype.setLocalDescription;
  PC.prototype.setRemoteDescription = function (d) {
    if (d && d.type === 'offer') this.__role = 'sub';
    if (d && d.type === 'answer') this.__role = 'pub';
    const role = this.__role || 'pub';
    return origSRD.apply(this, arguments).then((v) => { mark(role + '.srd'); return v; });
  };
  PC.prototype.setLocalDescription = function () {
    const role = this.__role || 'pub';
    mark(role + '.sld.start');
    return origSLD.apply(this, arguments).then((v) => { mark(role + '.sld'); return v; });
  };
  window.RTCPeerConnection = class extends PC {
    constructor(...args) {
      super(...args);
      mark('pc.new');
      this.addEventListener('icecandidate', (e) => { if (e.candidate) mark((this.__role || 'pub') + '.candidate'); });
      this.addEventListener('icegatheringstatechange', () => {
        if (this.iceGatheringState === 'complete') mark((this.__role || 'pub') + '.gathered');
      });
      this.addEventListener('iceconnectionstatechange', () => {
        mark((this.__role || 'pub') + '.ice.' + this.iceConnectionState);
      });
      this.addEventListener('connectionstatechange', () => {
        mark((this.__role || 'pub') + '.' + this.connectionState);
      });
      this.addEventListener('track', (e) => {
        mark('sub.track.' + e.track.kind);
        // unmute: the track's first packet arrived (the rest to the frame is the decoder's)
        e.track.addEventListener('unmute', () => mark('sub.packet.' + e.track.kind), { once: true });
      });
    }
  };

  const watched = new WeakSet();
  const watch = (v) => {
    if (watched.has(v)) return;
    watched.add(v);
    mark('video.element');
    v.addEventListener('loadeddata', () => mark('frame.loadeddata'));
    if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(() => mark('frame.rvfc'));
  };
  const poll = async () => {
    document.querySelectorAll('video[data-feed]').forEach(watch);
    const m = window.__meetkit;
    // Before issue 11 a Map of subscriber PCs (m.subscribers), after it one PC (m.subscriber).
    const subs = m ? [...(m.subscribers ? m.subscribers.values() : []), m.subscriber].filter(Boolean) : [];
    if (subs.length && !('frame.stats' in B.marks)) {
      for (const pc of subs) {
        const stats = await pc.getStats();
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0) mark('frame.stats');
        });
      }
    }
  };
  const tick = () => { poll().catch(() => {}).finally(() => {
    if (!('frame.stats' in B.marks && 'frame.rvfc' in B.marks)) setTimeout(tick, 20);
  }); };
  tick();
  document.addEventListener('readystatechange', () => mark('doc.' + document.readyState));
  // The user's part, done as soon as the pre-join form is there: type a name, press Join.
  const autoJoin = __AUTOJOIN__;
  const press = () => {
    const name = document.querySelector('#name');
    const join = document.querySelector('#join');
    if (!name || !join || name.offsetParent === null) { setTimeout(press, 5); return; }
    name.value = autoJoin;
    name.dispatchEvent(new Event('input', { bubbles: true }));
    mark('clicked');
    join.click();
  };
  if (autoJoin) document.addEventListener('DOMContentLoaded', press);
  new MutationObserver(() => {
    const s = document.body && document.body.dataset.state;
    if (s) mark('state.' + s);
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-state'] });
})();
"""

FRAME_KEYS = ("frame.stats", "frame.rvfc", "frame.loadeddata")

# The selected ICE candidate pair of every peer connection of the page: "local -> remote".
PAIRS_JS = """async () => {
  const m = window.__meetkit;
  const pcs = [m.publisher, ...(m.subscribers ? m.subscribers.values() : []), m.subscriber].filter(Boolean);
  const out = [];
  for (const pc of pcs) {
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) { out.push('none'); continue; }
    const l = stats.get(pair.localCandidateId), r = stats.get(pair.remoteCandidateId);
    out.push(`${l.address}:${l.protocol} -> ${r.address}:${r.protocol}`);
  }
  return out;
}"""

# When the page's document and static files had arrived (epoch ms).
LOADS_JS = """() => {
  const o = performance.timeOrigin, out = {};
  const nav = performance.getEntriesByType('navigation')[0];
  if (nav) out['nav.responseEnd'] = o + nav.responseEnd;
  for (const e of performance.getEntriesByType('resource')) {
    const file = e.name.split('?')[0].split('/').pop();
    if (/\\.(js|css)$/.test(file)) out['res.' + file] = o + e.responseEnd;
  }
  return out;
}"""

# The host's camera publisher, summed over its simulcast layers: keyframe requests (PLI) it got from
# Janus and keyframes it encoded. Per guest join: more requests than keyframes means the browser
# refused some (it spaces keyframes out), and the guest's first frame waited for a later one.
HOST_KEYFRAMES_JS = """async () => {
  const out = {pli: 0, keyframes: 0};
  const pc = window.__meetkit && window.__meetkit.publisher;
  if (!pc) return out;
  (await pc.getStats()).forEach(s => {
    if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
    out.pli += s.pliCount || 0;
    out.keyframes += s.keyFramesEncoded || 0;
  });
  return out;
}"""


async def one_join(browser: Any, origin: str, guest_url: str, host: Any, name: str,
                   playwright_click: bool) -> tuple[dict[str, float], list[str]]:
    """A fresh guest context joins: its marks in seconds after page.goto started, and its ICE pairs."""
    from tests import browser as b

    left_before = await host.evaluate("() => window.__benchLeft || 0")
    ctx = await asyncio.wait_for(b.new_context(browser, origin), 20)
    try:
        await ctx.add_init_script(INSTRUMENT_JS.replace("__AUTOJOIN__", json.dumps(None if playwright_click else name)))
        page = await ctx.new_page()
        t0 = time.time()
        await page.goto(guest_url, wait_until="domcontentloaded", timeout=15000)
        t_dom = time.time()
        if playwright_click:
            await page.fill("#name", name, timeout=10000)
            await page.click("#join", timeout=10000)
        t_click = time.time()
        await page.wait_for_function(
            f"() => window.__bench && {' || '.join(repr(k) + ' in window.__bench.marks' for k in FRAME_KEYS)}",
            timeout=20000, polling=20)
        t_seen = time.time()
        await asyncio.sleep(0.2)  # let the other frame signals land too
        marks: dict[str, float] = await page.evaluate("() => window.__bench.marks")
        pairs: list[str] = await page.evaluate(PAIRS_JS)
        loads: dict[str, float] = await page.evaluate(LOADS_JS)
        state = await page.evaluate("() => window.__meetkit.state")
        if state != "joined":
            raise RuntimeError(f"the guest is {state!r}, not joined")
        # Leave the way a closing tab does (pagehide sends `leave`), then wait until the host saw it.
        await asyncio.wait_for(page.close(run_before_unload=True), 10)
        await host.wait_for_function(f"() => (window.__benchLeft || 0) > {left_before}", timeout=15000)
    finally:
        await asyncio.wait_for(ctx.close(), 20)
    out = {k: v / 1000 - t0 for k, v in {**marks, **loads}.items()}
    out["py.dom_ready"] = t_dom - t0
    out["py.clicked"] = t_click - t0
    out["py.seen"] = t_seen - t0
    out["frame"] = min(out[k] for k in FRAME_KEYS if k in out)
    out["epoch.goto"] = t0  # to line the page's timeline up with other logs (--dump)
    return out, pairs


async def join_bench(srv: Server, room: dict[str, Any], joins: int, warmup: int, playwright_click: bool,
                     raw_origin: str | None) -> tuple[list[dict[str, float]], list[dict[str, float]], set[str]]:
    """meetkit guest joins, each followed (when ``raw_origin``) by a raw-Janus join of the same Janus."""
    from playwright.async_api import async_playwright
    from tests import browser as b

    host_url, guest_url = room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"]
    origin = srv.base_url
    async with async_playwright() as pw:
        browser = await asyncio.wait_for(b.launch(pw), 30)
        try:
            host_ctx = await b.new_context(browser, origin)
            # The host page counts participant.left frames, so each guest is seen gone before the next.
            await host_ctx.add_init_script("""(() => {
              const WS = window.WebSocket;
              window.WebSocket = class extends WS {
                constructor(...a) {
                  super(...a);
                  this.addEventListener('message', (e) => {
                    if (e.data.includes('"participant.left"')) window.__benchLeft = (window.__benchLeft || 0) + 1;
                  });
                }
              };
            })();""")
            host = await host_ctx.new_page()
            await asyncio.wait_for(b.join(host, host_url, "Hana Host"), 20)
            await b.wait_state(host, "joined")
            await host.wait_for_function("""() => {
                const m = window.__meetkit;
                const p = m.participants.get(m.participantId);
                return !!(p && p.feeds && p.feeds.camera) && m.publisher && m.publisher.connectionState === 'connected';
            }""", timeout=20000)
            raw_ctx = None
            if raw_origin is not None:
                janus_url = f"ws://127.0.0.1:{srv.env['MEETKIT_JANUS_WS_PORT']}"
                key = raw_janus.admin_key(srv.data_dir)
                raw_room = await asyncio.wait_for(raw_janus.create_room(janus_url, key), 20)
                raw_ctx, raw_feed = await asyncio.wait_for(
                    raw_janus.start_publisher(browser, raw_origin, janus_url, raw_room), 30)
            results, raws = [], []
            all_pairs: set[str] = set()
            for i in range(warmup + joins):
                before = await host.evaluate(HOST_KEYFRAMES_JS)
                r, pairs = await asyncio.wait_for(
                    one_join(browser, origin, guest_url, host, f"Guest {i}", playwright_click), 90)
                after = await host.evaluate(HOST_KEYFRAMES_JS)
                r.update({f"host.{k}": after[k] - before[k] for k in after})
                all_pairs.update(pairs)
                tag = "warm-up" if i < warmup else f"join {i - warmup + 1:2d}"
                line = f"  {tag}: joined {r.get('state.joined', float('nan')):.3f} s, first frame {r['frame']:.3f} s"
                if raw_origin is not None:  # alternated, so both see the same machine load
                    raw = await asyncio.wait_for(
                        raw_janus.one_join(browser, raw_origin, janus_url, raw_room, raw_feed), 60)
                    line += f"; raw Janus first frame {raw['frame']:.3f} s"
                    if i >= warmup:
                        raws.append(raw)
                print(line, flush=True)
                if i >= warmup:
                    results.append(r)
            all_pairs.update(await host.evaluate(PAIRS_JS))
            await host_ctx.close()
            if raw_ctx is not None:
                await raw_ctx.close()
            return results, raws, all_pairs
        finally:
            await asyncio.wait_for(browser.close(), 30)


def run_join(joins: int, warmup: int, dump: Path | None, playwright_click: bool, raw: bool) -> None:
    if os.geteuid() != 0:
        print("join: skipped (the loopback media link of scripts/media-net.sh needs root)")
        return
    from tests import browser as b

    if not b.chromium_available():
        print("join: skipped (no /usr/bin/chromium; scripts/services.sh installs it)")
        return
    media_net()
    env = media_env(MEETKIT_RESUME_GRACE="2", MEETKIT_LOG_LEVEL="warning")
    with (tempfile.TemporaryDirectory(prefix="meetkit-bench-join-") as tmp, server(Path(tmp), env) as srv,
          raw_janus.page_server() if raw else contextlib.nullcontext() as raw_origin):
        room = make_room(srv, Path(tmp))
        print(f"join: {joins} guests (+{warmup} warm-up), each in a fresh Chromium context, host publishing",
              flush=True)
        how = ("page.fill + page.click (Playwright)" if playwright_click
               else "typed and pressed in the page at DOMContentLoaded")
        print(f"  name and Join: {how}", flush=True)
        if raw:
            print("  each followed by a raw-Janus join of the same Janus (bench/raw_janus.py says what it skips)",
                  flush=True)
        results, raws, pairs = asyncio.run(asyncio.wait_for(
            join_bench(srv, room, joins, warmup, playwright_click, raw_origin), 120 + 90 * (joins + warmup)))
    pairs.discard("none")  # a connection still setting up when it was looked at
    print(f"  ICE pairs used (browser side): {', '.join(sorted(pairs))}")
    if any(not p.startswith("127.") or " -> 127." not in p for p in pairs):
        print("  WARNING: a peer connection used a pair outside 127.0.0.0/8")
    if dump is not None:
        dump.write_text(json.dumps(results, indent=1, sort_keys=True))
    report_join(results)
    if raws:
        report_raw(results, raws)


def report_raw(results: list[dict[str, float]], raws: list[dict[str, float]]) -> None:
    meet, raw = [r["frame"] for r in results], [r["frame"] for r in raws]
    print(f"meetkit vs raw Janus (n={len(raw)}, alternated), goto -> first remote frame:")
    print(f"  meetkit guest   p50 {pct(meet, 50):.3f} s  p99 {pct(meet, 99):.3f} s")
    print(f"  raw Janus page  p50 {pct(raw, 50):.3f} s  p99 {pct(raw, 99):.3f} s")
    ratio = pct(meet, 50) / pct(raw, 50)
    print(f"  meetkit / raw   p50 {ratio:.2f}  p99 {pct(meet, 99) / pct(raw, 99):.2f}  "
          f"(aim p50 ratio <= {RAW_RATIO_AIM}: {'met' if ratio <= RAW_RATIO_AIM else 'MISSED'})")
    keys = sorted({k for r in raws for k in r} - {"frame"})
    print("  raw median timeline: " + ", ".join(
        f"{k} {statistics.median([r[k] for r in raws if k in r]):.3f}" for k in keys))


def report_join(results: list[dict[str, float]]) -> None:
    frame = [r["frame"] for r in results]
    joined = [r["state.joined"] for r in results]
    rest = [r["frame"] - r["state.joined"] for r in results]

    def line(label: str, v: list[float]) -> str:
        return (f"  {label:34s} p50 {pct(v, 50):.3f} s  p90 {pct(v, 90):.3f} s  "
                f"min {min(v):.3f} s  max {max(v):.3f} s")

    print(f"join (n={len(results)}), from page.goto:")
    print(line("goto -> first remote frame", frame))
    print(line("goto -> state 'joined'", joined))
    print(line("'joined' -> first remote frame", rest))
    p50 = pct(frame, 50)
    print(f"  aim p50 <= {JOIN_AIM:.1f} s: {'met' if p50 <= JOIN_AIM else 'MISSED'} ({p50:.3f} s)")
    print("  median timeline, s after page.goto started (py.* seen by the benchmark, res.* files loaded, "
          "send./recv. socket frames, pub/sub the guest's publishing and subscribing peer connections):")
    pli, keyframes = (sum(r.get(f"host.{k}", 0) for r in results) for k in ("pli", "keyframes"))
    print(f"  the host's camera, over the {len(results)} joins: {pli:.0f} keyframe requests, {keyframes:.0f} "
          "keyframes encoded (all layers)")
    keys = {k for r in results for k in r if not k.startswith(("epoch.", "host."))} - {"frame"}
    medians = sorted((statistics.median([r[k] for r in results if k in r]), k) for k in keys)
    for value, key in medians:
        n = sum(1 for r in results if key in r)
        print(f"    {key:24s} {value:6.3f}" + ("" if n == len(results) else f"  (in {n} joins)"))


# ------------------------------------------------------------------------------------------- fan-out

async def _receiver_main(ws_url: str, n: int, first: int, pipe: Connection, messages: int) -> None:
    import websockets

    socks: list[Any] = []
    chats: list[list[tuple[float, str]]] = [[] for _ in range(n)]
    sem = asyncio.Semaphore(16)

    async def join(i: int) -> Any:
        async with sem:
            ws = await asyncio.wait_for(websockets.connect(ws_url, max_size=2**22, max_queue=None), 20)
            await ws.send(json.dumps({"type": "hello", "v": 1, "name": f"P{first + i}", "mic": False,
                                      "camera": False}))
            async with asyncio.timeout(30):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "admitted":
                        return ws
                    if frame["type"] in ("denied", "error"):
                        raise RuntimeError(f"participant {first + i}: {frame}")

    async def read(i: int, ws: Any) -> None:
        got = chats[i]
        with contextlib.suppress(Exception):
            async for raw in ws:
                t = time.time()
                if '"chat.message"' in raw:
                    got.append((t, raw))
                    if len(got) >= messages:
                        return

    lag: list[float] = []

    async def ticker() -> None:  # how late this loop wakes up: >0 means the reader is busy
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            lag.append(time.perf_counter() - t - 0.005)

    loop = asyncio.get_running_loop()
    try:
        socks = list(await asyncio.gather(*(join(i) for i in range(n))))
        readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(socks)]
        pipe.send(("ready", n))
        if not await loop.run_in_executor(None, pipe.poll, 300):
            raise TimeoutError("no go from the benchmark")
        deadline = pipe.recv()  # "go": the send phase starts
        cpu0, wall0 = time.process_time(), time.perf_counter()
        tick = asyncio.create_task(ticker())
        await asyncio.wait(readers, timeout=max(1.0, deadline - time.time()))
        tick.cancel()
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        lat: list[tuple[int, float]] = []
        for got in chats:
            for t, raw in got:
                _, seq, sent = json.loads(raw)["text"].split()
                lat.append((int(seq), t - float(sent)))
        pipe.send(("done", lat, cpu, wall, sorted(lag)))
    except Exception as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        await asyncio.gather(*(asyncio.wait_for(ws.close(), 5) for ws in socks), return_exceptions=True)


def receiver_process(ws_url: str, n: int, first: int, pipe: Connection, messages: int) -> None:
    asyncio.run(_receiver_main(ws_url, n, first, pipe, messages))


async def _fanout(srv: Server, code: str, participants: int, messages: int, interval: float,
                  receivers: int) -> tuple[list[tuple[int, float]], list[tuple[float, float, list[float]]],
                                           float, float]:
    import websockets

    ws_url = srv.base_url.replace("http", "ws", 1) + f"/_meetkit/ws/{code}"
    sender = await asyncio.wait_for(websockets.connect(ws_url, max_size=2**22, max_queue=None), 10)
    procs: list[tuple[Any, Connection]] = []
    own: list[tuple[float, str]] = []
    try:
        await sender.send(json.dumps({"type": "hello", "v": 1, "name": "Sender", "mic": False, "camera": False}))
        async with asyncio.timeout(10):
            while json.loads(await sender.recv())["type"] != "admitted":
                pass

        async def read_own() -> None:
            with contextlib.suppress(Exception):
                async for raw in sender:
                    if isinstance(raw, str) and '"chat.message"' in raw:
                        own.append((time.time(), raw))

        reader = asyncio.create_task(read_own())
        # The other participants-1 sockets, spread over the receiver processes.
        ctx = mp.get_context("spawn")
        rest = participants - 1
        first = 1
        for k in range(receivers):
            n = rest // receivers + (1 if k < rest % receivers else 0)
            if n == 0:
                continue
            a, b_ = ctx.Pipe()
            proc = ctx.Process(target=receiver_process, args=(ws_url, n, first, b_, messages), daemon=True)
            proc.start()
            procs.append((proc, a))
            first += n
        loop = asyncio.get_running_loop()
        for _, pipe in procs:
            ok = await loop.run_in_executor(None, pipe.poll, 120)
            msg = pipe.recv() if ok else ("error", "no answer within 120 s")
            if msg[0] != "ready":
                raise RuntimeError(f"a receiver failed: {msg[1]}")
        await asyncio.sleep(1.0)  # the participant.joined storm is over
        deadline = time.time() + messages * interval + 15
        for _, pipe in procs:
            pipe.send(deadline)
        server_cpu0, wall0 = cpu_seconds(srv.process.pid), time.perf_counter()
        start = time.perf_counter()
        for seq in range(messages):
            await asyncio.sleep(max(0.0, start + seq * interval - time.perf_counter()))
            await sender.send(json.dumps({"type": "chat.send", "text": f"bench {seq} {time.time():.6f}"}))
        results: list[tuple[int, float]] = []
        loads: list[tuple[float, float, list[float]]] = []
        for _, pipe in procs:
            ok = await loop.run_in_executor(None, pipe.poll, max(1.0, deadline - time.time() + 10))
            done: Any = pipe.recv() if ok else ("error", "no results in time")
            if done[0] != "done":
                raise RuntimeError(f"a receiver failed: {done[1]}")
            results += done[1]
            loads.append((done[2], done[3], done[4]))
        server_cpu = cpu_seconds(srv.process.pid) - server_cpu0
        wall = time.perf_counter() - wall0
        reader.cancel()
        for t, raw in own:
            _, seq, sent = json.loads(raw)["text"].split()
            results.append((int(seq), t - float(sent)))
        return results, loads, server_cpu, wall
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sender.close(), 5)
        for proc, _ in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


def run_fanout(participants: int, messages: int, interval: float, receivers: int) -> None:
    # One sender at 1/interval chat lines and every socket from 127.0.0.1: above a person's chat rate and
    # the per-address socket caps (docs/signalling.md, "Flow control"), which this benchmark is not about.
    env = {"MEETKIT_MEDIA_MODE": "off", "MEETKIT_MAX_PARTICIPANTS": str(max(250, participants)),
           "MEETKIT_LOG_LEVEL": "warning", "MEETKIT_MAX_SOCKETS_PER_ADDRESS": str(participants + 10),
           "MEETKIT_SOCKET_OPENS_BURST": str(participants + 10),
           "MEETKIT_SOCKET_CHAT_RATE": str(max(5.0, 2 / interval)), "MEETKIT_SOCKET_CHAT_BURST": str(messages + 10)}
    with tempfile.TemporaryDirectory(prefix="meetkit-bench-fanout-") as tmp, server(Path(tmp), env) as srv:
        room = make_room(srv, Path(tmp))
        print(f"fan-out: {participants} participants in one room ({receivers} receiver processes), "
              f"{messages} chat messages {interval * 1000:.0f} ms apart", flush=True)
        t0 = time.monotonic()
        results, loads, server_cpu, wall = asyncio.run(asyncio.wait_for(
            _fanout(srv, room["meeting_code"], participants, messages, interval, receivers),
            180 + messages * interval))
    lat = [x for _, x in results]
    expected = participants * messages
    by_msg: dict[int, list[float]] = {}
    for seq, x in results:
        by_msg.setdefault(seq, []).append(x)
    first = [min(v) for v in by_msg.values()]
    last = [max(v) for v in by_msg.values()]
    p99 = pct(lat, 99)
    print(f"fan-out ({len(lat)} of {expected} deliveries, {expected - len(lat)} missing; "
          f"{time.monotonic() - t0:.0f} s):")
    print(f"  send -> receipt                   p50 {pct(lat, 50) * 1000:6.1f} ms  p90 {pct(lat, 90) * 1000:6.1f} ms  "
          f"p99 {p99 * 1000:6.1f} ms  max {max(lat) * 1000:6.1f} ms")
    print(f"  per message: first receiver       p50 {pct(first, 50) * 1000:6.1f} ms  max {max(first) * 1000:6.1f} ms; "
          f"last receiver p50 {pct(last, 50) * 1000:6.1f} ms  max {max(last) * 1000:6.1f} ms")
    util = ", ".join(f"{cpu / w * 100:.0f}%" for cpu, w, _ in loads)
    lags = sorted(x for _, _, lg in loads for x in lg)
    print(f"  server CPU: {server_cpu / messages * 1000:.1f} ms per message ({server_cpu / wall * 100:.0f}% of a core "
          f"in the send phase); receiver processes: {util} of a core, loop lag p99 {pct(lags, 99) * 1000:.1f} ms, "
          f"max {max(lags) * 1000:.1f} ms")
    ok = p99 <= FANOUT_AIM and len(lat) == expected
    print(f"  aim p99 <= {FANOUT_AIM * 1000:.0f} ms, none missing: {'met' if ok else 'MISSED'} ({p99 * 1000:.1f} ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--joins", type=int, default=10, help="measured guest joins (at least 10)")
    ap.add_argument("--warmup", type=int, default=1, help="guest joins before the measured ones")
    ap.add_argument("--participants", type=int, default=250)
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument("--interval", type=float, default=0.05, help="seconds between chat messages")
    ap.add_argument("--receivers", type=int, default=4, help="processes reading the participants' sockets")
    ap.add_argument("--only", choices=["join", "fanout"])
    ap.add_argument("--playwright-click", action="store_true",
                    help="fill the name and click Join with Playwright (adds its round trips) instead of in the page")
    ap.add_argument("--raw", action=argparse.BooleanOptionalAction, default=True,
                    help="alternate each guest join with a raw-Janus join of the same Janus (bench/raw_janus.py)")
    ap.add_argument("--dump", type=Path, help="write every join's page timeline (JSON) here")
    args = ap.parse_args()
    if args.joins < 10:
        ap.error("--joins must be at least 10")
    if args.participants < 2 or args.messages < 1 or args.receivers < 1:
        ap.error("--participants >= 2, --messages >= 1, --receivers >= 1")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    if args.only in (None, "join"):
        run_join(args.joins, args.warmup, args.dump, args.playwright_click, args.raw)
    if args.only in (None, "fanout"):
        run_fanout(args.participants, args.messages, args.interval, args.receivers)
    print(f"machine: load average {os.getloadavg()[0]:.1f} at the end (other work on the machine skews the figures)")


if __name__ == "__main__":
    main()
