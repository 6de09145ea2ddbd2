"""The official Python SDK (vonage==3.18.0), unpatched but for its host, completes every Meetings call."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ..support import Server, insert_recording, png_bytes

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import vonage
    from vonage.errors import ClientError, MeetingsError

pytestmark = pytest.mark.sdk


@pytest.fixture
def meetings(server: Server, application: tuple[str, str], tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> vonage.meetings.Meetings:
    app_id, key = application
    key_path = tmp_path / "private.key"
    key_path.write_text(key)
    client = vonage.Client(application_id=app_id, private_key=str(key_path))
    host = server.base_url.removeprefix("https://") + "/v1/meetings"
    client.meetings_api_host(host)
    client.meetings._meetings_api_host = host
    client.session.verify = str(server.cert_path)
    client.session.trust_env = False
    # The SDK's logo upload uses a bare requests.post, which trusts certificates from this variable.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.cert_path))
    return client.meetings


def test_every_meetings_call(meetings, server: Server, application, tmp_path: Path) -> None:
    m = meetings
    # Rooms.
    instant = m.create_room({"display_name": "sdk instant"})
    assert instant["type"] == "instant" and len(instant["meeting_code"]) == 9
    expires = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S")
    lt = m.create_room({"display_name": "sdk long", "type": "long_term", "expires_at": expires,
                        "metadata": "order-17", "join_approval_level": "explicit_approval"})
    assert m.get_room(lt["id"]) == lt
    updated = m.update_room(lt["id"], {"update_details": {"expire_after_use": True, "ui_settings": {"language": "fr"}}})
    assert updated["expire_after_use"] is True and updated["ui_settings"]["language"] == "fr"
    page = m.list_rooms(page_size=1)
    assert page["page_size"] == 1 and page["total_items"] == 2 and "next" in page["_links"]
    assert [r["id"] for r in m.list_rooms(page_size=5)["_embedded"]] == [instant["id"], lt["id"]]
    start_id = int(page["_links"]["next"]["href"].split("start_id=")[1].split("&")[0])
    assert m.list_rooms(page_size=5, start_id=start_id)["_embedded"][0]["id"] == lt["id"]
    assert m.list_rooms(page_size=5, end_id=start_id)["_embedded"][0]["id"] == instant["id"]
    with pytest.raises(ClientError, match="could not be updated because of its type: temporary"):
        m.update_room(instant["id"], {"update_details": {"expire_after_use": True}})

    # Themes.
    assert m.list_themes() == []
    theme = m.create_theme({"main_color": "#12ab34", "brand_text": "Acme", "theme_name": "acme",
                            "short_company_url": "acme-sdk"})
    assert theme["theme_name"] == "acme" and theme["domain"] == "VCP"
    assert m.get_theme(theme["theme_id"]) == theme
    with pytest.raises(ClientError, match="409: ConflictError: theme_name already exists in application"):
        m.create_theme({"main_color": "#fff", "brand_text": "x", "theme_name": "acme"})
    theme = m.update_theme(theme["theme_id"], {"update_details": {"brand_text": "Acme Inc"}})
    assert theme["brand_text"] == "Acme Inc"
    assert [t["theme_id"] for t in m.list_themes()] == [theme["theme_id"]]
    with_theme = m.add_theme_to_room(lt["id"], theme["theme_id"])
    assert with_theme["theme_id"] == theme["theme_id"]
    assert with_theme["_links"]["guest_url"]["href"] == f"{server.base_url}/acme-sdk/{lt['meeting_code']}"
    themed = m.list_rooms_with_theme_id(theme["theme_id"], page_size=10)
    assert [r["id"] for r in themed["_embedded"]] == [lt["id"]]
    app = m.update_application_theme(theme["theme_id"])
    assert app["default_theme_id"] == theme["theme_id"] and app["application_id"] == application[0]

    # Logos: the SDK's three steps (upload URL, S3-style POST expecting 204, finalize expecting a body).
    for logo_type, size in (("white", 120), ("colored", 200), ("favicon", 32)):
        path = tmp_path / f"{logo_type}.png"
        path.write_bytes(png_bytes(size, size))
        assert m.upload_logo_to_theme(theme["theme_id"], str(path), logo_type) == (
            f"Logo upload to theme: {theme['theme_id']} was successful.")
    logos = m.get_theme(theme["theme_id"])
    for field in ("brand_image_white", "brand_image_colored", "branded_favicon"):
        assert logos[field].startswith(f"logos/{application[0]}/{theme['theme_id']}/")
        assert logos[f"{field}_url"].startswith(server.base_url)

    # Theme delete rules.
    with pytest.raises(ClientError, match="could not delete theme"):
        m.delete_theme(theme["theme_id"])
    assert m.delete_theme(theme["theme_id"], force=True) is None
    assert m.get_room(lt["id"])["theme_id"] is None
    with pytest.raises(ClientError, match="404: NotFoundError: could not find theme"):
        m.get_theme(theme["theme_id"])

    # Recordings and numbers.
    session_id, recording_id = insert_recording(server, application[0])
    rec = m.get_recording(recording_id)
    assert rec["id"] == recording_id and rec["status"] == "uploaded" and rec["session_id"] == session_id
    recs = m.get_session_recordings(session_id)
    assert [r["id"] for r in recs["_embedded"]["recordings"]] == [recording_id]
    assert m.delete_recording(recording_id) is None
    with pytest.raises(ClientError, match=f"404: NotFoundError: Recording {recording_id} was not found"):
        m.get_recording(recording_id)
    with pytest.raises(ClientError, match="Failed to find session recordings by id: nope"):
        m.get_session_recordings("nope")
    assert m.list_dial_in_numbers() == [
        {"number": "+441234567890", "locale": "en-GB", "display_name": "United Kingdom"}]


def test_sdk_client_side_checks_still_apply(meetings) -> None:
    with pytest.raises(MeetingsError):
        meetings.create_room({"type": "instant"})
