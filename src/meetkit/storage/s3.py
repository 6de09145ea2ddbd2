"""An S3-compatible object store (AWS S3, Ceph RGW, MinIO, ...), spoken with httpx and our own SigV4.

Path-style addressing (``<endpoint>/<bucket>/<key>``), which every S3-compatible server accepts.
Requests are synchronous, like the ``ObjectStore`` protocol: async callers run them in a thread.
Every request has a timeout and is retried a bounded number of times on connection errors and 5xx
answers; each one is idempotent (a PUT of the same bytes, a GET, a DELETE, one multipart part).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

import httpx

from .objects import check_key

log = logging.getLogger(__name__)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part (all but the last)
MAX_PRESIGN_TTL = 7 * 24 * 3600  # S3's longest presigned URL
ATTEMPTS = 3
RETRY_DELAY = 0.25  # seconds, doubled after each failed attempt
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
_CONTENT_TYPES = {".png": "image/png", ".mp4": "video/mp4"}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _uri_encode(text: str, *, keep_slash: bool = False) -> str:
    """SigV4's URI encoding: every byte but the unreserved characters as %XX (upper case)."""
    return quote(text, safe="-_.~/" if keep_slash else "-_.~")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class S3Error(RuntimeError):
    """An S3 request that failed: the HTTP status and S3's error code (empty when there was no answer)."""

    def __init__(self, operation: str, status: int, code: str, message: str) -> None:
        super().__init__(f"S3 {operation} failed: {status} {code} {message}".strip())
        self.status, self.code = status, code


class SigV4Signer:
    """AWS Signature Version 4 for S3: the Authorization header and presigned query strings."""

    def __init__(self, access_key_id: str, secret_access_key: str, region: str, service: str = "s3") -> None:
        self.access_key_id = access_key_id
        self._secret = secret_access_key
        self.region = region
        self.service = service

    def __repr__(self) -> str:  # never the secret
        return f"SigV4Signer(access_key_id={self.access_key_id!r}, region={self.region!r})"

    def _scope(self, day: str) -> str:
        return f"{day}/{self.region}/{self.service}/aws4_request"

    def _signature(self, when: dt.datetime, canonical_request: str) -> str:
        amz_date, day = when.strftime("%Y%m%dT%H%M%SZ"), when.strftime("%Y%m%d")
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, self._scope(day),
                             hashlib.sha256(canonical_request.encode()).hexdigest()])
        key = _hmac(("AWS4" + self._secret).encode(), day)
        for part in (self.region, self.service, "aws4_request"):
            key = _hmac(key, part)
        return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _canonical_request(method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
                           payload_hash: str) -> tuple[str, str]:
        canonical_query = "&".join(
            f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(query.items()))
        lowered = sorted((k.lower(), " ".join(v.strip().split())) for k, v in headers.items())
        canonical_headers = "".join(f"{k}:{v}\n" for k, v in lowered)
        signed_headers = ";".join(k for k, _ in lowered)
        request = "\n".join([method, _uri_encode(path, keep_slash=True), canonical_query, canonical_headers,
                             signed_headers, payload_hash])
        return request, signed_headers

    def sign(self, method: str, host: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
             payload_hash: str, when: dt.datetime) -> dict[str, str]:
        """``headers`` plus Host, X-Amz-Date, X-Amz-Content-Sha256 and Authorization. ``path`` is not
        yet encoded."""
        signed = {**headers, "host": host, "x-amz-date": when.strftime("%Y%m%dT%H%M%SZ"),
                  "x-amz-content-sha256": payload_hash}
        request, signed_headers = self._canonical_request(method, path, query, signed, payload_hash)
        signature = self._signature(when, request)
        credential = f"{self.access_key_id}/{self._scope(when.strftime('%Y%m%d'))}"
        signed["authorization"] = (f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, "
                                   f"Signature={signature}")
        return signed

    def presign(self, method: str, host: str, path: str, query: Mapping[str, str], expires_in: int,
                when: dt.datetime) -> dict[str, str]:
        """The query string (``query`` plus the X-Amz-* fields) of a presigned URL; only Host is signed."""
        full = {
            **query,
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{self.access_key_id}/{self._scope(when.strftime('%Y%m%d'))}",
            "X-Amz-Date": when.strftime("%Y%m%dT%H%M%SZ"),
            "X-Amz-Expires": str(expires_in),
            "X-Amz-SignedHeaders": "host",
        }
        request, _ = self._canonical_request(method, path, full, {"host": host}, UNSIGNED_PAYLOAD)
        full["X-Amz-Signature"] = self._signature(when, request)
        return full


def _error_code(body: bytes) -> tuple[str, str]:
    """S3's ``<Error><Code>…</Code><Message>…</Message></Error>``, or empty strings."""
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - the configured S3 server, not user input
    except ElementTree.ParseError:
        return "", ""
    return root.findtext("Code") or "", root.findtext("Message") or ""


def _xml_text(body: bytes, tag: str) -> str | None:
    """The first element named ``tag`` (any namespace) in an XML answer."""
    root = ElementTree.fromstring(body)  # noqa: S314 - the configured S3 server, not user input
    for el in root.iter():
        if el.tag == tag or el.tag.endswith("}" + tag):
            return el.text
    return None


class S3ObjectStore:
    """Objects in one bucket of an S3-compatible server, under an optional key prefix."""

    def __init__(self, endpoint_url: str, bucket: str, access_key_id: str, secret_access_key: str, *,
                 region: str = "us-east-1", prefix: str = "", multipart_threshold: int = 64 * 1024 * 1024,
                 part_size: int = 16 * 1024 * 1024, now: Callable[[], dt.datetime] = _utcnow) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        url = httpx.URL(endpoint_url.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("the S3 endpoint must be an http:// or https:// URL")
        self.endpoint = url
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.multipart_threshold = max(multipart_threshold, part_size)
        self.part_size = part_size
        self._signer = SigV4Signer(access_key_id, secret_access_key, region)
        # The server's clock is wall time, whatever clock the caller's tests move: signatures use this.
        self._now = now
        self._host = url.netloc.decode("ascii")
        self._base_path = url.path.rstrip("/")
        self._http = httpx.Client(timeout=TIMEOUT, follow_redirects=False)

    def __repr__(self) -> str:
        return f"S3ObjectStore({str(self.endpoint)!r}, bucket={self.bucket!r}, prefix={self.prefix!r})"

    def close(self) -> None:
        self._http.close()

    # ---- requests ------------------------------------------------------------------------------------

    def _path(self, key: str | None) -> str:
        """The request path (not encoded): the bucket, or one object in it."""
        bucket = f"{self._base_path}/{self.bucket}"
        return bucket if key is None else f"{bucket}/{self.prefix}{check_key(key)}"

    def _request(self, operation: str, method: str, key: str | None, *, query: Mapping[str, str] | None = None,
                 headers: Mapping[str, str] | None = None, body: bytes | Callable[[], Iterator[bytes]] = b"",
                 payload_hash: str | None = None, ok: tuple[int, ...] = (200,)) -> httpx.Response:
        """One signed request, retried on connection errors and 5xx answers. ``body`` is bytes or a
        function giving a fresh iterator of chunks (so a retry can send it again)."""
        query = dict(query or {})
        path = self._path(key)
        if payload_hash is None:
            payload_hash = hashlib.sha256(body).hexdigest() if isinstance(body, bytes) else UNSIGNED_PAYLOAD
        url = self.endpoint.copy_with(raw_path=(_uri_encode(path, keep_slash=True) + (
            "?" + "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(query.items()))
            if query else "")).encode("ascii"))
        delay = RETRY_DELAY
        for attempt in range(1, ATTEMPTS + 1):
            signed = self._signer.sign(method, self._host, path, query, headers or {}, payload_hash, self._now())
            content = body if isinstance(body, bytes) else body()
            try:
                resp = self._http.request(method, url, headers=signed, content=content)
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS:
                    raise S3Error(operation, 0, "", f"{type(exc).__name__}: {exc}") from exc
                log.warning("S3 %s %s: %s; retrying", operation, key or self.bucket, type(exc).__name__)
            else:
                if resp.status_code in ok:
                    return resp
                if resp.status_code < 500 or attempt == ATTEMPTS:
                    code, message = _error_code(resp.content)
                    raise S3Error(operation, resp.status_code, code, message)
                log.warning("S3 %s %s: HTTP %d; retrying", operation, key or self.bucket, resp.status_code)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    # ---- the ObjectStore protocol ----------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        self._request("PutObject", "PUT", key, body=data, headers={"content-type": _content_type(key)})

    def put_file(self, key: str, source: Path) -> None:
        """Stream a (large) file to ``key``: one PUT up to ``multipart_threshold``, else a multipart upload
        (one part in memory at a time). The object appears whole or not at all."""
        size = source.stat().st_size
        if size <= self.multipart_threshold:
            digest = hashlib.sha256()
            with source.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                    digest.update(chunk)

            def chunks() -> Iterator[bytes]:
                with source.open("rb") as fh:
                    yield from iter(lambda: fh.read(1024 * 1024), b"")

            self._request("PutObject", "PUT", key, body=chunks, payload_hash=digest.hexdigest(),
                          headers={"content-type": _content_type(key), "content-length": str(size)})
            return
        self._multipart(key, source, size)

    def _multipart(self, key: str, source: Path, size: int) -> None:
        resp = self._request("CreateMultipartUpload", "POST", key, query={"uploads": ""},
                             headers={"content-type": _content_type(key)})
        upload_id = _xml_text(resp.content, "UploadId")
        if not upload_id:
            raise S3Error("CreateMultipartUpload", resp.status_code, "", "no UploadId in the answer")
        try:
            etags: list[str] = []
            with source.open("rb") as fh:
                for number in range(1, (size + self.part_size - 1) // self.part_size + 1):
                    part = fh.read(self.part_size)
                    resp = self._request("UploadPart", "PUT", key, body=part,
                                         query={"partNumber": str(number), "uploadId": upload_id})
                    etags.append(resp.headers["etag"])
            parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
                            for n, etag in enumerate(etags, start=1))
            done = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
            resp = self._request("CompleteMultipartUpload", "POST", key, query={"uploadId": upload_id}, body=done,
                                 headers={"content-type": "application/xml"})
            # The server may answer 200 and still fail: the error is then in the body.
            if _xml_text(resp.content, "Code") is not None:
                code, message = _error_code(resp.content)
                raise S3Error("CompleteMultipartUpload", resp.status_code, code, message)
        except BaseException:
            try:
                self._request("AbortMultipartUpload", "DELETE", key, query={"uploadId": upload_id}, ok=(204, 200))
            except S3Error as exc:
                log.warning("could not abort multipart upload of %s: %s", key, exc)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self._request("GetObject", "GET", key).content
        except S3Error as exc:
            if exc.status == 404 and exc.code != "NoSuchBucket":  # a missing bucket is a configuration error
                return None
            raise

    def exists(self, key: str) -> bool:
        try:
            self._request("HeadObject", "HEAD", key)
        except S3Error as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def path(self, key: str) -> Path | None:
        """Objects are not local files: always None (downloads use ``url_for_download``)."""
        check_key(key)
        return None

    def copy(self, src: str, dst: str) -> None:
        source = quote(f"/{self.bucket}/{self.prefix}{check_key(src)}", safe="/-_.~")
        resp = self._request("CopyObject", "PUT", dst, headers={"x-amz-copy-source": source})
        if _xml_text(resp.content, "Code") is not None:  # 200 with an error body, as S3 may answer
            code, message = _error_code(resp.content)
            raise S3Error("CopyObject", resp.status_code, code, message)

    def delete(self, key: str) -> None:
        self._request("DeleteObject", "DELETE", key, ok=(204, 200, 404))

    def url_for_download(self, key: str, ttl: int, *, filename: str | None = None,
                         content_type: str | None = None) -> str | None:
        """A presigned GET of ``key`` valid for ``ttl`` seconds (1 s to 7 days). ``filename`` asks for an
        attachment of that name; ``content_type`` overrides the stored one."""
        ttl = min(max(ttl, 1), MAX_PRESIGN_TTL)
        path = self._path(key)
        query: dict[str, str] = {}
        if filename is not None:
            query["response-content-disposition"] = f'attachment; filename="{filename}"'
        if content_type is not None:
            query["response-content-type"] = content_type
        signed = self._signer.presign("GET", self._host, path, query, ttl, self._now())
        qs = "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in signed.items())
        return f"{self.endpoint.scheme}://{self._host}{_uri_encode(path, keep_slash=True)}?{qs}"

    # ---- for set-up and tests -------------------------------------------------------------------------------

    def create_bucket(self) -> None:
        """Create the bucket (it may already be ours). meetkit itself expects the bucket to exist."""
        try:
            self._request("CreateBucket", "PUT", None)
        except S3Error as exc:
            if exc.code != "BucketAlreadyOwnedByYou":
                raise


def _content_type(key: str) -> str:
    return _CONTENT_TYPES.get(Path(key).suffix.lower(), "application/octet-stream")
