"""A multipart/form-data body read part by part as it arrives, so the upload endpoint can check a
policy's signature from the fields before it reads the file that follows them, and never holds more
of the body than one network chunk (plus the small fields it keeps)."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_PART_HEADERS = 8 * 1024  # bytes of headers one part may carry


class Malformed(ValueError):
    """The body is not well-formed multipart (or ended before it was complete)."""


class TooLarge(ValueError):
    """A part is larger than the reader allows."""


def boundary_of(content_type: str) -> bytes | None:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        return None
    return options.get(b"boundary") or None


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    _form: FormStream = field(repr=False)
    _finished: bool = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The part's content as it arrives."""
        while not self._finished:
            kind, data = await self._form.next_event()
            if kind == "data":
                yield data
            elif kind == "part_end":
                self._finished = True
            else:
                raise Malformed(f"unexpected {kind} inside a part")

    async def read(self, limit: int) -> bytes:
        """The whole part, which may be at most ``limit`` bytes."""
        buf = bytearray()
        async for chunk in self.chunks():
            buf += chunk
            if len(buf) > limit:
                raise TooLarge(f"part {self.name!r} is over {limit} bytes")
        return bytes(buf)


class FormStream:
    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self._body = body
        self._events: deque[tuple[str, bytes]] = deque()
        self._ended = False
        self._header = [b"", b""]
        self._header_bytes = 0
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": lambda: self._events.append(("part_begin", b"")),
            "on_part_data": lambda d, s, e: self._events.append(("data", bytes(d[s:e]))),
            "on_part_end": lambda: self._events.append(("part_end", b"")),
            "on_header_field": lambda d, s, e: self._header_data(0, d[s:e]),
            "on_header_value": lambda d, s, e: self._header_data(1, d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": lambda: self._events.append(("headers_done", b"")),
            "on_end": lambda: self._events.append(("end", b"")),
        })

    def _header_data(self, which: int, data: bytes) -> None:
        self._header_bytes += len(data)
        if self._header_bytes > MAX_PART_HEADERS:
            raise Malformed("a part's headers are too long")
        self._header[which] += data

    def _header_end(self) -> None:
        self._events.append(("header", self._header[0].lower() + b"\x00" + self._header[1]))
        self._header = [b"", b""]

    async def next_event(self) -> tuple[str, bytes]:
        while not self._events:
            if self._ended:
                raise Malformed("the body ended before the form did")
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                self._ended = True
                continue
            if chunk:
                try:
                    self._parser.write(chunk)
                except MultipartParseError as exc:
                    raise Malformed(str(exc)) from exc
        return self._events.popleft()

    async def parts(self) -> AsyncGenerator[Part, None]:
        """Each part in order, its headers read; what the caller does not read of one is skipped."""
        while True:
            kind, _ = await self.next_event()
            if kind == "end":
                return
            if kind != "part_begin":
                raise Malformed(f"unexpected {kind} between parts")
            headers: dict[bytes, bytes] = {}
            self._header_bytes = 0
            while (event := await self.next_event())[0] == "header":
                name, _, value = event[1].partition(b"\x00")
                headers[name] = value
            if event[0] != "headers_done":
                raise Malformed("a part's headers did not end")
            disposition, options = parse_options_header(headers.get(b"content-disposition", b""))
            if disposition != b"form-data" or b"name" not in options:
                raise Malformed("every part needs Content-Disposition: form-data with a name")
            filename = options.get(b"filename")
            ctype = headers.get(b"content-type")
            part = Part(_text(options[b"name"]), _text(filename) if filename is not None else None,
                        _text(ctype) if ctype is not None else None, self)
            yield part
            async for _ in part.chunks():
                pass


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
