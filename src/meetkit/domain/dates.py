"""The contract's date shapes: many accepted, one answered (ISO 8601 UTC with milliseconds and Z)."""

from __future__ import annotations

from datetime import UTC, datetime


class BadDate(ValueError):
    pass


def parse_date(value: object) -> datetime:
    """Parse the shapes clients send: ``2023-01-30T00:47:04+0000``, ``2023-02-07 20:10:05`` (no zone =
    UTC), ``2023-01-30 15:00:00.000``, ``...Z`` with milliseconds, or a bare date."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise BadDate("must be an ISO 8601 date string")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadDate(f"{text!r} is not an ISO 8601 date") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_date(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
