"""``meetkit serve | migrate | app create | app list | app show | app set-callbacks | app set-embed-origins |
webhooks list|replay | usage | media list|drain|undrain`` (cli_media.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .config import Settings
from .domain.delivery import DeliveryStatus

if TYPE_CHECKING:
    from .actions.usage import KindUsage, UsageReport
    from .container import Container

T = TypeVar("T")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from .accesslog import log_config
    from .app import create_app

    if bool(args.tls_cert) != bool(args.tls_key):
        print("meetkit serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    app = create_app(settings, run_migrations=not args.no_migrate)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        log_level=settings.log_level,
        log_config=log_config(),  # request targets logged without their tokens
        # A chat line fans out to up to 250 sockets: compressing each copy separately costs more than it saves.
        ws_per_message_deflate=False,
        ws_max_size=settings.socket_max_frame_bytes,  # a bigger frame is refused before it is buffered (1009)
        access_log=args.access_log,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
    return 0


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from .storage.migrate import upgrade_url

    settings.ensure_dirs()
    upgrade_url(settings.resolved_database_url)
    print("database is at the latest schema")
    return 0


async def _with_container(settings: Settings, fn):  # type: ignore[no-untyped-def]
    from .app import build_container
    from .storage import migrate

    c = build_container(settings)
    try:
        await migrate.upgrade(c.engine)
        return await fn(c)
    finally:
        await c.dispose()


def _app_create(args: argparse.Namespace, settings: Settings) -> int:
    from .actions.applications import do_create_application

    public_key = Path(args.public_key).read_text() if args.public_key else None
    key_dir = Path(args.key_dir) if args.key_dir else None
    created = asyncio.run(_with_container(
        settings, lambda c: do_create_application(c, args.name, public_key_pem=public_key, key_dir=key_dir)))
    out = {"application_id": created.application_id,
           "private_key_path": str(created.private_key_path) if public_key is None else None}
    print(json.dumps(out))
    return 0


def _app_list(_args: argparse.Namespace, settings: Settings) -> int:
    from .actions.applications import list_applications

    apps = asyncio.run(_with_container(settings, list_applications))
    print(json.dumps([{"application_id": a.id, "name": a.name, "default_theme_id": a.default_theme_id,
                       "created_at": a.created_at.isoformat()} for a in apps], indent=2))
    return 0


def _run_action(settings: Settings, fn: Callable[[Container], Awaitable[T]]) -> tuple[T | None, int]:
    """Run an action; a domain error (not found, bad input) is printed and gives exit status 1."""
    from .errors import MeetkitError

    try:
        result: T = asyncio.run(_with_container(settings, fn))
        return result, 0
    except MeetkitError as exc:
        print(f"meetkit: {exc.message}", file=sys.stderr)
        return None, 1


def _application_out(a) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"application_id": a.id, "name": a.name, "room_changed_url": a.room_changed_url,
            "session_changed_url": a.session_changed_url, "recording_changed_url": a.recording_changed_url,
            "webhook_secret": a.webhook_secret, "embed_origins": a.embed_origins}


def _app_show(args: argparse.Namespace, settings: Settings) -> int:
    from .actions.applications import get_application

    app, code = _run_action(settings, lambda c: get_application(c, args.id))
    if app is not None:
        print(json.dumps(_application_out(app), indent=2))
    return code


def _app_set_callbacks(args: argparse.Namespace, settings: Settings) -> int:
    from .actions.applications import do_set_callbacks

    urls = {"room_changed_url": args.room_changed, "session_changed_url": args.session_changed,
            "recording_changed_url": args.recording_changed}
    app, code = _run_action(settings, lambda c: do_set_callbacks(c, args.id, urls))
    if app is not None:
        print(json.dumps(_application_out(app), indent=2))
    return code


def _app_set_embed_origins(args: argparse.Namespace, settings: Settings) -> int:
    from .actions.applications import do_set_embed_origins

    if bool(args.origins) + args.any + args.none != 1:
        print("meetkit app set-embed-origins: give ORIGIN..., or --any, or --none", file=sys.stderr)
        return 2
    origins = None if args.any else [] if args.none else args.origins
    app, code = _run_action(settings, lambda c: do_set_embed_origins(c, args.id, origins))
    if app is not None:
        print(json.dumps({"application_id": app.id, "embed_origins": app.embed_origins}))
    return code


def _delivery_out(d) -> dict[str, object]:  # type: ignore[no-untyped-def]
    def when(v: datetime | None) -> str | None:
        return v.isoformat() if v is not None else None

    return {"id": d.id, "application_id": d.application_id, "event": d.event, "target_url": d.target_url,
            "status": d.status, "attempts": d.attempts, "next_attempt_at": when(d.next_attempt_at),
            "last_error": d.last_error, "idempotency_key": d.idempotency_key, "room_id": d.room_id,
            "created_at": when(d.created_at), "delivered_at": when(d.delivered_at)}


def _webhooks_list(args: argparse.Namespace, settings: Settings) -> int:
    from .actions.webhooks import list_deliveries

    rows, code = _run_action(settings, lambda c: list_deliveries(c, args.status, args.limit))
    for row in rows or ():
        print(json.dumps(_delivery_out(row)))
    return code


def _webhooks_replay(args: argparse.Namespace, settings: Settings) -> int:
    from .actions.webhooks import do_replay_delivery

    row, code = _run_action(settings, lambda c: do_replay_delivery(c, args.id))
    if row is not None:
        print(json.dumps(_delivery_out(row)))
    return code


def _month(text: str) -> str:
    from .domain.pricing import PricingError, month_bounds

    try:
        start, _end = month_bounds(text)
    except PricingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return start.strftime("%Y-%m")


def _minutes(value: Decimal) -> str:
    return f"{value:,f}"


def _usage_lines(title: str, kind: KindUsage, noun: str) -> list[str]:
    lines = [f"{title} ({kind.count} {noun}{'' if kind.count == 1 else 's'})",
             f"  {'tier (minutes of month)':<24}{'minutes':>14}{'unit price':>12}{'amount':>12}"]
    for tier in kind.priced.lines:
        span = f"{tier.above + 1:,}-{tier.up_to:,}" if tier.up_to is not None else f"above {tier.above:,}"
        lines.append(f"  {span:<24}{_minutes(tier.minutes):>14}{format(tier.unit_price, 'f'):>12}"
                     f"{tier.cost_cents:>12,}")
    lines.append(f"  {'total':<24}{_minutes(kind.minutes):>14}{'':>12}{kind.priced.total_cents:>12,}")
    return lines


def format_usage(report: UsageReport, name: str | None = None) -> str:
    """A month's usage of one application as a table: minutes and cost per tier."""
    named = f" ({name})" if name else ""
    lines = [f"Application {report.application_id}{named}: usage in {report.month} (UTC), "
             f"{report.mode.value} tiers, minutes rounded {report.rounding.value}, amounts in {report.currency}",
             f"{report.sessions} session{'' if report.sessions == 1 else 's'}",
             ""]
    lines += _usage_lines("Participant minutes", report.participants, "participant")
    lines.append("")
    lines += _usage_lines("Recording minutes", report.recordings, "recording")
    lines += ["", f"{'Total':<26}{'':>14}{'':>12}{report.total_cents:>12,} {report.currency}"]
    return "\n".join(lines)


def _usage(args: argparse.Namespace, settings: Settings) -> int:
    from .actions.applications import get_application
    from .actions.usage import applications_with_usage, usage_for_month
    from .api.render import usage_out

    async def go(c: Container) -> list[tuple[UsageReport, str]]:
        # Metering runs first (the server's worker may not be running), so the figures are complete.
        ids = [args.application] if args.application else await applications_with_usage(c, args.month)
        reports = []
        for application_id in ids:
            app = await get_application(c, application_id)
            reports.append((await usage_for_month(c, application_id, args.month), app.name))
        return reports

    reports, code = _run_action(settings, go)
    if reports is None:
        return code
    if args.json:
        print(json.dumps([usage_out(report).model_dump() for report, _name in reports], indent=2))
    elif not reports:
        print(f"no usage in {args.month or 'this month'}")
    else:
        print("\n\n".join(format_usage(report, name) for report, name in reports))
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="meetkit", description="Self-hosted Meetings API")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API and the meeting pages")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--tls-cert", help="PEM certificate file (serve HTTPS)")
    serve.add_argument("--tls-key", help="PEM private key file")
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the database at start")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="upgrade the database to the latest schema")
    mig.set_defaults(func=_migrate)

    app = sub.add_parser("app", help="applications")
    app_sub = app.add_subparsers(dest="app_command", required=True)
    create = app_sub.add_parser("create", help="create an application and its key pair")
    create.add_argument("--name", required=True)
    create.add_argument("--key-dir", help="where to write the private key (default: <data>/keys)")
    create.add_argument("--public-key", help="register this PEM public key instead of generating a pair")
    create.set_defaults(func=_app_create)
    lst = app_sub.add_parser("list", help="list applications")
    lst.set_defaults(func=_app_list)
    show = app_sub.add_parser("show", help="show an application's callback URLs and webhook secret")
    show.add_argument("id")
    show.set_defaults(func=_app_show)
    cbs = app_sub.add_parser("set-callbacks", help="set the application's callback URLs ('' clears one)")
    cbs.add_argument("id")
    cbs.add_argument("--room-changed", metavar="URL")
    cbs.add_argument("--session-changed", metavar="URL")
    cbs.add_argument("--recording-changed", metavar="URL")
    cbs.set_defaults(func=_app_set_callbacks)
    emb = app_sub.add_parser("set-embed-origins", help="the sites that may frame the meetings (docs/embed.md)")
    emb.add_argument("id")
    emb.add_argument("origins", nargs="*", metavar="ORIGIN", help="scheme://host[:port], or https://*.example.com")
    emb.add_argument("--any", action="store_true", help="clear the list: any site may frame (the default)")
    emb.add_argument("--none", action="store_true", help="no site may frame the meetings")
    emb.set_defaults(func=_app_set_embed_origins)

    hooks = sub.add_parser("webhooks", help="webhook deliveries (the outbox)")
    hooks_sub = hooks.add_subparsers(dest="webhooks_command", required=True)
    hl = hooks_sub.add_parser("list", help="deliveries, newest first, one JSON object a line")
    hl.add_argument("--status", choices=[status.value for status in DeliveryStatus])
    hl.add_argument("--limit", type=int, default=100)
    hl.set_defaults(func=_webhooks_list)
    hr = hooks_sub.add_parser("replay", help="queue a delivered, failed or dead delivery again")
    hr.add_argument("id", type=int)
    hr.set_defaults(func=_webhooks_replay)

    usage = sub.add_parser("usage", help="minutes and cost per tier of a month (docs/pricing.md)")
    usage.add_argument("--month", type=_month, metavar="YYYY-MM", help="UTC calendar month (default: this one)")
    usage.add_argument("--application", metavar="ID", help="one application (default: every one with usage)")
    usage.add_argument("--json", action="store_true", help="print JSON, as GET /v1/meetings/usage answers")
    usage.set_defaults(func=_usage)

    from .cli_media import add_parser as add_media

    add_media(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        settings.resolved_secret_key()
    except ValueError as exc:
        print(f"meetkit: configuration error: {exc}", file=sys.stderr)
        return 2
    return int(args.func(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
