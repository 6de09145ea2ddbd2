"""Object storage for logos and recordings: a local folder by default."""

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
    def put(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, source: Path) -> None: ...
    def get(self, key: str) -> bytes | None: ...
    def path(self, key: str) -> Path | None: ...
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

    def path(self, key: str) -> Path | None:
        f = self._file(key)
        return f if f.is_file() else None

    def copy(self, src: str, dst: str) -> None:
        target = self._file(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._file(src), target)

    def delete(self, key: str) -> None:
        self._file(key).unlink(missing_ok=True)
