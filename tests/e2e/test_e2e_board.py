"""The whiteboard in Chromium (issue 13): Excalidraw served by meetkit, synced through the meeting's
socket and stored per session. A stroke drawn on one page reaches another within 1 s and survives a
reload; an image placed on the board reaches a late joiner; the host makes it read-only and clears
it; the REST export gives the board as Excalidraw JSON, SVG and PNG."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page

from meetkit.client import MeetingsClient

from .. import browser as b
from .. import ui_support as ui
from ..support import Server
from .test_e2e_recording import session_of

ELEMENTS = ("() => window.__meetkit.board.elements()"
            ".map(e => ({id: e.id, type: e.type, version: e.version, fileId: e.fileId || null}))")


async def _open_board(page: Page) -> None:
    await page.click("#btn-board")  # (on a phone, in the More menu: opened first)
    await page.wait_for_function("() => window.__meetkit.board.ready", timeout=20000)
    await page.wait_for_selector("#board-canvas .excalidraw canvas", timeout=10000)


async def _elements(page: Page) -> list[dict[str, Any]]:
    return list(await page.evaluate(ELEMENTS))


async def _until(what: str, page: Page, check: Any, limit: float) -> float:
    start = time.monotonic()
    while True:
        if check(await _elements(page)):
            return time.monotonic() - start
        assert time.monotonic() - start < limit, f"{what}: not within {limit} s; the page has {await _elements(page)}"
        await asyncio.sleep(0.02)


async def _drag(page: Page, tool: str, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Picks an Excalidraw tool from its toolbar and drags on the canvas, as a person would."""
    await page.locator(f"label:has(> [data-testid='toolbar-{tool}'])").click()
    box = await page.locator("#board-canvas").bounding_box()
    assert box is not None
    x0, y0 = box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1]
    x1, y1 = box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1]
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    for i in range(1, 11):
        await page.mouse.move(x0 + (x1 - x0) * i / 10, y0 + (y1 - y0) * i / 10)
    await page.mouse.up()


def _csp_watch(page: Page, found: list[str]) -> None:
    page.on("console", lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None)


async def test_strokes_images_read_only_clear_and_export(media_server: Server, api: MeetingsClient,
                                                         chromium: Browser, tmp_path: Path) -> None:
    room = api.create_room({"display_name": "Board", "join_approval_level": "none"})
    contexts: list[BrowserContext] = []
    csp: list[str] = []
    try:
        for width, height in ((1280, 800), (1280, 800), (375, 740)):  # the late joiner is on a phone
            contexts.append(await ui.context(chromium, media_server.base_url, width=width, height=height))
        host = await ui.enter(contexts[0], room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        guest = await ui.enter(contexts[1], room["_links"]["guest_url"]["href"], "Gus", mic=False, camera=False)
        for p in (host, guest):
            _csp_watch(p, csp)
            await _open_board(p)

        # A rectangle drawn on the host's page appears on the guest's within 1 s.
        await _drag(host, "rectangle", (0.3, 0.3), (0.5, 0.5))
        drawn = await _elements(host)
        assert [e["type"] for e in drawn] == ["rectangle"], drawn
        took = await _until("the host's rectangle on the guest's page", guest,
                            lambda els: [e["id"] for e in els] == [drawn[0]["id"]], 1.0)
        print(f"whiteboard: a stroke reached the other page in {took * 1000:.0f} ms")
        # And the other way: the guest's freehand stroke reaches the host.
        await _drag(guest, "freedraw", (0.6, 0.3), (0.8, 0.6))
        await _until("the guest's stroke on the host's page", host,
                     lambda els: sorted(e["type"] for e in els) == ["freedraw", "rectangle"], 3.0)

        # A reload: the board comes back from meetkit, not from the page.
        await guest.close()  # (its pagehide leaves the meeting) and the same browser opens the link again
        guest = await ui.enter(contexts[1], room["_links"]["guest_url"]["href"], "Gus", mic=False, camera=False)
        _csp_watch(guest, csp)
        await _open_board(guest)
        await _until("the board after a reload", guest,
                     lambda els: sorted(e["type"] for e in els) == ["freedraw", "rectangle"], 3.0)

        # An image placed by the host: a PNG file dropped on the board, as from the desktop.
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (220, 20, 20)).save(buf, format="PNG")
        transfer = await host.evaluate_handle("""(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "red.png", {type: "image/png"}));
            return dt;
        }""", base64.b64encode(buf.getvalue()).decode())
        box = await host.locator("#board-canvas").bounding_box()
        assert box is not None
        await host.locator("#board-canvas canvas.interactive").dispatch_event("drop", {
            "dataTransfer": transfer, "clientX": box["x"] + box["width"] * 0.4,
            "clientY": box["y"] + box["height"] * 0.75})
        await _until("the image on the guest's page", guest,
                     lambda els: any(e["type"] == "image" and e["fileId"] for e in els), 5.0)
        # A late joiner gets the board and the image's file.
        late = await ui.enter(contexts[2], room["_links"]["guest_url"]["href"], "Ida", mic=False, camera=False)
        _csp_watch(late, csp)
        await late.click("#btn-more")  # on a phone the whiteboard is in the More menu
        await _open_board(late)
        await _until("the board on the late joiner's page", late, lambda els: len(els) == 3, 3.0)
        image = next(e for e in await _elements(late) if e["type"] == "image")
        await late.wait_for_function("(id) => (window.__meetkit.board.files()[id]?.dataURL || '')"
                                     ".startsWith('data:image/png')", arg=image["fileId"], timeout=5000)

        await b.screenshot(host, "whiteboard-1280")
        await b.screenshot(late, "whiteboard-375")
        await guest.set_viewport_size({"width": 550, "height": 760})
        await asyncio.sleep(0.3)  # Excalidraw redraws on its resize observer
        await b.screenshot(guest, "whiteboard-550")

        # The REST export, while the meeting runs: Excalidraw JSON with the image inlined, SVG, PNG.
        session_id = await session_of(media_server, room["id"])
        exported = api.request("GET", f"/sessions/{session_id}/whiteboard")
        assert exported.status_code == 200, exported.text
        doc = json.loads(exported.content)
        assert doc["type"] == "excalidraw"
        assert sorted(e["type"] for e in doc["elements"]) == ["freedraw", "image", "rectangle"]
        assert doc["files"][image["fileId"]]["dataURL"].startswith("data:image/png;base64,")
        svg = api.request("GET", f"/sessions/{session_id}/whiteboard", params={"format": "svg"})
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert b"<image" in svg.content and b"<rect" in svg.content
        pic = api.request("GET", f"/sessions/{session_id}/whiteboard", params={"format": "png"})
        assert pic.status_code == 200 and pic.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(pic.content)).size
        assert width > 100 and height > 100
        assert api.request("GET", "/sessions/nope/whiteboard").status_code == 404

        # The image is only for the meeting's participants.
        url = f"{media_server.base_url}/_meetkit/board/{room['meeting_code']}/files/{image['fileId']}"
        assert httpx.get(url).status_code == 403

        # Read-only for guests: the guest's board turns to view mode, and its changes are refused.
        await host.click("#board-lock")
        await guest.wait_for_function("() => window.__meetkit.board.api().getAppState().viewModeEnabled === true",
                                      timeout=3000)
        assert await guest.is_visible("#board-note")
        assert not await host.evaluate("() => window.__meetkit.board.api().getAppState().viewModeEnabled")
        refused = await guest.evaluate("""() => new Promise((resolve) => {
            const ws = window.__meetkit.socket;
            const seen = (ev) => { const m = JSON.parse(ev.data);
                if (m.type === 'error' && m.code === 'board_read_only') {
                    ws.removeEventListener('message', seen); resolve(m.code); } };
            ws.addEventListener('message', seen);
            ws.send(JSON.stringify({type: 'board.update', elements: [{id: 'sneaky', type: 'rectangle', version: 1,
                versionNonce: 1, x: 0, y: 0, width: 10, height: 10}]}));
            setTimeout(() => resolve(null), 2000);
        })""")
        assert refused == "board_read_only"
        await host.click("#board-lock")
        await guest.wait_for_function("() => window.__meetkit.board.api().getAppState().viewModeEnabled === false",
                                      timeout=3000)

        # The host clears the board for everyone (after a confirmation).
        await host.click("#board-clear")
        await host.click("#confirm-board-clear")
        for p in (guest, late, host):
            await _until("the cleared board", p, lambda els: els == [], 3.0)
        assert csp == [], csp  # Excalidraw runs under the meeting page's CSP
    finally:
        for ctx in contexts:
            await ctx.close()
