"""Rows → response bodies. The only place that knows how a stored row looks on the wire."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from urllib.parse import urlencode

from fastapi import Request

from ..actions.usage import KindUsage, UsageReport
from ..container import Container
from ..domain import rooms as rules
from ..domain.dates import format_date
from ..domain.links import API_PREFIX, download_signature
from ..domain.rooms import meeting_links
from ..storage import tables as t
from . import schemas as s


def api_base(request: Request) -> str:
    """Absolute base of the API as the caller reached it (SDKs follow our hrefs as given)."""
    return str(request.base_url).rstrip("/") + API_PREFIX


def room_out(c: Container, room: t.Room, theme: t.Theme | None) -> s.RoomOut:
    links = meeting_links(
        c.settings.public_url, room.meeting_code, room.host_token, theme.short_company_url if theme else None
    )
    return s.RoomOut(
        id=room.id,
        display_name=room.display_name,
        metadata=room.meta,
        type=room.type,
        expires_at=format_date(room.expires_at),
        expire_after_use=room.expire_after_use,
        # Stored options are merged over today's defaults, so rows written before an option existed
        # still render completely.
        recording_options=s.RecordingOptionsOut(**{**rules.DEFAULT_RECORDING_OPTIONS, **room.recording_options}),
        meeting_code=room.meeting_code,
        is_available=room.is_available,
        theme_id=room.theme_id,
        created_at=format_date(room.created_at),
        join_approval_level=room.join_approval_level,
        initial_join_options=s.InitialJoinOptionsOut(
            **{**rules.DEFAULT_INITIAL_JOIN_OPTIONS, **room.initial_join_options}),
        callback_urls=s.CallbackUrlsOut(**{**rules.DEFAULT_CALLBACK_URLS, **room.callback_urls}),
        available_features=s.AvailableFeaturesOut(**{**rules.DEFAULT_AVAILABLE_FEATURES, **room.available_features}),
        ui_settings=s.UiSettingsOut(**{**rules.DEFAULT_UI_SETTINGS, **room.ui_settings}),
        links=s.RoomLinks(host_url=s.Href(href=links.host_url), guest_url=s.Href(href=links.guest_url)),
    )


def room_page_out(
    c: Container,
    request: Request,
    path: str,
    rows: Sequence[t.Room],
    themes: dict[str, t.Theme],
    total: int,
    more: bool,
    earlier: bool,
    page_size: int,
) -> s.RoomPageOut:
    base = api_base(request) + path

    def href(**params: int) -> s.Href:
        return s.Href(href=f"{base}?{urlencode({'page_size': page_size, **params})}")

    self_params = {k: int(v) for k, v in request.query_params.items() if k in ("start_id", "end_id") and v.isdigit()}
    links = s.PageLinks(first=href(), self=href(**self_params))
    if rows and more:
        links.next = href(start_id=rows[-1].serial + 1)
    if rows and earlier:
        links.prev = href(end_id=rows[0].serial)
    return s.RoomPageOut(
        page_size=len(rows),
        total_items=total,
        embedded=[room_out(c, r, themes.get(r.theme_id) if r.theme_id else None) for r in rows],
        links=links,
    )


def asset_url(request: Request, key: str | None) -> str | None:
    return f"{api_base(request)}/assets/{key}" if key else None


def theme_out(request: Request, theme: t.Theme, account_id: str) -> s.ThemeOut:
    return s.ThemeOut(
        theme_id=theme.id,
        theme_name=theme.theme_name,
        account_id=account_id,
        application_id=theme.application_id,
        main_color=theme.main_color,
        short_company_url=theme.short_company_url,
        brand_text=theme.brand_text,
        brand_image_colored=theme.brand_image_colored,
        brand_image_white=theme.brand_image_white,
        branded_favicon=theme.branded_favicon,
        brand_image_colored_url=asset_url(request, theme.brand_image_colored),
        brand_image_white_url=asset_url(request, theme.brand_image_white),
        branded_favicon_url=asset_url(request, theme.branded_favicon),
    )


def recording_out(c: Container, request: Request, rec: t.Recording) -> s.RecordingOut:
    expires = int(c.clock.now().timestamp()) + c.settings.download_link_ttl
    sig = download_signature(c.secret, rec.id, expires)
    href = f"{api_base(request)}/recordings/{rec.id}/download?{urlencode({'expires': expires, 'signature': sig})}"
    return s.RecordingOut(
        id=rec.id,
        session_id=rec.session_id,
        started_at=format_date(rec.started_at),
        ended_at=format_date(rec.ended_at) if rec.ended_at else None,
        status=rec.status,
        links=s.RecordingLinks(url=s.Href(href=href)),
    )


def _decimal(value: Decimal) -> str:
    return format(value, "f")


def _usage_kind(kind: KindUsage) -> s.UsageKindOut:
    priced = kind.priced
    return s.UsageKindOut(
        count=kind.count,
        minutes=_decimal(priced.minutes),
        amount=_decimal(priced.total_cents),
        tiers=[s.UsageTierOut(above=line.above, up_to=line.up_to, minutes=_decimal(line.minutes),
                              unit_price=_decimal(line.unit_price), amount=_decimal(line.cost_cents))
               for line in priced.lines],
    )


def usage_out(report: UsageReport) -> s.UsageOut:
    return s.UsageOut(
        application_id=report.application_id,
        month=report.month,
        period_start=format_date(report.start),
        period_end=format_date(report.end),
        currency=report.currency,
        tier_mode=report.mode.value,
        rounding=report.rounding.value,
        sessions=report.sessions,
        participants=_usage_kind(report.participants),
        recordings=_usage_kind(report.recordings),
        total=_decimal(report.total_cents),
        updated_at=format_date(report.updated_at) if report.updated_at else None,
    )
