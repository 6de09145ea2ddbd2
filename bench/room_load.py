"""Load one room: N synthetic publishers and a stepped-up number of receive-only participants.

    .venv/bin/python bench/room_load.py [--publishers 25] [--sizes 320x180,640x360,1280x720]
                                        [--steps 1,2,4,8,16] [--seconds 30] [--workers 2]

A real `meetkit serve` (plain HTTP, SQLite) with its managed Janus, ICE on 127.0.0.5 (scripts/media-net.sh,
root). The participants are tests/synthetic's: publishers send a pre-encoded VP8 + Opus clip (made
once with ffmpeg) through meetkit's real meeting socket (hello, `media.publish` with a complete SDP)
and real WebRTC; receivers have one subscriber connection (`media.view` with every camera feed as a
tile, `media.offer` / `media.answer`), count packets and never decode. They run in `--workers`
processes per role, apart from meetkit and Janus, whose CPU is read from /proc.

aiortc sends no simulcast, so "each simulcast layer" is measured with every publisher sending one
layer's clip in turn (`--sizes`: 320x180 at 150 kbps, 640x360 at 450 kbps, 1280x720 at 1.2 Mbps, the
browsers' rid l/m/h); each size gets a fresh room. For each size: the publishers join (join p50/p99),
then receivers are added in steps; each step is held `--seconds` and prints: Janus CPU (and the part
above the publishers-only level, divided by the video streams forwarded), meetkit CPU per
participant, received bitrate per receiver, packet loss, audio streams each receiver hears, receiver
join p50/p99 (socket opened -> first video packet). Stepping stops where it saturates: loss > 2 %,
receiver join p99 > 5 s, or meetkit + Janus + the load generator using > 90 % of the machine's CPUs
(the generator shares the cores: the per-stream figures are what to project from, not the saturation
point).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.join import cpu_seconds, descendants, make_room, pct, server
from bench.load_worker import Worker
from tests.support import media_env, media_net

LOSS_LIMIT, JOIN_LIMIT, BUSY_LIMIT = 0.02, 5.0, 0.90


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def janus_pid(srv: Any) -> int:
    for pid in descendants(srv.process.pid):
        if Path(f"/proc/{pid}/comm").read_text().strip() == "janus":
            return pid
    raise RuntimeError("no Janus process under the server")


def spread(names: list[str], workers: list[Worker]) -> list[list[str]]:
    return [names[i::len(workers)] for i in range(len(workers))]


def measure(srv: Any, janus: int, pubs: list[Worker], receivers: list[Worker], seconds: float) -> dict[str, Any]:
    """Hold the room `seconds` and return CPU shares (of one core) and per-receiver deltas."""
    def sample() -> tuple[float, float, tuple[float, float], list[dict[str, Any]], float, float]:
        rs: list[dict[str, Any]] = []
        rx_cpu = 0.0
        for w in receivers:
            got = w.call(30, "sample")
            rs += got["receivers"]
            rx_cpu += got["cpu"]
        pub_cpu = sum(w.call(30, "sample")["cpu"] for w in pubs)
        return cpu_seconds(janus), cpu_seconds(srv.process.pid), machine_busy(), rs, pub_cpu, rx_cpu

    time.sleep(min(3.0, seconds / 5))  # let the last offers settle
    t0, (j0, m0, b0, r0, p0, x0) = time.monotonic(), sample()
    time.sleep(seconds)
    t1, (j1, m1, b1, r1, p1, x1) = time.monotonic(), sample()
    wall = t1 - t0
    per = []
    for a, b in zip(r0, r1, strict=True):
        got = b["received"] - a["received"]
        lost = b["lost"] - a["lost"]
        per.append({"kbps": (b["bytes"] - a["bytes"]) * 8 / wall / 1000, "loss": lost / max(1, got + lost),
                    "heard": b["heard"], "video": b["video"], "errors": b["errors"]})
    return {"janus": (j1 - j0) / wall, "meetkit": (m1 - m0) / wall,
            "busy": (b1[0] - b0[0]) / max(1, b1[1] - b0[1]), "receivers": per,
            "pub_cpu": (p1 - p0) / wall, "rx_cpu": (x1 - x0) / wall}


def run_size(srv: Any, size: str, args: argparse.Namespace, pubs: list[Worker], recvs: list[Worker],
             folder: Path) -> list[str]:
    """One room, publishers at `size`, receivers stepped up; returns the printed summary lines."""
    room = make_room(srv, folder)
    base, code = srv.base_url, room["meeting_code"]
    token = room["_links"]["host_url"]["href"].split("participant_token=")[1]
    width, height = (int(x) for x in size.split("x"))
    names = [f"Pub {size} {i}" for i in range(args.publishers)]
    for w, chunk in zip(pubs, spread(names, pubs), strict=True):
        w.send("publish", base, code, chunk, size, token if w is pubs[0] else None)
    joined = [j for w in pubs for j, _ in w.result(120 + 5 * args.publishers)]
    janus = janus_pid(srv)
    lines = [f"{size}: {args.publishers} publishers, join (socket -> publisher connected) "
             f"p50 {pct(joined, 50):.2f} s p99 {pct(joined, 99):.2f} s"]
    print(lines[0], flush=True)
    idle = measure(srv, janus, pubs, [], min(args.seconds, 10))
    lines.append(f"  publishers only: Janus {idle['janus'] * 100:.1f} % of a core "
                 f"({idle['janus'] * 100 / args.publishers:.2f} % per publisher), "
                 f"meetkit {idle['meetkit'] * 100:.1f} %; load generator "
                 f"{idle['pub_cpu'] * 100 / args.publishers:.2f} % per synthetic publisher")
    print(lines[-1], flush=True)
    have, firsts = 0, []
    for step in args.steps:
        add = step - have
        if add <= 0:
            continue
        names = [f"Rx {size} {have + i}" for i in range(add)]
        for w, chunk in zip(recvs, spread(names, recvs), strict=True):
            w.send("receive", base, code, chunk, width, height)
        for w in recvs:
            firsts += w.result(120 + 10 * add)
        have = step
        m = measure(srv, janus, pubs, recvs, args.seconds)
        rs = m["receivers"]
        video = sum(r["video"] for r in rs)
        forwarded_cpu = max(0.0, m["janus"] - idle["janus"])
        ok_first = [f for f in firsts if f is not None]
        join_p99 = pct(ok_first, 99) if ok_first else float("inf")
        loss = max(r["loss"] for r in rs)
        kbps = [r["kbps"] for r in rs]
        heard = sorted({r["heard"] for r in rs})
        lines.append(
            f"  {step:3d} receivers: video streams forwarded {video}; Janus {m['janus'] * 100:.1f} % "
            f"(+{forwarded_cpu * 100:.1f} % over publishers only = "
            f"{forwarded_cpu * 100 / max(1, video):.3f} % of a core per forwarded {size} stream); "
            f"meetkit {m['meetkit'] * 100:.1f} % "
            f"({m['meetkit'] * 100 / (args.publishers + step):.2f} % per participant); "
            f"per receiver {min(kbps):.0f}-{max(kbps):.0f} kbps (mean {sum(kbps) / len(kbps):.0f}); "
            f"loss max {loss * 100:.2f} %; audio heard {heard}; receiver join p50 "
            f"{pct(ok_first, 50) if ok_first else float('nan'):.2f} s p99 {join_p99:.2f} s "
            f"({len(firsts) - len(ok_first)} got no video); machine {m['busy'] * 100:.0f} % busy "
            f"(meetkit + Janus + generator: {(m['janus'] + m['meetkit'] + m['pub_cpu'] + m['rx_cpu']) * 100:.0f} % "
            f"of one core); "
            f"generator {m['rx_cpu'] * 100 / step:.1f} % per synthetic receiver; "
            f"errors {sum(r['errors'] for r in rs)}")
        print(lines[-1], flush=True)
        # Pegged: meetkit, Janus and the load generator together use > 90 % of the machine (other work on
        # a shared machine is printed as "machine % busy" but does not count).
        ours = (m["janus"] + m["meetkit"] + m["pub_cpu"] + m["rx_cpu"]) / (os.cpu_count() or 1)
        why = [w for w, bad in (("loss > 2 %", loss > LOSS_LIMIT), ("join p99 > 5 s", join_p99 > JOIN_LIMIT),
                                ("CPU pegged", ours > BUSY_LIMIT)) if bad]
        if why:
            lines.append(f"  saturated at {step} receivers: {', '.join(why)}")
            print(lines[-1], flush=True)
            break
    for w in [*recvs, *pubs]:  # everyone leaves; the workers end
        w.send("leave")
    for w in [*recvs, *pubs]:
        w.result(120)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--publishers", type=int, default=25)
    ap.add_argument("--sizes", default="320x180,640x360,1280x720")
    ap.add_argument("--steps", default="1,2,4,8,16,32", help="receivers in the room at each step")
    ap.add_argument("--seconds", type=float, default=30, help="how long each step is held")
    ap.add_argument("--workers", type=int, default=2, help="processes per role (publishers, receivers)")
    args = ap.parse_args()
    args.steps = sorted(int(x) for x in args.steps.split(","))
    sizes = args.sizes.split(",")
    if os.geteuid() != 0:
        print("room_load: skipped (the loopback media link of scripts/media-net.sh needs root)")
        return
    from tests.synthetic.clips import SIZES, clip

    for size in sizes:
        if size not in SIZES:
            ap.error(f"--sizes: one of {', '.join(SIZES)}")
        clip(size)  # made once, before anything is timed
    media_net()
    top = args.publishers + max(args.steps) + 10
    env = media_env(MEETKIT_LOG_LEVEL="warning", MEETKIT_MAX_PARTICIPANTS=str(max(250, top)),
                    MEETKIT_MAX_SOCKETS_PER_ADDRESS=str(top), MEETKIT_SOCKET_OPENS_BURST=str(top))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    ctx = mp.get_context("spawn")
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="meetkit-bench-load-") as tmp, server(Path(tmp), env) as srv:
        for size in sizes:
            pubs = [Worker(ctx) for _ in range(args.workers)]
            recvs = [Worker(ctx) for _ in range(args.workers)]
            try:
                summary += run_size(srv, size, args, pubs, recvs, Path(tmp) / size)
            finally:
                for w in [*pubs, *recvs]:
                    w.stop()
    print("summary:\n" + "\n".join(summary))
    print(f"machine: load average {os.getloadavg()[0]:.1f} at the end (other work on the machine skews the figures)")


if __name__ == "__main__":
    main()
