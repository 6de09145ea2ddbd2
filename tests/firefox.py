"""Debian's firefox-esr, driven by tests/ui/firefox_driver.mjs (puppeteer-core over WebDriver BiDi):
one headless browser with one page per driver process, kept on this machine like tests/browser.py's
Chromium (fake devices, ICE on the media test link only, no calls home). Every command waits a
bounded time for its reply."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

FIREFOX = "/usr/bin/firefox-esr"
UI_TESTS = Path(__file__).resolve().parent / "ui"
DRIVER = UI_TESTS / "firefox_driver.mjs"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
START_LIMIT = 90.0


def firefox_available() -> bool:
    return (shutil.which(FIREFOX) is not None and shutil.which("node") is not None
            and (UI_TESTS / "node_modules" / "puppeteer-core").is_dir())


class FirefoxError(AssertionError):
    """A command the page refused or that did not answer in time (with the driver's log tail)."""


class Firefox:
    def __init__(self, name: str = "firefox") -> None:
        self.name = name
        self.log_path = ARTIFACTS / f"{name}.log"
        self.version = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._next_id = 0
        self._lock = asyncio.Lock()

    async def start(self) -> Firefox:
        ARTIFACTS.mkdir(exist_ok=True)
        log = self.log_path.open("wb")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                "node", str(DRIVER), cwd=str(UI_TESTS), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=log, limit=4 * 1024 * 1024)
        finally:
            log.close()
        ready = await self._read_line(START_LIMIT)
        if not ready.get("ready"):
            raise FirefoxError(f"driver did not start: {ready} {self.log_tail()}")
        self.version = str(ready.get("version", ""))
        return self

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def _read_line(self, timeout: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), timeout)
        except TimeoutError:
            raise FirefoxError(f"no answer from the Firefox driver within {timeout}s\n{self.log_tail()}") from None
        if not line:
            raise FirefoxError(f"the Firefox driver ended\n{self.log_tail()}")
        result: dict[str, Any] = json.loads(line)
        return result

    async def call(self, cmd: str, timeout: float = 30.0, **args: Any) -> Any:
        async with self._lock:  # the driver answers in order, one command at a time
            assert self._proc is not None and self._proc.stdin is not None
            self._next_id += 1
            self._proc.stdin.write((json.dumps({"id": self._next_id, "cmd": cmd, **args}) + "\n").encode())
            await self._proc.stdin.drain()
            reply = await self._read_line(timeout)
            if reply.get("id") != self._next_id:
                raise FirefoxError(f"out-of-order reply to {cmd}: {reply}")
            if not reply.get("ok"):
                raise FirefoxError(f"{cmd}: {reply.get('error')}\n{self.log_tail()}")
            return reply.get("value")

    async def init_script(self, source: str) -> None:
        """Runs ``source`` in every document the page opens from now on, before the page's own scripts."""
        await self.call("init_script", source=source)

    async def goto(self, url: str) -> None:
        await self.call("goto", timeout=70, url=url)

    async def fill(self, selector: str, value: str) -> None:
        await self.call("fill", selector=selector, value=value)

    async def click(self, selector: str) -> None:
        await self.call("click", selector=selector)

    async def evaluate(self, fn: str, arg: Any = None) -> Any:
        """Calls the page function ``fn`` (JavaScript source) with ``arg`` and returns its value."""
        return await self.call("evaluate", fn=fn, arg=arg)

    async def wait_function(self, fn: str, timeout: float = 15.0) -> None:
        await self.call("wait_function", timeout=timeout + 5, fn=fn, timeout_ms=int(timeout * 1000))

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()  # the driver closes the browser at the end of its input
            await asyncio.wait_for(proc.wait(), 20)
        except (TimeoutError, ConnectionError):
            proc.terminate()  # puppeteer closes its Firefox when the driver is terminated
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await asyncio.wait_for(proc.wait(), 10)
