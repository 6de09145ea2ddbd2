"""Object storage for logos and recordings: a local folder by default, S3-compatible by configuration
(``storage/s3.py``; ``app.py`` chooses)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~/-]{0,511}$")


class BadKey(ValueError):
    pass


def check_key(key: str) -> str:
    if not _KEY_RE.match(key) or ".." in key.split("/") or "//" in key or key.endswith("/"):
        raise BadKey(f"invalid object key {key!r}")
    return key


class ObjectStore(Protocol):
    """Blocking calls (a remote store does network I/O): async code runs them with ``asyncio.to_thread``."""

    def put(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, source: Path) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def exists(self, key: str) -> bool: ...
    def path(self, key: str) -> Path | None:
        """The object as a local file meetkit can serve, or None (missing, or not a local store)."""
        ...
    def url_for_download(self, key: str, ttl: int, *, filename: str | None = None,
                         content_type: str | None = None) -> str | None:
        """A URL the client may fetch the object from directly for ``ttl`` seconds, or None when the
        store has none and meetkit serves the file itself (``path``)."""
        ...
    def copy(self, src: str, dst: str) -> None: ...
    def delete(self, key: str) -> None: ...


class LocalObjectStore:
    """Objects as files under one folder; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _file(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, source: Path) -> None:
        """Store a (large) file under ``key`` without reading it into memory; atomic like ``put``."""
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        f = self._file(key)
        return f.read_bytes() if f.is_file() else None

    def exists(self, key: str) -> bool:
        return self._file(key).is_file()

    def path(self, key: str) -> Path | None:
        f = self._file(key)
        return f if f.is_file() else None

    def url_for_download(self, key: str, ttl: int, *, filename: str | None = None,
                         content_type: str | None = None) -> str | None:
        """None: meetkit serves local files itself."""
        self._file(key)
        return None

    def copy(self, src: str, dst: str) -> None:
        target = self._file(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._file(src), target)

    def delete(self, key: str) -> None:
        self._file(key).unlink(missing_ok=True)
