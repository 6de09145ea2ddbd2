"""The upload endpoint reads its form as it arrives (issue 10, finding 2), over real sockets: the
policy is checked before a byte of the file is read, the file is cut off at the policy's limit while
the client is still sending, and the form follows S3's order (fields, then the file)."""

from __future__ import annotations

import socket
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from meetkit.client import MeetingsClient

from ..support import Server
from .test_api_logos import logo, post_upload, s3_error, stored, targets

BOUNDARY = "streamb0undary"
MB = 1024 * 1024


def field_part(name: str, value: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()


def file_head() -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"l.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()


class Chunked:
    """A request whose body the test sends piece by piece (chunked), reading the answer whenever."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock = sock

    def send(self, data: bytes) -> None:
        self.sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def answer(self) -> tuple[int, bytes]:
        """The status and body of the answer (which must come within the socket's timeout)."""
        raw = b""
        while b"\r\n\r\n" not in raw:
            got = self.sock.recv(65536)
            assert got, raw
            raw += got
        head, _, body = raw.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)  # none on a 204
        while len(body) < length:
            got = self.sock.recv(65536)
            assert got
            body += got
        return int(head.split(b" ")[1]), body


@contextmanager
def chunked_upload(server: Server, url: str) -> Iterator[Chunked]:
    path = url.split("://", 1)[1].split("/", 1)[1]
    host, port = server.base_url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            server.ssl.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(f"POST /{path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
                    f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n".encode())
        yield Chunked(tls)


def fields_of(target: dict[str, Any], **override: str) -> bytes:
    return b"".join(field_part(k, v) for k, v in {**target["fields"], **override}.items())


def test_bad_signature_is_answered_before_the_file_is_sent(client: MeetingsClient, server: Server) -> None:
    target = targets(client)["white"]
    with chunked_upload(server, target["url"]) as req:
        req.send(fields_of(target, **{"X-Amz-Signature": "0" * 64}) + file_head())
        # The file itself is never sent: the answer cannot have waited for it.
        status, body = req.answer()
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    assert stored(server, target["fields"]["key"]) is None


def test_expired_or_foreign_policy_is_answered_before_the_file(client: MeetingsClient, server: Server) -> None:
    target = targets(client)["white"]
    with chunked_upload(server, target["url"]) as req:
        req.send(fields_of(target, key=f"auto-expiring-temp/logos/white/{uuid.uuid4()}") + file_head())
        status, body = req.answer()
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_file_over_the_policy_limit_is_cut_off_while_it_arrives(client: MeetingsClient, server: Server) -> None:
    """The policy admits 5 MiB: the answer comes once the file passes it, the rest never sent."""
    target = targets(client)["white"]
    with chunked_upload(server, target["url"]) as req:
        req.send(fields_of(target) + file_head())
        for _ in range(6):
            req.send(b"\x00" * MB)
        status, body = req.answer()
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in body
    assert stored(server, target["fields"]["key"]) is None


def test_good_upload_streamed_in_pieces(client: MeetingsClient, server: Server) -> None:
    target = targets(client)["white"]
    data = logo(40, 40)
    with chunked_upload(server, target["url"]) as req:
        req.send(fields_of(target) + file_head())
        for i in range(0, len(data), 7):
            req.send(data[i:i + 7])
        req.send(f"\r\n--{BOUNDARY}--\r\n".encode())
        req.sock.sendall(b"0\r\n\r\n")
        status, _ = req.answer()
    assert status == 204
    assert stored(server, target["fields"]["key"]) == data


def test_fields_after_the_file_are_ignored_as_s3_does(client: MeetingsClient, server: Server) -> None:
    """The policy must come before the file; a policy after it is not read."""
    target = targets(client)["white"]
    data = logo(10, 10)
    late = httpx.post(target["url"], files=[("file", ("l.png", data, "image/png")),
                                            *[(k, (None, v)) for k, v in target["fields"].items()]],
                      verify=server.ssl)
    assert s3_error(late, 403)[0] == "AccessDenied"
    # The usual order, with an extra field after the file: accepted, the extra ignored.
    ok = httpx.post(target["url"], files=[*[(k, (None, v)) for k, v in target["fields"].items()],
                                          ("file", ("l.png", data, "image/png")), ("Policy", (None, "junk"))],
                    verify=server.ssl)
    assert ok.status_code == 204, ok.text
    assert stored(server, target["fields"]["key"]) == data


def test_oversize_fields_before_the_file(client: MeetingsClient, server: Server) -> None:
    target = targets(client)["white"]
    fields = {**target["fields"], "x-padding": "p" * (65 * 1024)}
    code, _ = s3_error(post_upload(server, target, logo(10, 10), fields=fields), 400)
    assert code == "MaxPostPreDataLengthExceeded"
    many = {**target["fields"], **{f"x-extra-{i}": "1" for i in range(20)}}
    assert s3_error(post_upload(server, target, logo(10, 10), fields=many), 400)[0] == "InvalidArgument"
