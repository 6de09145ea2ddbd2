"""Embed commands (issue 13): a customer's page on another origin embeds the host's meeting with
/embed.js and drives it through the promise API — microphone, camera, display name, chat, recording,
admitting a knocking guest, ending the meeting — while the meeting's events (knocking, chat message,
recording) come back to it. A page of an origin the application does not list gets no answer."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Frame, Page

from meetkit.actions.applications import do_set_embed_origins
from meetkit.client import MeetingsClient

from .. import browser as b
from .. import ui_support as ui
from ..support import Server, server_container
from .test_e2e_meeting import EmbedderSite


async def _embedded(outer: Page, url: str) -> Frame:
    await outer.evaluate("""url => {
        window.events = [];
        window.meeting = Meetkit.embed(document.getElementById('here'), url, {width: 1280, height: 760});
        for (const name of ['ready', 'joined', 'knocking', 'chat_message', 'recording_started',
                            'recording_stopped', 'participant_joined', 'meeting_ended', 'error'])
          window.meeting.on(name, data => window.events.push([name, data]));
    }""", url)
    frame = await (await outer.wait_for_selector("iframe")).content_frame()
    assert frame is not None
    return frame


async def _call(outer: Page, js: str) -> Any:
    """Runs a command on the outer page; {ok, result} or {ok: false, code}."""
    return await outer.evaluate(f"""async () => {{
        try {{ return {{ok: true, result: await window.meeting.{js}}}; }}
        catch (e) {{ return {{ok: false, code: e.code, message: e.message}}; }} }}""")


async def _events(outer: Page, name: str) -> list[Any]:
    return [d for e, d in await outer.evaluate("() => window.events") if e == name]


async def test_a_page_on_another_origin_drives_the_meeting(media_server: Server, api: MeetingsClient,
                                                           chromium: Browser) -> None:
    site = EmbedderSite(media_server.base_url)
    stranger = EmbedderSite(media_server.base_url)
    async with server_container(media_server) as c:
        await do_set_embed_origins(c, api.application_id, [site.url.rstrip("/")])
    room = api.create_room({"display_name": "Driven", "join_approval_level": "explicit_approval"})
    host_ctx = await ui.context(chromium, media_server.base_url)
    await host_ctx.grant_permissions(["camera", "microphone"], origin=site.url.rstrip("/"))
    guest_ctx = await ui.context(chromium, media_server.base_url)
    try:
        outer = await host_ctx.new_page()
        await outer.goto(site.url)
        host = await _embedded(outer, room["_links"]["host_url"]["href"])
        # A command before joining: refused, with its code.
        assert (await _call(outer, "setDisplayName('x')"))["code"] == "not_joined"
        await host.fill("#name", "Hana")
        await host.click("#join")
        await host.wait_for_function("() => window.__meetkit.state === 'joined'", timeout=15000)

        assert (await _call(outer, "setMicrophone(false)")) == {"ok": True, "result": {"on": False}}
        assert await host.get_attribute("#btn-mic", "aria-pressed") == "false"
        assert (await _call(outer, "unmute()"))["result"] == {"on": True}
        assert (await _call(outer, "setCamera(false)"))["result"] == {"on": False}
        assert (await _call(outer, "toggleChat(true)"))["result"] == {"open": True}
        assert await host.is_visible("#chat")
        assert (await _call(outer, "openWhiteboard()"))["result"] == {"open": True}
        await host.wait_for_selector("#board", state="visible", timeout=5000)
        assert (await _call(outer, "openWhiteboard(false)"))["result"] == {"open": False}
        assert await host.is_hidden("#board")
        assert (await _call(outer, "noSuchCommand()"))["ok"] is False  # (not a function: a TypeError)

        # A guest knocks: the page hears it, admits them through the API, and the guest is in.
        guest = await ui.enter(guest_ctx, room["_links"]["guest_url"]["href"], "Gus", mic=False, camera=False,
                               state="lobby")
        await outer.wait_for_function("() => window.events.some(e => e[0] === 'knocking')", timeout=10000)
        [knock] = await _events(outer, "knocking")
        assert knock["name"] == "Gus" and knock["reason"] == "approval"
        assert (await _call(outer, f"admit('{knock['participant_id']}')"))["ok"]
        await b.wait_state(guest, "joined", timeout=10)

        # The display name: others see it.
        assert (await _call(outer, "setDisplayName('Hana Boss')"))["ok"]
        await guest.wait_for_function(
            "() => [...window.__meetkit.participants.values()].some(p => p.name === 'Hana Boss')", timeout=10000)

        # A chat message from the guest reaches the embedding page as an event.
        await guest.click("#btn-chat")
        await guest.fill("#chat-input", "hello from Gus")
        await guest.press("#chat-input", "Enter")
        await outer.wait_for_function(
            "() => window.events.some(e => e[0] === 'chat_message' && e[1].text === 'hello from Gus')", timeout=10000)

        # Recording, then the end of the meeting, for everyone.
        assert (await _call(outer, "startRecording()"))["ok"]
        await outer.wait_for_function("() => window.events.some(e => e[0] === 'recording_started')", timeout=15000)
        assert (await _call(outer, "stopRecording()"))["ok"]
        await outer.wait_for_function("() => window.events.some(e => e[0] === 'recording_stopped')", timeout=15000)
        assert (await _call(outer, "endMeeting()"))["ok"]
        await b.wait_state(guest, "ended", timeout=10)
        await outer.wait_for_function("() => window.events.some(e => e[0] === 'meeting_ended')", timeout=10000)

        # A guest's page cannot use the host's commands.
        room2 = api.create_room({"display_name": "Guest only", "join_approval_level": "none"})
        await outer.goto(site.url)
        frame = await _embedded(outer, room2["_links"]["guest_url"]["href"])
        await frame.fill("#name", "Ida")
        await frame.click("#join")
        await frame.wait_for_function("() => window.__meetkit.state === 'joined'", timeout=15000)
        assert (await _call(outer, "endMeeting()"))["code"] == "forbidden"

        # A site the application does not list cannot frame it (CSP), let alone drive it: no answer.
        page = await host_ctx.new_page()
        await page.goto(stranger.url)
        await _embedded(page, room2["_links"]["guest_url"]["href"])
        assert (await page.evaluate("""() => Promise.race([
            window.meeting.setMicrophone(false).then(() => 'answered', e => e.code),
            new Promise(r => setTimeout(() => r('no answer'), 3000))])""")) == "no answer"
    finally:
        site.close()
        stranger.close()
        await guest_ctx.close()
        await host_ctx.close()
