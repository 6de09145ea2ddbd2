"""The S3-compatible object store against a real S3 server on loopback: Ceph's RADOS Gateway, started
by scripts/s3-server.sh (or any S3-compatible server named by MEETKIT_TEST_S3_* variables). Then a real
``meetkit serve`` with MEETKIT_STORAGE_BACKEND=s3: a logo and a recording go through the API into the
bucket and come back through the redirects to presigned URLs."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from meetkit.client import MeetingsClient
from meetkit.config import Settings
from meetkit.storage.objects import BadKey
from meetkit.storage.s3 import EMPTY_SHA256, S3Error, S3ObjectStore, SigV4Signer

from .. import support
from ..support import Server, png_bytes

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = Path(os.environ.get("MEETKIT_TEST_S3_CREDENTIALS", "/var/lib/meetkit-s3/credentials.env"))
MB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_env() -> dict[str, str]:
    """Endpoint and keys of a real S3-compatible server: from the environment, else from the one
    scripts/s3-server.sh installs and starts (root only)."""
    names = ("MEETKIT_TEST_S3_ENDPOINT_URL", "MEETKIT_TEST_S3_ACCESS_KEY_ID", "MEETKIT_TEST_S3_SECRET_ACCESS_KEY")
    if all(os.environ.get(n) for n in names):
        return {n: os.environ[n] for n in names} | {"MEETKIT_TEST_S3_REGION":
                                                    os.environ.get("MEETKIT_TEST_S3_REGION", "us-east-1")}
    if os.geteuid() != 0:
        pytest.skip("the S3 test server (scripts/s3-server.sh) needs root")
    try:
        done = subprocess.run(["bash", str(ROOT / "scripts" / "s3-server.sh")], capture_output=True, text=True,
                              timeout=900)
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/s3-server.sh did not finish in 15 minutes")
    if done.returncode != 0:
        installed = subprocess.run(["dpkg", "-s", "radosgw", "ceph-mon", "ceph-osd"], capture_output=True).returncode
        if installed != 0:
            pytest.skip(f"Ceph's RADOS Gateway could not be installed: {done.stderr[-500:]}")
        pytest.fail(f"scripts/s3-server.sh failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    lines = CREDENTIALS.read_text().split()
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def bucket(s3_env: dict[str, str]) -> Iterator[str]:
    """A fresh bucket for this module, emptied and removed afterwards."""
    name = f"meetkit-test-{uuid.uuid4().hex[:12]}"
    store = make_store(s3_env, name)
    store.create_bucket()
    yield name
    remove_bucket(s3_env, name)
    store.close()


@pytest.fixture
def store(s3_env: dict[str, str], bucket: str) -> Iterator[S3ObjectStore]:
    s = make_store(s3_env, bucket)
    yield s
    s.close()


def make_store(env: dict[str, str], bucket: str, **kw: object) -> S3ObjectStore:
    return S3ObjectStore(env["MEETKIT_TEST_S3_ENDPOINT_URL"], bucket, env["MEETKIT_TEST_S3_ACCESS_KEY_ID"],
                         env["MEETKIT_TEST_S3_SECRET_ACCESS_KEY"], region=env["MEETKIT_TEST_S3_REGION"],
                         **kw)  # type: ignore[arg-type]


def raw(env: dict[str, str], method: str, path: str, query: dict[str, str] | None = None) -> httpx.Response:
    """A signed request of the test's own (listing, removing buckets): not part of the store."""
    url = httpx.URL(env["MEETKIT_TEST_S3_ENDPOINT_URL"])
    signer = SigV4Signer(env["MEETKIT_TEST_S3_ACCESS_KEY_ID"], env["MEETKIT_TEST_S3_SECRET_ACCESS_KEY"],
                         env["MEETKIT_TEST_S3_REGION"])
    host = url.netloc.decode()
    headers = signer.sign(method, host, path, query or {}, {}, EMPTY_SHA256, dt.datetime.now(dt.UTC))
    return httpx.request(method, url.copy_with(path=path, params=query or {}), headers=headers, timeout=30)



def list_keys(env: dict[str, str], bucket: str, prefix: str = "") -> list[str]:
    resp = raw(env, "GET", f"/{bucket}", {"list-type": "2", "prefix": prefix, "max-keys": "1000"})
    assert resp.status_code == 200, resp.text
    root = ElementTree.fromstring(resp.content)  # noqa: S314 - our own test server
    return sorted(el.text or "" for el in root.iter() if el.tag.endswith("}Key") or el.tag == "Key")


def remove_bucket(env: dict[str, str], bucket: str) -> None:
    for key in list_keys(env, bucket):
        raw(env, "DELETE", f"/{bucket}/{key}")
    uploads = raw(env, "GET", f"/{bucket}", {"uploads": ""})
    assert b"<Upload>" not in uploads.content, "a multipart upload was left behind"
    assert raw(env, "DELETE", f"/{bucket}").status_code == 204


# ---- the signer, on AWS's published examples -----------------------------------------------------------------


AWS_KEY, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_WHEN = dt.datetime(2013, 5, 24, tzinfo=dt.UTC)


def test_signer_matches_aws_get_object_example() -> None:
    signer = SigV4Signer(AWS_KEY, AWS_SECRET, "us-east-1")
    signed = signer.sign("GET", "examplebucket.s3.amazonaws.com", "/test.txt", {}, {"Range": "bytes=0-9"},
                         EMPTY_SHA256, AWS_WHEN)
    assert signed["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


def test_signer_matches_aws_presigned_url_example() -> None:
    signer = SigV4Signer(AWS_KEY, AWS_SECRET, "us-east-1")
    query = signer.presign("GET", "examplebucket.s3.amazonaws.com", "/test.txt", {}, 86400, AWS_WHEN)
    assert query["X-Amz-Signature"] == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    assert AWS_SECRET not in repr(signer)


# ---- the store against the real server ------------------------------------------------------------------------


def test_put_get_exists_delete(store: S3ObjectStore) -> None:
    key = f"logos/app/theme/colored-{uuid.uuid4()}.png"
    assert store.get(key) is None and not store.exists(key)
    store.put(key, b"first")
    store.put(key, b"second, longer")  # overwrite
    assert store.get(key) == b"second, longer" and store.exists(key)
    assert store.path(key) is None  # not a local file
    store.delete(key)
    store.delete(key)  # already gone: fine
    assert store.get(key) is None and not store.exists(key)


def test_empty_and_binary_objects(store: S3ObjectStore) -> None:
    data = bytes(range(256)) * 100
    store.put("auto-expiring-temp/logos/white/bin", data)
    store.put("auto-expiring-temp/logos/white/empty", b"")
    assert store.get("auto-expiring-temp/logos/white/bin") == data
    assert store.get("auto-expiring-temp/logos/white/empty") == b""
    store.delete("auto-expiring-temp/logos/white/bin")
    store.delete("auto-expiring-temp/logos/white/empty")


def test_put_file_in_one_request(store: S3ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "recording.mp4"
    source.write_bytes(os.urandom(3 * MB + 1))
    store.put_file("recordings/one.mp4", source)
    assert store.get("recordings/one.mp4") == source.read_bytes()
    store.delete("recordings/one.mp4")


def test_put_file_multipart(s3_env: dict[str, str], bucket: str, tmp_path: Path) -> None:
    """Big files go up in parts (5 MiB here, S3's smallest), one part in memory at a time."""
    source = tmp_path / "recording.mp4"
    source.write_bytes(os.urandom(12 * MB + 12345))
    s = make_store(s3_env, bucket, part_size=5 * MB, multipart_threshold=5 * MB)
    try:
        s.put_file("recordings/parts.mp4", source)
        got = s.get("recordings/parts.mp4")
        assert got is not None and len(got) == 12 * MB + 12345 and got == source.read_bytes()
        # The object is one whole object of three parts: its ETag says so (md5-of-md5s "-3").
        head = httpx.get(s.url_for_download("recordings/parts.mp4", 60) or "", headers={"Range": "bytes=0-0"},
                         timeout=30)
        assert head.headers["etag"].strip('"').endswith("-3")
        assert head.headers["content-type"] == "video/mp4"
    finally:
        s.delete("recordings/parts.mp4")
        s.close()


def test_copy(store: S3ObjectStore) -> None:
    store.put("auto-expiring-temp/logos/colored/src", b"logo bytes")
    store.copy("auto-expiring-temp/logos/colored/src", "logos/a/b/colored-copy.png")
    assert store.get("logos/a/b/colored-copy.png") == b"logo bytes"
    assert store.get("auto-expiring-temp/logos/colored/src") == b"logo bytes"
    with pytest.raises(S3Error) as err:
        store.copy("auto-expiring-temp/logos/colored/missing", "logos/a/b/other.png")
    assert err.value.status == 404
    store.delete("auto-expiring-temp/logos/colored/src")
    store.delete("logos/a/b/colored-copy.png")


def test_keys_are_checked(store: S3ObjectStore) -> None:
    for bad in ("../etc/passwd", "a//b", "/abs", "a/", "a/../b", "sp ace"):
        with pytest.raises(BadKey):
            store.put(bad, b"x")
        with pytest.raises(BadKey):
            store.url_for_download(bad, 60)


def test_prefix_keeps_objects_in_a_folder(s3_env: dict[str, str], bucket: str, store: S3ObjectStore) -> None:
    scoped = make_store(s3_env, bucket, prefix="/tenant-a/")
    try:
        scoped.put("logos/x.png", b"scoped")
        assert list_keys(s3_env, bucket, "tenant-a/") == ["tenant-a/logos/x.png"]
        assert store.get("tenant-a/logos/x.png") == b"scoped" and store.get("logos/x.png") is None
        scoped.copy("logos/x.png", "logos/y.png")
        assert store.get("tenant-a/logos/y.png") == b"scoped"
        url = scoped.url_for_download("logos/y.png", 60)
        assert url is not None and httpx.get(url, timeout=30).content == b"scoped"
    finally:
        scoped.delete("logos/x.png")
        scoped.delete("logos/y.png")
        scoped.close()


def test_presigned_download(store: S3ObjectStore) -> None:
    data = b"\x00\x00\x00\x18ftypmp42" + os.urandom(1000)
    store.put("recordings/presigned.mp4", data)
    url = store.url_for_download("recordings/presigned.mp4", 60, filename="rec.mp4", content_type="video/mp4")
    assert url is not None
    got = httpx.get(url, timeout=30)
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "video/mp4"
    assert 'filename="rec.mp4"' in got.headers["content-disposition"]
    ranged = httpx.get(url, headers={"Range": "bytes=4-11"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == b"ftypmp42"
    # The signature covers the URL: another key, or another answer header, is refused.
    assert httpx.get(url.replace("presigned.mp4", "other.mp4"), timeout=30).status_code == 403
    assert httpx.get(url.replace("rec.mp4", "evil.mp4"), timeout=30).status_code == 403
    store.delete("recordings/presigned.mp4")


def test_presigned_download_expires(s3_env: dict[str, str], bucket: str, store: S3ObjectStore) -> None:
    """Signed as if two minutes ago, valid for one: the server refuses it (no sleeping: the signing time moves)."""
    store.put("recordings/expired.mp4", b"data")
    past = make_store(s3_env, bucket, now=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))
    fresh = make_store(s3_env, bucket, now=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30))
    try:
        expired = past.url_for_download("recordings/expired.mp4", 60)
        valid = fresh.url_for_download("recordings/expired.mp4", 60)
        assert expired is not None and valid is not None
        refused = httpx.get(expired, timeout=30)
        assert refused.status_code == 403, refused.text
        assert httpx.get(valid, timeout=30).content == b"data"
    finally:
        store.delete("recordings/expired.mp4")
        past.close()
        fresh.close()


def test_wrong_secret_and_missing_bucket(s3_env: dict[str, str], bucket: str) -> None:
    wrong = S3ObjectStore(s3_env["MEETKIT_TEST_S3_ENDPOINT_URL"], bucket, s3_env["MEETKIT_TEST_S3_ACCESS_KEY_ID"],
                          "not-the-secret", region=s3_env["MEETKIT_TEST_S3_REGION"])
    with pytest.raises(S3Error) as err:
        wrong.put("logos/x.png", b"x")
    assert err.value.status == 403 and err.value.code == "SignatureDoesNotMatch"
    assert "not-the-secret" not in str(err.value) and "not-the-secret" not in repr(wrong)
    wrong.close()
    nobucket = make_store(s3_env, f"missing-{uuid.uuid4().hex[:12]}")
    with pytest.raises(S3Error) as err:
        nobucket.get("logos/x.png")  # a missing bucket is an error, not a missing object
    assert err.value.status == 404 and err.value.code == "NoSuchBucket"
    nobucket.close()


def test_unreachable_server_fails_after_bounded_retries() -> None:
    port = support.free_port()  # nothing listens there
    s = S3ObjectStore(f"http://127.0.0.1:{port}", "b", "k", "s")
    started = time.monotonic()
    with pytest.raises(S3Error) as err:
        s.get("logos/x.png")
    assert err.value.status == 0 and "ConnectError" in str(err.value)
    assert time.monotonic() - started < 10
    s.close()


def test_settings_require_bucket_and_keys_and_hide_the_secret() -> None:
    with pytest.raises(ValueError, match="MEETKIT_S3_BUCKET"):
        Settings(storage_backend="s3", s3_access_key_id="k", s3_secret_access_key="s" * 20)
    s = Settings(storage_backend="s3", s3_bucket="b", s3_access_key_id="k", s3_secret_access_key="very-secret-value")
    assert "very-secret-value" not in repr(s) and "very-secret-value" not in str(s.model_dump())
    assert s.resolved_s3_endpoint_url == "https://s3.us-east-1.amazonaws.com"
    with pytest.raises(ValueError, match="s3_endpoint_url") as err:  # the error never echoes the secret
        Settings(storage_backend="s3", s3_endpoint_url="ftp://x", s3_bucket="b", s3_access_key_id="k",
                 s3_secret_access_key="very-secret-value")
    assert "very-secret-value" not in str(err.value)


# ---- a real meetkit server on S3 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server(s3_env: dict[str, str], bucket: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("server-s3")
    srv = support.start_server("sqlite", folder, extra_env={
        "MEETKIT_STORAGE_BACKEND": "s3",
        "MEETKIT_S3_ENDPOINT_URL": s3_env["MEETKIT_TEST_S3_ENDPOINT_URL"],
        "MEETKIT_S3_REGION": s3_env["MEETKIT_TEST_S3_REGION"],
        "MEETKIT_S3_BUCKET": bucket,
        "MEETKIT_S3_ACCESS_KEY_ID": s3_env["MEETKIT_TEST_S3_ACCESS_KEY_ID"],
        "MEETKIT_S3_SECRET_ACCESS_KEY": s3_env["MEETKIT_TEST_S3_SECRET_ACCESS_KEY"],
        "MEETKIT_S3_PREFIX": "served",
        "MEETKIT_MEDIA_MODE": "off",
    })
    yield srv
    support.stop_server(srv)
    assert s3_env["MEETKIT_TEST_S3_SECRET_ACCESS_KEY"] not in srv.log_path.read_text()


@pytest.fixture
def s3_client(s3_server: Server, tmp_path: Path) -> Iterator[MeetingsClient]:
    app_id, key = support.create_application(s3_server, tmp_path)
    with MeetingsClient(s3_server.base_url, app_id, key, verify=str(s3_server.cert_path)) as c:
        yield c


def test_server_logo_goes_through_s3(s3_server: Server, s3_client: MeetingsClient, s3_env: dict[str, str],
                                     bucket: str) -> None:
    theme = s3_client.create_theme({"theme_name": f"t-{uuid.uuid4().hex[:8]}", "main_color": "#12AB34",
                                    "brand_text": "S3"})
    data = png_bytes(300, 60)
    s3_client.upload_logo(theme["theme_id"], data, "colored")
    key = s3_client.get_theme(theme["theme_id"])["brand_image_colored"]
    assert list_keys(s3_env, bucket, f"served/{key}") == [f"served/{key}"]
    assert not list_keys(s3_env, bucket, "served/auto-expiring-temp/")  # the upload was moved
    assert not (s3_server.data_dir / "objects" / "logos").exists()  # nothing on the local disk

    url = s3_client.get_theme(theme["theme_id"])["brand_image_colored_url"]
    first = httpx.get(url, verify=s3_server.ssl, timeout=30)
    assert first.status_code == 307 and first.headers["cache-control"] == "no-store"
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.headers["location"].startswith(s3_env["MEETKIT_TEST_S3_ENDPOINT_URL"] + f"/{bucket}/served/logos/")
    got = httpx.get(url, verify=s3_server.ssl, follow_redirects=True, timeout=30)
    assert got.status_code == 200 and got.content == data and got.headers["content-type"] == "image/png"
    missing = httpx.get(url.replace(key, key.replace(".png", "-gone.png")), verify=s3_server.ssl, timeout=30)
    assert missing.status_code == 404 and missing.json()["name"]

    s3_client.delete_theme(theme["theme_id"])
    assert not list_keys(s3_env, bucket, f"served/{key}")


def test_server_recording_download_through_s3(s3_server: Server, s3_client: MeetingsClient,
                                              s3_env: dict[str, str], bucket: str) -> None:
    data = b"\x00\x00\x00\x18ftypmp42" + os.urandom(256 * 1024)
    _, rec_id = support.insert_recording(s3_server, s3_client.application_id, data=data)
    keys = list_keys(s3_env, bucket, f"served/recordings/{s3_client.application_id}/")
    assert len(keys) == 1

    href = s3_client.get_recording(rec_id)["_links"]["url"]["href"]
    assert href.startswith(s3_server.base_url + "/")
    first = httpx.get(href, verify=s3_server.ssl, timeout=30)
    assert first.status_code == 307, first.text
    assert first.headers["cache-control"] == "private, no-store"  # issue 10: no shared cache keeps the link
    location = first.headers["location"]
    assert location.startswith(s3_env["MEETKIT_TEST_S3_ENDPOINT_URL"] + f"/{bucket}/{keys[0]}?")
    got = httpx.get(href, verify=s3_server.ssl, follow_redirects=True, timeout=30)
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "video/mp4"
    assert f"{rec_id}.mp4" in got.headers["content-disposition"]
    ranged = httpx.get(href, verify=s3_server.ssl, follow_redirects=True, headers={"Range": "bytes=4-11"},
                       timeout=30)
    assert ranged.status_code == 206 and ranged.content == b"ftypmp42"
    # The presigned URL expires with meetkit's own link at the latest.
    expires = int(httpx.URL(href).params["expires"])
    assert int(httpx.URL(location).params["X-Amz-Expires"]) <= max(1, expires - int(time.time()) + 1)

    s3_client.delete_recording(rec_id)
    assert not list_keys(s3_env, bucket, keys[0])
    gone = httpx.get(href, verify=s3_server.ssl, timeout=30)
    assert gone.status_code == 404
