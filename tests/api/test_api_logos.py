"""Theme logos over real HTTP, on SQLite and PostgreSQL: the three-step upload (signed URLs, the S3-style
upload endpoint, finalize), the logo rules, and the public asset links."""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
import requests
from PIL import Image, PngImagePlugin

from meetkit.client import MeetingsApiError, MeetingsClient

from .. import support
from ..support import Server, assert_error, png_bytes

KEY_RE = re.compile(r"^auto-expiring-temp/logos/(white|colored|favicon)/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                    r"[0-9a-f]{4}-[0-9a-f]{12}$")
FIELD_KEYS = {"Content-Type", "key", "logoType", "bucket", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
              "X-Amz-Security-Token", "Policy", "X-Amz-Signature"}
COLUMN = {"white": "brand_image_white", "colored": "brand_image_colored", "favicon": "branded_favicon"}
MB = 1024 * 1024


# ---- helpers -------------------------------------------------------------------------------------------


def logo(width: int, height: int, **kw: Any) -> bytes:
    """A valid logo: transparent background (a 1-2 px image is just a clear pixel), a shape in the middle."""
    if min(width, height) < 3:
        buf = io.BytesIO()
        Image.new("RGBA", (width, height), (0, 0, 0, 0)).save(buf, format="PNG")
        return buf.getvalue()
    return png_bytes(width, height, **kw)


def padded_png(total: int, width: int = 100, height: int = 100) -> bytes:
    """A valid transparent PNG of exactly ``total`` bytes (a tEXt chunk takes up the slack)."""
    def build(n: int) -> bytes:
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "x" * n)
        img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        img.putpixel((width // 2, height // 2), (200, 0, 0, 255))
        buf = io.BytesIO()
        img.save(buf, format="PNG", pnginfo=info)
        return buf.getvalue()

    n = total - len(build(0))
    data = build(n)
    assert len(data) == total
    return data


def image_bytes(fmt: str, width: int = 50, height: int = 50, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), (10, 20, 30) if mode == "RGB" else 0).save(buf, format=fmt)
    return buf.getvalue()


def palette_png(size: int) -> bytes:
    """A palette PNG whose index 0 is transparent (what pngquant and many editors write)."""
    img = Image.new("P", (size, size), 0)
    img.putpalette([0, 0, 0, 200, 30, 30] + [0] * (256 * 3 - 6))
    for x in range(size // 4, 3 * size // 4):
        img.putpixel((x, size // 2), 1)
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=0)
    return buf.getvalue()


def targets(client: MeetingsClient) -> dict[str, dict[str, Any]]:
    resp = client.request("GET", "/themes/logos-upload-urls")
    assert resp.status_code == 200, resp.text
    return {t["fields"]["logoType"]: t for t in resp.json()}


def post_upload(server: Server, target: dict[str, Any], data: bytes, *, method: str = "POST",
                fields: dict[str, str] | None = None) -> httpx.Response:
    """Step 2 as most clients do it: the form fields, then the file part."""
    return httpx.request(method, target["url"], data=fields if fields is not None else target["fields"],
                         files={"file": ("logo.png", data, "image/png")}, verify=server.ssl, timeout=30)


def upload(client: MeetingsClient, server: Server, logo_type: str, data: bytes) -> str:
    """Steps 1 and 2; returns the temporary key."""
    target = targets(client)[logo_type]
    resp = post_upload(server, target, data)
    assert resp.status_code == 204, resp.text
    return target["fields"]["key"]


def finalize(client: MeetingsClient, theme_id: str, keys: list[Any]) -> httpx.Response:
    return client.request("PUT", f"/themes/{theme_id}/finalizeLogos", json={"keys": keys})


def assert_ok(resp: httpx.Response) -> None:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.text == "OK"


def assert_finalize_error(resp: httpx.Response, errors: list[dict[str, str]]) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == {"status": 400, "name": "BadRequestError", "message": "could not finalize logos",
                           "errors": errors}


def s3_error(resp: httpx.Response | requests.Response, status: int | None = None) -> tuple[str, str]:
    """An S3-style XML error: (Code, Message)."""
    code = resp.status_code
    assert 400 <= code < 500, (code, resp.text)
    if status is not None:
        assert code == status, resp.text
    assert resp.headers["content-type"].startswith(("application/xml", "text/xml"))
    root = ElementTree.fromstring(resp.content)  # noqa: S314 - our own server's answer
    assert root.tag == "Error"
    found_code, message = root.findtext("Code"), root.findtext("Message")
    assert found_code and message
    return found_code, message


def new_theme(client: MeetingsClient) -> str:
    return str(client.create_theme({"main_color": "#fff", "brand_text": "x"})["theme_id"])


def other_client(server: Server, tmp_path: Path) -> MeetingsClient:
    return support.other_client(server, tmp_path / "other")


def server_secret(server: Server) -> bytes:
    from meetkit.config import Settings

    return Settings(data_dir=server.data_dir, database_url=server.database_url).resolved_secret_key()


def stored(server: Server, key: str) -> bytes | None:
    from meetkit.config import Settings
    from meetkit.storage.objects import LocalObjectStore

    return LocalObjectStore(Settings(data_dir=server.data_dir).objects_dir).get(key)


@pytest.fixture
def theme_id(client: MeetingsClient) -> str:
    return new_theme(client)


@pytest.fixture
def sdk_session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


# ---- step 1: the upload URLs ---------------------------------------------------------------------------


def test_upload_urls_shape(client: MeetingsClient, server: Server) -> None:
    resp = client.request("GET", "/themes/logos-upload-urls")
    assert resp.status_code == 200
    items = resp.json()
    assert isinstance(items, list) and len(items) == 3
    assert sorted(t["fields"]["logoType"] for t in items) == ["colored", "favicon", "white"]
    keys = set()
    for item in items:
        assert set(item) == {"url", "fields"}
        assert httpx.URL(item["url"]).is_absolute_url and item["url"].startswith(server.base_url)
        fields = item["fields"]
        assert set(fields) == FIELD_KEYS
        assert all(isinstance(v, str) and v for v in fields.values())
        assert fields["Content-Type"] == "image/png"
        m = KEY_RE.match(fields["key"])
        assert m and m.group(1) == fields["logoType"]
        assert fields["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
        policy = json.loads(base64.b64decode(fields["Policy"]))
        assert "expiration" in policy and {"key": fields["key"]} in policy["conditions"]
        keys.add(fields["key"])
    assert len(keys) == 3
    # Fresh keys every time.
    assert not keys & {t["fields"]["key"] for t in client.request("GET", "/themes/logos-upload-urls").json()}


# ---- the whole flow ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("logo_type", "size"), [("white", (120, 40)), ("colored", (300, 300)),
                                                  ("favicon", (32, 32))])
def test_upload_with_typed_client(client: MeetingsClient, server: Server, theme_id: str, logo_type: str,
                                  size: tuple[int, int]) -> None:
    data = logo(*size)
    client.upload_logo(theme_id, data, logo_type)  # type: ignore[arg-type]
    theme = client.get_theme(theme_id)
    column = COLUMN[logo_type]
    assert theme[column].startswith(f"logos/{client.application_id}/{theme_id}/")
    for other in set(COLUMN.values()) - {column}:
        assert theme[other] is None and theme[f"{other}_url"] is None
    url = theme[f"{column}_url"]
    assert url.startswith(server.base_url) and url.endswith(theme[column])
    got = httpx.get(url, verify=server.ssl)  # public: no token
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.content == data
    assert [t for t in client.list_themes() if t["theme_id"] == theme_id] == [theme]


def test_upload_like_the_python_sdk(client: MeetingsClient, server: Server, theme_id: str, tmp_path: Path,
                                    sdk_session: requests.Session) -> None:
    """vonage 3.18: requests.post(url, files={**fields, 'file': fh}): every part carries a filename."""
    datas = {"white": logo(200, 50), "colored": logo(64, 64), "favicon": logo(16, 16)}
    keys = []
    for logo_type, target in targets(client).items():
        path = tmp_path / f"{logo_type}.png"
        path.write_bytes(datas[logo_type])
        with path.open("rb") as fh:
            resp = sdk_session.post(target["url"], files={**target["fields"], "file": fh},
                                    verify=str(server.cert_path), timeout=30)
        assert b'filename="key"' in resp.request.body  # the shape this test is about
        assert resp.status_code == 204, resp.text
        assert resp.content == b""
        keys.append(target["fields"]["key"])
    # The SDK finalizes one key at a time; all three at once works too.
    assert_ok(finalize(client, theme_id, keys))
    theme = client.get_theme(theme_id)
    for logo_type, column in COLUMN.items():
        got = sdk_session.get(theme[f"{column}_url"], verify=str(server.cert_path), timeout=30)
        assert got.status_code == 200 and got.content == datas[logo_type]
        assert got.headers["content-type"] == "image/png"


def test_upload_like_the_python_sdk_with_data(client: MeetingsClient, server: Server, theme_id: str,
                                              sdk_session: requests.Session) -> None:
    """requests with data=fields, files={'file': ...}: plain fields, the common S3 shape."""
    target = targets(client)["white"]
    data = logo(40, 40)
    resp = sdk_session.post(target["url"], data=target["fields"], files={"file": ("l.png", data, "image/png")},
                            verify=str(server.cert_path), timeout=30)
    assert resp.status_code == 204, resp.text
    assert_ok(finalize(client, theme_id, [target["fields"]["key"]]))


def test_upload_with_put(client: MeetingsClient, server: Server, theme_id: str) -> None:
    """The PHP SDK sends the same multipart form with PUT."""
    target = targets(client)["colored"]
    data = logo(100, 80)
    resp = post_upload(server, target, data, method="PUT")
    assert resp.status_code == 204, resp.text
    assert_ok(finalize(client, theme_id, [target["fields"]["key"]]))
    theme = client.get_theme(theme_id)
    assert httpx.get(theme["brand_image_colored_url"], verify=server.ssl).content == data


def test_upload_with_bearer_header_and_fields_only(client: MeetingsClient, server: Server, theme_id: str) -> None:
    """The Node SDK adds its Bearer token to the upload; a real upload still works."""
    target = targets(client)["favicon"]
    data = logo(24, 24)
    resp = httpx.post(target["url"], data=target["fields"], files={"file": ("f.png", data, "image/png")},
                      headers={"Authorization": f"Bearer {client.token()}"}, verify=server.ssl)
    assert resp.status_code == 204, resp.text
    assert_ok(finalize(client, theme_id, [target["fields"]["key"]]))


def test_finalize_key_objects(client: MeetingsClient, server: Server, theme_id: str) -> None:
    key = upload(client, server, "white", logo(30, 30))
    assert_ok(finalize(client, theme_id, [{"key": key}]))
    assert client.get_theme(theme_id)["brand_image_white"]


def test_replacing_a_logo_removes_the_old_one(client: MeetingsClient, server: Server, theme_id: str) -> None:
    first, second = logo(50, 50), logo(60, 60)
    client.upload_logo(theme_id, first, "white")
    old = client.get_theme(theme_id)
    client.upload_logo(theme_id, second, "white")
    new = client.get_theme(theme_id)
    assert new["brand_image_white"] != old["brand_image_white"]
    assert httpx.get(new["brand_image_white_url"], verify=server.ssl).content == second
    gone = httpx.get(old["brand_image_white_url"], verify=server.ssl)
    assert_error(gone, 404, "NotFoundError")
    assert stored(server, old["brand_image_white"]) is None


def test_key_is_consumed_by_finalize(client: MeetingsClient, server: Server, theme_id: str) -> None:
    key = upload(client, server, "white", logo(50, 50))
    assert_ok(finalize(client, theme_id, [key]))
    assert stored(server, key) is None  # the temporary object is gone
    assert_finalize_error(finalize(client, theme_id, [key]), [{"logoKey": key, "code": "key_not_found"}])
    assert_finalize_error(finalize(client, new_theme(client), [key]), [{"logoKey": key, "code": "key_not_found"}])


def test_deleting_a_theme_removes_its_logos(client: MeetingsClient, server: Server, theme_id: str) -> None:
    client.upload_logo(theme_id, logo(20, 20), "favicon")
    client.upload_logo(theme_id, logo(20, 20), "colored")
    theme = client.get_theme(theme_id)
    client.delete_theme(theme_id)
    for column in ("branded_favicon", "brand_image_colored"):
        assert_error(httpx.get(theme[f"{column}_url"], verify=server.ssl), 404, "NotFoundError")
        assert stored(server, theme[column]) is None


def test_theme_logos_are_independent(client: MeetingsClient, server: Server) -> None:
    a, b = new_theme(client), new_theme(client)
    client.upload_logo(a, logo(30, 30), "white")
    assert client.get_theme(b)["brand_image_white"] is None
    client.upload_logo(b, logo(31, 31), "white")
    ta, tb = client.get_theme(a), client.get_theme(b)
    assert ta["brand_image_white"] != tb["brand_image_white"]
    assert httpx.get(ta["brand_image_white_url"], verify=server.ssl).status_code == 200


# ---- finalize: the logo rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logo_type", "data"),
    [
        ("white", lambda: logo(1, 1)),
        ("white", lambda: logo(300, 1)),
        ("colored", lambda: logo(300, 300)),
        ("favicon", lambda: logo(16, 16)),
        ("favicon", lambda: logo(32, 32)),
        ("colored", lambda: palette_png(64)),
        ("favicon", lambda: palette_png(16)),
        ("white", lambda: padded_png(MB)),
    ],
    ids=["1px", "300x1", "300x300", "fav16", "fav32", "palette", "palette-fav", "exactly-1MB"],
)
def test_logos_at_the_limits_accepted(client: MeetingsClient, server: Server, theme_id: str, logo_type: str,
                                      data: Any) -> None:
    png = data()
    key = upload(client, server, logo_type, png)
    assert_ok(finalize(client, theme_id, [key]))
    theme = client.get_theme(theme_id)
    served = httpx.get(theme[f"{COLUMN[logo_type]}_url"], verify=server.ssl).content
    # Finalize re-encodes: a plain PNG comes back as it went in; the padded one without its text chunk.
    assert served == png or (b"tEXt" in png and b"tEXt" not in served and same_pixels(served, png))


def same_pixels(a: bytes, b: bytes) -> bool:
    with Image.open(io.BytesIO(a)) as x, Image.open(io.BytesIO(b)) as y:
        return x.size == y.size and x.convert("RGBA").tobytes() == y.convert("RGBA").tobytes()


def _jpeg() -> bytes:
    return image_bytes("JPEG")


@pytest.mark.parametrize(
    ("logo_type", "data", "problem"),
    [
        ("white", lambda: padded_png(MB + 1), "exceeds_size"),
        ("colored", lambda: padded_png(2 * MB, 300, 300), "exceeds_size"),
        ("white", _jpeg, "type"),
        ("white", lambda: image_bytes("GIF", mode="P"), "type"),
        ("white", lambda: image_bytes("BMP"), "type"),
        ("colored", lambda: b"not an image at all", "type"),
        ("colored", lambda: b"", "type"),
        ("colored", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "type"),
        ("colored", lambda: logo(200, 200)[:200], "type"),
        ("white", lambda: logo(301, 100), "dimensions"),
        ("white", lambda: logo(100, 301), "dimensions"),
        ("colored", lambda: logo(1000, 1000), "dimensions"),
        ("favicon", lambda: logo(32, 16), "dimensions"),
        ("favicon", lambda: logo(15, 15), "dimensions"),
        ("favicon", lambda: logo(33, 33), "dimensions"),
        ("favicon", lambda: logo(100, 100), "dimensions"),
        ("white", lambda: png_bytes(100, 100, transparent=False), "transparent_bg"),
        ("colored", lambda: image_bytes("PNG", 100, 100, mode="RGB"), "transparent_bg"),
        ("favicon", lambda: png_bytes(16, 16, transparent=False), "transparent_bg"),
    ],
    ids=["1MB+1", "2MB", "jpeg", "gif", "bmp", "text", "empty", "png-magic-only", "truncated", "301w", "301h",
         "1000", "fav-not-square", "fav-15", "fav-33", "fav-100", "opaque", "rgb", "fav-opaque"],
)
def test_finalize_rejects_bad_logos(client: MeetingsClient, server: Server, theme_id: str, logo_type: str,
                                    data: Any, problem: str) -> None:
    key = upload(client, server, logo_type, data())
    resp = finalize(client, theme_id, [key])
    assert_finalize_error(resp, [{"logoKey": key, "code": "invalid_logo_properties", "invalidProperty": problem}])
    theme = client.get_theme(theme_id)
    assert theme[COLUMN[logo_type]] is None and theme[f"{COLUMN[logo_type]}_url"] is None


@pytest.mark.parametrize(
    "key",
    [
        "auto-expiring-temp/logos/white/00000000-0000-0000-0000-000000000000",
        "auto-expiring-temp/logos/unknown/00000000-0000-0000-0000-000000000000",
        "nope",
        "",
        "../../secret.key",
        "logos/somewhere/else.png",
    ],
)
def test_finalize_unknown_key(client: MeetingsClient, theme_id: str, key: str) -> None:
    assert_finalize_error(finalize(client, theme_id, [key]), [{"logoKey": key, "code": "key_not_found"}])


def test_finalize_all_or_nothing(client: MeetingsClient, server: Server, theme_id: str) -> None:
    good = upload(client, server, "white", logo(50, 50))
    bad = upload(client, server, "favicon", logo(50, 50))
    missing = "auto-expiring-temp/logos/colored/" + str(uuid.uuid4())
    resp = finalize(client, theme_id, [good, bad, missing])
    assert_finalize_error(resp, [
        {"logoKey": bad, "code": "invalid_logo_properties", "invalidProperty": "dimensions"},
        {"logoKey": missing, "code": "key_not_found"},
    ])
    theme = client.get_theme(theme_id)
    assert all(theme[c] is None for c in COLUMN.values())
    # The good key was not spent by the failed attempt.
    assert_ok(finalize(client, theme_id, [good]))


def test_finalize_same_key_twice_in_one_call(client: MeetingsClient, server: Server, theme_id: str) -> None:
    data = logo(40, 40)
    key = upload(client, server, "white", data)
    assert_ok(finalize(client, theme_id, [key, key]))
    theme = client.get_theme(theme_id)
    assert httpx.get(theme["brand_image_white_url"], verify=server.ssl).content == data


def test_finalize_two_logos_of_one_type(client: MeetingsClient, server: Server, theme_id: str) -> None:
    """Two white logos in one call: the last one wins and nothing is left behind for the first."""
    first, second = logo(40, 40), logo(41, 41)
    k1, k2 = upload(client, server, "white", first), upload(client, server, "white", second)
    assert_ok(finalize(client, theme_id, [k1, k2]))
    theme = client.get_theme(theme_id)
    assert httpx.get(theme["brand_image_white_url"], verify=server.ssl).content == second
    assert stored(server, k1) is None and stored(server, k2) is None
    from meetkit.config import Settings

    folder = Settings(data_dir=server.data_dir).objects_dir / "logos" / client.application_id / theme_id
    assert [p.name for p in folder.iterdir()] == [theme["brand_image_white"].rsplit("/", 1)[1]]


def test_logo_type_comes_from_the_key(client: MeetingsClient, server: Server, theme_id: str) -> None:
    """A 200 px image uploaded through the favicon slot is judged as a favicon."""
    key = upload(client, server, "favicon", logo(200, 200))
    assert_finalize_error(finalize(client, theme_id, [key]), [
        {"logoKey": key, "code": "invalid_logo_properties", "invalidProperty": "dimensions"}])


def test_another_applications_key(client: MeetingsClient, server: Server, theme_id: str, tmp_path: Path) -> None:
    with other_client(server, tmp_path) as other:
        key = upload(other, server, "white", logo(50, 50))
        assert_finalize_error(finalize(client, theme_id, [key]), [{"logoKey": key, "code": "key_not_found"}])
        # Still the other application's to use.
        assert_ok(finalize(other, new_theme(other), [key]))
    assert client.get_theme(theme_id)["brand_image_white"] is None


@pytest.mark.parametrize(
    "body",
    [{}, {"keys": "auto-expiring-temp/logos/white/x"}, {"keys": [1]}, {"keys": ["a", "b", "c", "d"]},
     {"keys": None}, []],
)
def test_finalize_bad_body(client: MeetingsClient, theme_id: str, body: Any) -> None:
    resp = client.request("PUT", f"/themes/{theme_id}/finalizeLogos", json=body)
    assert_error(resp, 400)


def test_finalize_empty_keys(client: MeetingsClient, theme_id: str) -> None:
    resp = finalize(client, theme_id, [])
    body = assert_error(resp, 400, "BadRequestError", "could not finalize logos")
    assert body["errors"] and body["errors"][0]["code"] == "key_not_found"


def test_finalize_unknown_theme(client: MeetingsClient, server: Server) -> None:
    key = upload(client, server, "white", logo(50, 50))
    unknown = str(uuid.uuid4())
    assert_error(finalize(client, unknown, [key]), 404, "NotFoundError", f"could not find theme {unknown}")


def test_typed_client_reports_finalize_errors(client: MeetingsClient, theme_id: str) -> None:
    with pytest.raises(MeetingsApiError) as err:
        client.upload_logo(theme_id, png_bytes(100, 100, transparent=False), "white")
    assert err.value.status == 400 and err.value.body["errors"][0]["invalidProperty"] == "transparent_bg"


# ---- step 2: the upload endpoint's own errors (S3-style XML) -------------------------------------------


def test_upload_bad_signature(client: MeetingsClient, server: Server) -> None:
    target = targets(client)["white"]
    fields = {**target["fields"], "X-Amz-Signature": "0" * 64}
    code, _ = s3_error(post_upload(server, target, logo(10, 10), fields=fields), 403)
    assert code == "SignatureDoesNotMatch"
    fields = {**target["fields"], "X-Amz-Signature": "\u00e9" * 64}
    assert s3_error(post_upload(server, target, logo(10, 10), fields=fields), 403)[0] == "SignatureDoesNotMatch"
    assert stored(server, target["fields"]["key"]) is None


def test_upload_tampered_policy(client: MeetingsClient, server: Server) -> None:
    target = targets(client)["white"]
    policy = json.loads(base64.b64decode(target["fields"]["Policy"]))
    policy["conditions"] = [c for c in policy["conditions"] if not (isinstance(c, list))]  # drop the size limit
    forged = base64.b64encode(json.dumps(policy).encode()).decode()
    fields = {**target["fields"], "Policy": forged}
    assert s3_error(post_upload(server, target, logo(10, 10), fields=fields), 403)[0] == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda f: {**f, "key": f"auto-expiring-temp/logos/white/{uuid.uuid4()}"},
        lambda f: {**f, "key": f["key"].replace("/white/", "/colored/")},
        lambda f: {**f, "key": "logos/evil.png"},
        lambda f: {**f, "key": "../../secret.key"},
        lambda f: {k: v for k, v in f.items() if k != "key"},
        lambda f: {**f, "bucket": "someone-else"},
    ],
    ids=["other-uuid", "other-type", "permanent-area", "traversal", "no-key", "bucket"],
)
def test_upload_tampered_fields(client: MeetingsClient, server: Server, tamper: Any) -> None:
    target = targets(client)["white"]
    fields = tamper(dict(target["fields"]))
    code, message = s3_error(post_upload(server, target, logo(10, 10), fields=fields), 403)
    assert code == "AccessDenied" and "Policy" in message


def test_upload_missing_policy_or_signature(client: MeetingsClient, server: Server) -> None:
    target = targets(client)["white"]
    for drop in ("Policy", "X-Amz-Signature"):
        fields = {k: v for k, v in target["fields"].items() if k != drop}
        assert s3_error(post_upload(server, target, logo(10, 10), fields=fields), 403)[0] == "AccessDenied"


def test_upload_expired_policy(client: MeetingsClient, server: Server, theme_id: str) -> None:
    """A policy that expired (signed by the server's own secret, as the server would have signed it)."""
    from meetkit.api.themes import sign_policy

    target = targets(client)["white"]
    policy = json.loads(base64.b64decode(target["fields"]["Policy"]))
    policy["expiration"] = "2020-01-01T00:00:00.000Z"
    b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    fields = {**target["fields"], "Policy": b64, "X-Amz-Signature": sign_policy(server_secret(server), b64)}
    resp = post_upload(server, target, logo(10, 10), fields=fields)
    assert resp.status_code == 403
    assert resp.headers["content-type"].startswith("application/xml")
    assert resp.text.endswith(
        "<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message></Error>")
    assert_finalize_error(finalize(client, theme_id, [target["fields"]["key"]]),
                          [{"logoKey": target["fields"]["key"], "code": "key_not_found"}])


def test_upload_without_file(client: MeetingsClient, server: Server) -> None:
    target = targets(client)["white"]
    resp = httpx.post(target["url"], data=target["fields"], files={"other": ("x", b"x")}, verify=server.ssl)
    s3_error(resp, 400)
    # Fields only, as multipart: still no file.
    resp = httpx.post(target["url"], files={k: (None, v) for k, v in target["fields"].items()}, verify=server.ssl)
    s3_error(resp, 400)


def test_upload_empty_body_with_bearer(client: MeetingsClient, server: Server) -> None:
    """The Node SDK may send a Bearer token and no body at all: an S3 error, never a 500."""
    target = targets(client)["white"]
    auth = {"Authorization": f"Bearer {client.token()}"}
    s3_error(httpx.post(target["url"], headers=auth, verify=server.ssl))
    s3_error(httpx.post(target["url"], content=b"", headers=auth, verify=server.ssl))
    s3_error(httpx.put(target["url"], headers=auth, verify=server.ssl))
    s3_error(httpx.post(target["url"], content=b"", verify=server.ssl,
                        headers={**auth, "Content-Type": "multipart/form-data; boundary=xyz"}))
    s3_error(httpx.post(target["url"], content=b"", verify=server.ssl,
                        headers={**auth, "Content-Type": "multipart/form-data"}))


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        (b'{"key": "x"}', "application/json"),
        (b"key=x&Policy=y", "application/x-www-form-urlencoded"),
        (b"\x89PNG", "image/png"),
        (b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nabc", "multipart/form-data; boundary=xyz"),
        (b"garbage without boundary", "multipart/form-data; boundary=xyz"),
    ],
    ids=["json", "urlencoded", "raw-png", "truncated-multipart", "garbage-multipart"],
)
def test_upload_not_multipart_or_malformed(client: MeetingsClient, server: Server, content: bytes,
                                          ctype: str) -> None:
    target = targets(client)["white"]
    s3_error(httpx.post(target["url"], content=content, headers={"Content-Type": ctype}, verify=server.ssl))


def test_upload_urlencoded_with_real_fields(client: MeetingsClient, server: Server) -> None:
    target = targets(client)["white"]
    s3_error(httpx.post(target["url"], data=target["fields"], verify=server.ssl))


def test_upload_too_large(client: MeetingsClient, server: Server) -> None:
    """Beyond the policy's content-length range (5 MB): refused before finalize ever sees it."""
    target = targets(client)["white"]
    big = secrets.token_bytes(5 * MB + 1)
    code, _ = s3_error(post_upload(server, target, big))
    assert code in ("EntityTooLarge", "MalformedPOSTRequest")
    assert stored(server, target["fields"]["key"]) is None

    def chunks() -> Iterator[bytes]:
        boundary = b"--b0undary\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="x.png"\r\n\r\n'
        for _ in range(6):
            yield secrets.token_bytes(MB)
        yield b"\r\n--b0undary--\r\n"

    # Chunked: no Content-Length to refuse up front.
    resp = httpx.post(target["url"], content=chunks(), verify=server.ssl, timeout=60,
                      headers={"Content-Type": "multipart/form-data; boundary=b0undary"})
    s3_error(resp)


def test_upload_same_key_twice_keeps_the_latest(client: MeetingsClient, server: Server, theme_id: str) -> None:
    target = targets(client)["white"]
    assert post_upload(server, target, png_bytes(10, 10, transparent=False)).status_code == 204
    second = logo(12, 12)
    assert post_upload(server, target, second).status_code == 204
    assert_ok(finalize(client, theme_id, [target["fields"]["key"]]))
    assert httpx.get(client.get_theme(theme_id)["brand_image_white_url"], verify=server.ssl).content == second


# ---- the public asset links ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "logos/nothing-here.png",
        "secret.key",
        "logos/../secret.key",
        "logos/%2e%2e/secret.key",
        "logos/..%2f..%2fsecret.key",
        "auto-expiring-temp/logos/white/00000000-0000-0000-0000-000000000000",
    ],
)
def test_assets_do_not_leak(server: Server, path: str) -> None:
    resp = httpx.get(f"{server.base_url}/v1/meetings/assets/{path}", verify=server.ssl)
    assert server_secret(server) not in resp.content
    assert_error(resp, 404, "NotFoundError")


def test_temporary_uploads_are_not_served(client: MeetingsClient, server: Server) -> None:
    key = upload(client, server, "white", logo(10, 10))
    resp = httpx.get(f"{server.base_url}/v1/meetings/assets/{key}", verify=server.ssl)
    assert_error(resp, 404, "NotFoundError")
