"""short_company_url (issue 10, finding 12) over real HTTP, on SQLite and PostgreSQL: words that are
meetkit's own paths are refused, and uniqueness does not depend on case, in validation and in the
database itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from meetkit.client import MeetingsClient
from meetkit.storage import tables as t

from .. import support
from ..support import Server, assert_error, run

RESERVED = ["meetings", "MEETINGS", "Meetings", "v1", "beta", "_meetkit", "static", "assets", "uploads", "health",
            "metrics", "docs", "api"]


def theme_body(short: str) -> dict[str, str]:
    return {"main_color": "#fff", "brand_text": "x", "short_company_url": short}


@pytest.mark.parametrize("short", RESERVED)
def test_reserved_words_are_refused(client: MeetingsClient, short: str) -> None:
    body = assert_error(client.request("POST", "/themes", json=theme_body(short)), 400, "InputValidationError")
    assert "reserved" in body["message"]
    theme = client.create_theme({"main_color": "#fff", "brand_text": "x"})
    resp = client.request("PATCH", f"/themes/{theme['theme_id']}",
                          json={"update_details": {"short_company_url": short}})
    assert "reserved" in assert_error(resp, 400, "InputValidationError")["message"]
    assert client.get_theme(theme["theme_id"])["short_company_url"] is None


def test_words_that_only_contain_a_reserved_one_are_fine(client: MeetingsClient) -> None:
    short = f"meetings-{uuid.uuid4().hex[:8]}"
    assert client.create_theme(theme_body(short))["short_company_url"] == short


def test_uniqueness_ignores_case(client: MeetingsClient, server: Server, tmp_path: Path) -> None:
    short = f"xss-co-{uuid.uuid4().hex[:8]}"
    client.create_theme(theme_body(short))
    for variant in (short.upper(), short.capitalize()):
        resp = client.request("POST", "/themes", json=theme_body(variant))
        assert_error(resp, 409, "ConflictError", "short_company_url already exists")
    with support.other_client(server, tmp_path / "other") as other:
        resp = other.request("POST", "/themes", json=theme_body(short.upper()))
        assert_error(resp, 409, "ConflictError", "short_company_url already exists")
    second = client.create_theme({"main_color": "#fff", "brand_text": "x"})
    resp = client.request("PATCH", f"/themes/{second['theme_id']}",
                          json={"update_details": {"short_company_url": short.upper()}})
    assert_error(resp, 409, "ConflictError", "short_company_url already exists")
    # A theme may change the case of its own short URL.
    mine = next(th for th in client.list_themes() if th["short_company_url"] == short)
    changed = client.request("PATCH", f"/themes/{mine['theme_id']}",
                             json={"update_details": {"short_company_url": short.upper()}})
    assert changed.status_code == 200 and changed.json()["short_company_url"] == short.upper()


def test_the_database_refuses_a_case_variant(server: Server, application: tuple[str, str]) -> None:
    """Below the validation: a unique index on lower(short_company_url) (migration 0010)."""
    app_id, _ = application
    short = f"Brand-{uuid.uuid4().hex[:8]}"

    async def insert(value: str) -> None:
        async with support.server_container(server) as c, c.sessions.begin() as db:
            db.add(t.Theme(id=str(uuid.uuid4()), application_id=app_id, theme_name=str(uuid.uuid4()),
                           main_color="#fff", brand_text="x", short_company_url=value, created_at=datetime.now(UTC)))

    run(insert(short))
    with pytest.raises(IntegrityError):
        run(insert(short.lower()))
