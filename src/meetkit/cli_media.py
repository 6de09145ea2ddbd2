"""``meetkit media list | drain NAME | undrain NAME``: the pool of Janus servers (MEETKIT_JANUS_URLS,
docs/scale-out.md). The CLI asks each Janus its load itself and reads the drained set and the meetings
on each from the database, the same figures every node places meetings by.

``meetkit janus run``: one Janus of a pool, in the foreground (systemd, scripts/cluster.sh), with the
configuration meetkit writes for its own Janus from the same settings."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from .config import Settings

if TYPE_CHECKING:
    from .container import Container

CONNECT_SECONDS = 3.0


def _list(_args: argparse.Namespace, settings: Settings) -> int:
    from .actions.media_servers import limits, list_servers
    from .cli import _run_action
    from .media.pool import MediaPool

    if not settings.janus_pool:
        print("meetkit: MEETKIT_JANUS_URLS is not set: there is no pool of Janus servers", file=sys.stderr)
        return 1

    async def go(c: Container) -> list[dict[str, object]]:
        pool = MediaPool(settings.janus_pool, admin_key=settings.janus_admin_key,
                         api_secret=settings.janus_api_secret, clock=c.clock)
        try:
            await pool.connect_once(CONNECT_SECONDS)
            states = await list_servers(c, pool)
        finally:
            await pool.stop()
        return [{"name": s.name, "url": s.url, "reachable": s.load is not None, "draining": s.draining,
                 "meetings": s.meetings, "participants": s.load.participants if s.load else None,
                 "streams": s.load.streams if s.load else None,
                 "stressed": s.load.stressed(limits(c)) if s.load else None} for s in states]

    rows, status = _run_action(settings, go)
    for row in rows or []:
        print(json.dumps(row))
    return status


def _drain(args: argparse.Namespace, settings: Settings) -> int:
    from .actions.media_servers import drain
    from .cli import _run_action

    draining = args.media_command == "drain"
    _, status = _run_action(settings, lambda c: drain(c, args.name, draining))
    if status == 0:
        print(f"{args.name}: {'drained: no new meeting goes to it' if draining else 'takes new meetings'}")
    return status


def _janus_run(_args: argparse.Namespace, settings: Settings) -> int:
    from .media.janus_config import JanusConfig

    settings.ensure_dirs()
    config = JanusConfig(settings)
    folder = config.write()
    print(json.dumps({"url": f"ws://{settings.janus_ws_ip}:{settings.janus_ws_port}", "folder": str(folder)}),
          flush=True)
    argv = [settings.janus_binary, "-F", str(folder), "-C", str(config.main_file), "--disable-colors"]
    os.execv(settings.janus_binary, argv)  # noqa: S606 — Janus replaces this process (its supervisor restarts it)
    return 0  # not reached


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    janus = sub.add_parser("janus", help="run one Janus of a pool (docs/scale-out.md)")
    janus_sub = janus.add_subparsers(dest="janus_command", required=True)
    run = janus_sub.add_parser("run", help="Janus in the foreground, configured from MEETKIT_JANUS_* and "
                               "MEETKIT_MEDIA_* (its folder: <data_dir>/janus)")
    run.set_defaults(func=_janus_run)

    media = sub.add_parser("media", help="the pool of Janus servers (MEETKIT_JANUS_URLS)")
    media_sub = media.add_subparsers(dest="media_command", required=True)
    ls = media_sub.add_parser("list", help="each Janus: reachable, drained, meetings, load; one JSON object a line")
    ls.set_defaults(func=_list)
    for name, help_ in (("drain", "no new meeting goes to this Janus (those on it run on)"),
                        ("undrain", "this Janus takes new meetings again")):
        p = media_sub.add_parser(name, help=help_)
        p.add_argument("name", help="its name in MEETKIT_JANUS_URLS")
        p.set_defaults(func=_drain)
