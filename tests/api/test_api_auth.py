"""JWT auth over real HTTP, on SQLite and PostgreSQL: what the gateway accepted and what it refused.

Tokens are built with PyJWT directly (not the typed client) so every claim can be bent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from meetkit.client import MeetingsClient

from ..support import Server, create_application, run, server_container

UNAUTHORIZED = {"title": "Unauthorized", "detail": "You did not provide correct credentials"}
MISSING = {"title": "Missing Auth", "detail": "Auth header is required"}
DAY = 24 * 3600


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.base_url}/v1/meetings", verify=server.ssl, trust_env=False,
                      timeout=30) as c:
        yield c


def claims(app_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {"application_id": app_id, "iat": now, "exp": now + 900, "jti": str(uuid.uuid4())}
    for k, v in overrides.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def sign(payload: dict[str, Any], key: str | bytes, alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(resp: httpx.Response, body: dict[str, str] = UNAUTHORIZED) -> None:
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == body


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def other_rsa_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# ---- the routes all guard the same way ----------------------------------------------------------------

GUARDED = [
    ("GET", "/rooms"),
    ("POST", "/rooms"),
    ("GET", "/rooms/00000000-0000-0000-0000-000000000000"),
    ("PATCH", "/rooms/00000000-0000-0000-0000-000000000000"),
    ("GET", "/themes"),
    ("POST", "/themes"),
    ("GET", "/themes/logos-upload-urls"),
    ("GET", "/themes/00000000-0000-0000-0000-000000000000"),
    ("DELETE", "/themes/00000000-0000-0000-0000-000000000000"),
    ("GET", "/themes/00000000-0000-0000-0000-000000000000/rooms"),
    ("PUT", "/themes/00000000-0000-0000-0000-000000000000/finalizeLogos"),
    ("PATCH", "/applications"),
    ("GET", "/recordings/00000000-0000-0000-0000-000000000000"),
    ("DELETE", "/recordings/00000000-0000-0000-0000-000000000000"),
    ("GET", "/sessions/s1/recordings"),
    ("GET", "/sessions/s1"),
    ("GET", "/dial-in-numbers"),
]


@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_missing_header_on_every_route(http: httpx.Client, method: str, path: str) -> None:
    # A body that would fail validation: auth must be decided first.
    body = {} if method in ("POST", "PATCH", "PUT") else None
    assert_401(http.request(method, path, json=body), MISSING)


@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_bad_token_on_every_route(http: httpx.Client, application: tuple[str, str], method: str,
                                  path: str) -> None:
    app_id, _ = application
    forged = sign(claims(app_id), other_rsa_key())
    body = {} if method in ("POST", "PATCH", "PUT") else None
    assert_401(http.request(method, path, json=body, headers=bearer(forged)))


@pytest.mark.parametrize("prefix", ["/v1/meetings", "/beta/meetings", "/meetings"])
def test_aliases_guard_too(server: Server, application: tuple[str, str], prefix: str) -> None:
    app_id, key = application
    url = f"{server.base_url}{prefix}/rooms"
    assert_401(httpx.get(url, verify=server.ssl), MISSING)
    assert_401(httpx.get(url, verify=server.ssl, headers=bearer("garbage")))
    ok = httpx.get(url, verify=server.ssl, headers=bearer(sign(claims(app_id), key)))
    assert ok.status_code == 200, ok.text


def test_empty_header_is_missing(http: httpx.Client) -> None:
    assert_401(http.get("/rooms", headers={"Authorization": ""}), MISSING)


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer   .",
        "Token abc.def.ghi",
        "bearer-ish abc",
        "Bearer abc.def.ghi",
        "Bearer not-a-jwt",
        "Bearer a.b",
        "Bearer ....",
        "Bearer " + "A" * 5000,
    ],
)
def test_malformed_headers(http: httpx.Client, header: str) -> None:
    assert_401(http.get("/rooms", headers={"Authorization": header}))


def test_valid_token_accepted(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    resp = http.get("/rooms", headers=bearer(sign(claims(app_id), key)))
    assert resp.status_code == 200, resp.text
    assert resp.json()["total_items"] == 0


def test_lowercase_bearer_scheme_accepted(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    resp = http.get("/rooms", headers={"Authorization": f"bearer {sign(claims(app_id), key)}"})
    assert resp.status_code == 200, resp.text


def test_optional_claims_accepted(http: httpx.Client, application: tuple[str, str]) -> None:
    """The claims other Vonage tooling adds: nbf, sub, acl (vonage-jwt's shape)."""
    app_id, key = application
    now = int(time.time())
    acl = {"paths": {"/*/meetings/**": {}, "/*/users/**": {}}}
    for extra in ({"nbf": now - 5}, {"sub": "alice"}, {"acl": acl},
                  {"nbf": now, "sub": "bob", "acl": acl, "iss": "anything"}):
        resp = http.get("/themes", headers=bearer(sign(claims(app_id, **extra), key)))
        assert resp.status_code == 200, (extra, resp.text)
        assert resp.json() == []


def test_vonage_jwt_library_token_accepted(http: httpx.Client, application: tuple[str, str]) -> None:
    """The Python SDK signs with vonage-jwt: its tokens (with acl, ttl 900) must pass."""
    vonage_jwt = pytest.importorskip("vonage_jwt")
    app_id, key = application
    token = vonage_jwt.JwtClient(app_id, key).generate_application_jwt()
    token = token.decode() if isinstance(token, bytes) else token
    resp = http.get("/dial-in-numbers", headers=bearer(token))
    assert resp.status_code == 200, resp.text


def test_hs256_tokens_refused(http: httpx.Client, application: tuple[str, str], server: Server) -> None:
    app_id, _ = application
    # A plain shared-secret token.
    assert_401(http.get("/rooms", headers=bearer(sign(claims(app_id), "x" * 32, "HS256"))))
    # The algorithm-confusion attack: HMAC keyed with the application's *public* key PEM.
    from meetkit.storage import tables as t

    async def public_pem() -> str:
        async with server_container(server) as c, c.sessions() as db:
            row = await db.get(t.Application, app_id)
            assert row is not None
            return row.public_key_pem

    pem = run(public_pem()).encode()
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims(app_id)).encode())
    mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert_401(http.get("/rooms", headers=bearer(f"{head}.{body}.{b64url(mac)}")))


def test_alg_none_refused(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, _ = application
    head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims(app_id)).encode())
    for token in (f"{head}.{body}.", f"{head}.{body}"):
        assert_401(http.get("/rooms", headers=bearer(token)))


def test_other_rsa_algorithms_refused(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    for alg in ("RS512", "PS256"):
        assert_401(http.get("/rooms", headers=bearer(sign(claims(app_id), key, alg))))


def test_signed_by_another_key(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, _ = application
    assert_401(http.get("/rooms", headers=bearer(sign(claims(app_id), other_rsa_key()))))


def test_tampered_payload(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    head, _, sig = sign(claims(app_id), key).split(".")
    other_body = b64url(json.dumps(claims(app_id)).encode())
    assert_401(http.get("/rooms", headers=bearer(f"{head}.{other_body}.{sig}")))


def test_signature_of_another_application(http: httpx.Client, application: tuple[str, str],
                                          server: Server, tmp_path) -> None:
    """Claiming application A while signing with application B's (registered) key."""
    app_a, _ = application
    _app_b, key_b = _other_application(server, tmp_path)
    assert_401(http.get("/rooms", headers=bearer(sign(claims(app_a), key_b))))


@pytest.mark.parametrize("app_id", [str(uuid.uuid4()), "", "x" * 65, "not-a-uuid"])
def test_unknown_application(http: httpx.Client, application: tuple[str, str], app_id: str) -> None:
    _, key = application
    assert_401(http.get("/rooms", headers=bearer(sign(claims(app_id), key))))


@pytest.mark.parametrize("bad", [123, None, ["a"], {"id": "x"}])
def test_application_id_not_a_string(http: httpx.Client, application: tuple[str, str], bad: Any) -> None:
    _, key = application
    payload = claims("placeholder")
    if bad is None:
        del payload["application_id"]
    else:
        payload["application_id"] = bad
    assert_401(http.get("/rooms", headers=bearer(sign(payload, key))))


def test_expired_token(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    now = int(time.time())
    token = sign(claims(app_id, iat=now - 1000, exp=now - 100), key)
    assert_401(http.get("/rooms", headers=bearer(token)))
    # Long past.
    token = sign(claims(app_id, iat=now - 10 * DAY, exp=now - 10 * DAY + 900), key)
    assert_401(http.get("/rooms", headers=bearer(token)))


def test_future_dated_iat(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    now = int(time.time())
    token = sign(claims(app_id, iat=now + 3600, exp=now + 3600 + 900), key)
    assert_401(http.get("/rooms", headers=bearer(token)))
    token = sign(claims(app_id, iat=now + 120, exp=now + 900), key)
    assert_401(http.get("/rooms", headers=bearer(token)))


def test_small_clock_skew_tolerated(http: httpx.Client, application: tuple[str, str]) -> None:
    """A client clock a few seconds ahead is normal; its tokens still pass."""
    app_id, key = application
    now = int(time.time())
    token = sign(claims(app_id, iat=now + 5, exp=now + 905), key)
    assert http.get("/rooms", headers=bearer(token)).status_code == 200


def test_not_before_in_future(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    token = sign(claims(app_id, nbf=int(time.time()) + 3600), key)
    assert_401(http.get("/rooms", headers=bearer(token)))


@pytest.mark.parametrize("missing", ["jti", "exp", "iat"])
def test_missing_required_claim(http: httpx.Client, application: tuple[str, str], missing: str) -> None:
    app_id, key = application
    token = sign(claims(app_id, **{missing: None}), key)
    assert_401(http.get("/rooms", headers=bearer(token)))


@pytest.mark.parametrize(
    "override",
    [{"jti": ""}, {"jti": 12345}, {"iat": "yesterday"}, {"exp": "tomorrow"}, {"iat": True}],
)
def test_malformed_claims(http: httpx.Client, application: tuple[str, str], override: dict[str, Any]) -> None:
    app_id, key = application
    assert_401(http.get("/rooms", headers=bearer(sign(claims(app_id, **override), key))))


def test_lifetime_over_a_day(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    now = int(time.time())
    too_long = sign(claims(app_id, iat=now, exp=now + DAY + 120), key)
    assert_401(http.get("/rooms", headers=bearer(too_long)))
    forever = sign(claims(app_id, iat=now, exp=now + 365 * DAY), key)
    assert_401(http.get("/rooms", headers=bearer(forever)))
    a_day = sign(claims(app_id, iat=now, exp=now + DAY), key)
    assert http.get("/rooms", headers=bearer(a_day)).status_code == 200


def test_exp_before_iat(http: httpx.Client, application: tuple[str, str]) -> None:
    """A token that expires before it was issued is nonsense, even inside the clock-skew leeway."""
    app_id, key = application
    now = int(time.time())
    token = sign(claims(app_id, iat=now + 20, exp=now + 10), key)
    assert_401(http.get("/rooms", headers=bearer(token)))
    token = sign(claims(app_id, iat=now, exp=now), key)
    assert_401(http.get("/rooms", headers=bearer(token)))


def test_replayed_token(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    token = sign(claims(app_id), key)
    assert http.get("/rooms", headers=bearer(token)).status_code == 200
    assert_401(http.get("/rooms", headers=bearer(token)))
    # Replayed on another route: still the same token id.
    assert_401(http.get("/themes", headers=bearer(token)))


def test_reused_jti_in_a_fresh_token(http: httpx.Client, application: tuple[str, str]) -> None:
    app_id, key = application
    jti = str(uuid.uuid4())
    now = int(time.time())
    assert http.get("/rooms", headers=bearer(sign(claims(app_id, jti=jti, iat=now), key))).status_code == 200
    assert_401(http.get("/rooms", headers=bearer(sign(claims(app_id, jti=jti, iat=now - 1), key))))


def test_failed_request_does_not_burn_the_jti(http: httpx.Client, application: tuple[str, str]) -> None:
    """A token refused for another reason (bad signature) must not block the genuine token later."""
    app_id, key = application
    payload = claims(app_id)
    assert_401(http.get("/rooms", headers=bearer(sign(payload, other_rsa_key()))))
    assert http.get("/rooms", headers=bearer(sign(payload, key))).status_code == 200


def test_jti_is_scoped_per_application(http: httpx.Client, application: tuple[str, str], server: Server,
                                       tmp_path) -> None:
    app_a, key_a = application
    app_b, key_b = _other_application(server, tmp_path)
    jti = str(uuid.uuid4())
    assert http.get("/rooms", headers=bearer(sign(claims(app_a, jti=jti), key_a))).status_code == 200
    assert http.get("/rooms", headers=bearer(sign(claims(app_b, jti=jti), key_b))).status_code == 200


def test_concurrent_replay_only_one_wins(server: Server, application: tuple[str, str]) -> None:
    import asyncio

    app_id, key = application
    token = sign(claims(app_id), key)

    async def race() -> list[int]:
        async with httpx.AsyncClient(base_url=f"{server.base_url}/v1/meetings", verify=server.ssl,
                                     timeout=30) as c:
            resps = await asyncio.gather(*(c.get("/rooms", headers=bearer(token)) for _ in range(8)))
        return sorted(r.status_code for r in resps)

    codes = asyncio.run(race())
    assert codes == [200] + [401] * 7


def test_typed_client_tokens(client: MeetingsClient) -> None:
    """The typed client signs a fresh token per request: many requests in a row all pass."""
    for _ in range(5):
        assert client.request("GET", "/rooms").status_code == 200
    assert len({client.token() for _ in range(3)}) == 3


def _other_application(server: Server, tmp_path) -> tuple[str, str]:
    return create_application(server, tmp_path / "other", "other")


@pytest.mark.parametrize(
    "override",
    [
        {"exp": float("inf")},
        {"iat": float("inf")},
        {"iat": float("-inf"), "exp": float("inf")},
        {"nbf": float("inf")},
        {"exp": float("nan")},
        {"exp": 10**30},
        {"iat": -(10**30)},
        {"exp": 1e308},
    ],
    ids=["exp-inf", "iat-inf", "both-inf", "nbf-inf", "exp-nan", "exp-huge", "iat-huge-negative", "exp-1e308"],
)
def test_absurd_times_are_401_not_500(http: httpx.Client, application: tuple[str, str],
                                      override: dict[str, Any]) -> None:
    """JSON from PyJWT may carry Infinity/NaN and huge numbers; each is a bad token, never a crash."""
    app_id, key = application
    assert_401(http.get("/rooms", headers=bearer(sign(claims(app_id, **override), key))))
