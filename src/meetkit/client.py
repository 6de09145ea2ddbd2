"""A typed Python client for meetkit (and any Meetings API v1 server). It signs its own JWTs.

    from meetkit.client import MeetingsClient
    client = MeetingsClient("http://127.0.0.1:8080", application_id, Path("app.key").read_text())
    room = client.create_room({"display_name": "Stand-up"})
    print(room["_links"]["guest_url"]["href"])
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

Json = dict[str, Any]
LogoType = Literal["white", "colored", "favicon"]


class MeetingsApiError(Exception):
    """A non-2xx answer. ``body`` is the parsed error body ({message, name, status[, errors]})."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        detail = body.get("message") or body.get("detail") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {detail}")


class MeetingsClient:
    def __init__(
        self,
        base_url: str,
        application_id: str,
        private_key: str | bytes,
        *,
        api_path: str = "/v1/meetings",
        verify: bool | str = True,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.application_id = application_id
        pem = private_key.encode() if isinstance(private_key, str) else private_key
        # Loaded once: loading (and checking) an RSA private key costs far more than one signature.
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the application's private key must be an RSA key (tokens are RS256)")
        self._key = key
        if isinstance(verify, str):
            verify_arg: bool | ssl.SSLContext = ssl.create_default_context(cafile=verify)
        else:
            verify_arg = verify
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + api_path, verify=verify_arg, timeout=timeout, transport=transport,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MeetingsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- auth ---------------------------------------------------------------------------------------

    def token(self, ttl: int = 900) -> str:
        now = int(time.time())
        claims = {"application_id": self.application_id, "iat": now, "exp": now + ttl, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self._key, algorithm="RS256")

    def request(self, method: str, path: str, *, json: Any = None,
                params: Mapping[str, Any] | None = None) -> httpx.Response:
        """Send one signed request and return the raw response, whatever its status."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        return self._http.request(method, path, json=json, params=params, headers=headers)

    def _call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        resp = self.request(method, path, json=json, params=params)
        if resp.status_code >= 400:
            try:
                body: Any = resp.json()
            except ValueError:
                body = resp.text
            raise MeetingsApiError(resp.status_code, body)
        if resp.status_code == 204 or not resp.content:
            return None
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.text

    # ---- rooms --------------------------------------------------------------------------------------

    def create_room(self, body: Json) -> Json:
        result: Json = self._call("POST", "/rooms", json=body)
        return result

    def get_room(self, room_id: str) -> Json:
        result: Json = self._call("GET", f"/rooms/{room_id}")
        return result

    def list_rooms_page(self, page_size: int = 20, start_id: int | None = None,
                        end_id: int | None = None, theme_id: str | None = None) -> Json:
        params: dict[str, Any] = {"page_size": page_size}
        if start_id is not None:
            params["start_id"] = start_id
        if end_id is not None:
            params["end_id"] = end_id
        path = f"/themes/{theme_id}/rooms" if theme_id else "/rooms"
        result: Json = self._call("GET", path, params=params)
        return result

    def iter_rooms(self, page_size: int = 100, theme_id: str | None = None) -> Iterator[Json]:
        """Every room, following the ``next`` links."""
        page = self.list_rooms_page(page_size=page_size, theme_id=theme_id)
        while True:
            yield from page["_embedded"]
            nxt = page["_links"].get("next")
            if not nxt:
                return
            page = self._call("GET", nxt["href"])  # absolute: httpx ignores the base URL

    def update_room(self, room_id: str, details: Json) -> Json:
        result: Json = self._call("PATCH", f"/rooms/{room_id}", json={"update_details": details})
        return result

    def delete_room(self, room_id: str) -> None:
        self._call("DELETE", f"/rooms/{room_id}")

    # ---- themes -------------------------------------------------------------------------------------

    def list_themes(self) -> list[Json]:
        result: list[Json] = self._call("GET", "/themes")
        return result

    def create_theme(self, body: Json) -> Json:
        result: Json = self._call("POST", "/themes", json=body)
        return result

    def get_theme(self, theme_id: str) -> Json:
        result: Json = self._call("GET", f"/themes/{theme_id}")
        return result

    def update_theme(self, theme_id: str, details: Json) -> Json:
        result: Json = self._call("PATCH", f"/themes/{theme_id}", json={"update_details": details})
        return result

    def delete_theme(self, theme_id: str, force: bool = False) -> None:
        self._call("DELETE", f"/themes/{theme_id}", params={"force": "true" if force else "false"})

    def set_default_theme(self, theme_id: str | None) -> Json:
        result: Json = self._call("PATCH", "/applications", json={"update_details": {"default_theme_id": theme_id}})
        return result

    def upload_logo(self, theme_id: str, png: Path | bytes, logo_type: LogoType) -> None:
        """The three steps: get a signed upload URL, upload, then finalize into the theme."""
        targets: list[Json] = self._call("GET", "/themes/logos-upload-urls")
        target = next(t for t in targets if t["fields"]["logoType"] == logo_type)
        data = png.read_bytes() if isinstance(png, Path) else png
        resp = self._http.post(target["url"], data=target["fields"], files={"file": ("logo.png", data, "image/png")})
        if resp.status_code != 204:
            raise MeetingsApiError(resp.status_code, resp.text)
        self._call("PUT", f"/themes/{theme_id}/finalizeLogos", json={"keys": [target["fields"]["key"]]})

    # ---- recordings, sessions, numbers ---------------------------------------------------------------

    def get_recording(self, recording_id: str) -> Json:
        result: Json = self._call("GET", f"/recordings/{recording_id}")
        return result

    def delete_recording(self, recording_id: str) -> None:
        self._call("DELETE", f"/recordings/{recording_id}")

    def session_recordings(self, session_id: str) -> list[Json]:
        result: Json = self._call("GET", f"/sessions/{session_id}/recordings")
        recordings: list[Json] = result["_embedded"]["recordings"]
        return recordings

    def dial_in_numbers(self) -> list[Json]:
        result: list[Json] = self._call("GET", "/dial-in-numbers")
        return result
