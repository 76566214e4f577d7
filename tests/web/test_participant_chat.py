"""The operators' side of the participants' text channel: a line posted on the control API reaches
the person's join page (its WebSocket) or every interpreter of a booth, is journalled as an
override (who, say, args) and read back with the participants' own lines from /api/chat; the
route's errors are the API's usual ones."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from orchestrator.clock import Clock, ManualClock, SystemClock
from orchestrator.outputs import FileOutputs
from orchestrator.participants.service import Participants
from orchestrator.participants.settings import ParticipantSettings
from orchestrator.schedule.model import Schedule
from orchestrator.system import System, SystemSettings, build_system
from orchestrator.web.auth import AccessOptions, Role
from tests.web.helpers import KST_0950
from tests.web.test_auth import make_users_file

SECRET = "a-test-link-secret-that-is-long-enough"


@dataclass
class Room:
    url: str
    system: System
    tokens: dict[Role, str]

    @property
    def participants(self) -> Participants:
        assert self.system.participants is not None
        return self.system.participants

    def join_url(self, person: str) -> str:
        return next(link.url(self.url) for p, link in self.participants.book.links() if p.id == person)

    def as_role(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


async def _room(schedule: Schedule, tmp_path: Path, *, people: bool, clock: Clock | None = None) -> AsyncIterator[Room]:
    users_file = tmp_path / "users.yaml"
    tokens = make_users_file(users_file)
    settings = SystemSettings(
        journal_path=tmp_path / "journal.sqlite",
        recordings_dir=tmp_path / "rec",
        participants=ParticipantSettings(link_secret=SecretStr(SECRET), host_addresses=("127.0.0.1",))
        if people
        else None,
    )
    clock = clock or ManualClock(KST_0950)
    async with build_system(schedule, clock, FileOutputs(), settings, log_events=False) as system:
        url = await system.serve_dashboard(0, access=AccessOptions(users_file=users_file))
        yield Room(url, system, tokens)


@pytest.fixture
async def room(two_sessions: Schedule, tmp_path: Path) -> AsyncIterator[Room]:
    async for r in _room(two_sessions, tmp_path, people=True):
        yield r


async def _next_chat(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while (m := await ws.receive_json(timeout=5))["type"] != "chat":
        pass
    return m


async def _say(http: aiohttp.ClientSession, room: Room, path: str, body: object, role: Role | None = Role.OPERATOR):
    headers = room.as_role(role) if role is not None else {}
    async with http.post(room.url + path, json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_an_operator_line_reaches_the_speakers_page_and_is_journalled(room: Room) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(room.join_url("diamond") + "/events") as ws:
        await ws.send_json({"type": "hello"})
        assert (await ws.receive_json(timeout=5))["type"] == "status"
        # the speaker writes first: the operators read it in /api/chat (and as an info alert)
        await ws.send_json({"type": "chat", "text": "Is my sound all right?"})
        assert (await _next_chat(ws))["text"] == "Is my sound all right?"

        status, body = await _say(http, room, "/api/participants/diamond/say", {"text": "  Yes, on in 2 minutes  "})
        assert status == 200, body
        assert body["command"] == "say" and "diamond" in body["detail"]
        line = await _next_chat(ws)
        assert line["from"] == "operator" and line["text"] == "Yes, on in 2 minutes"

        async with http.get(room.url + "/api/chat", headers=room.as_role(Role.VIEWER)) as r:
            assert r.status == 200
            lines = (await r.json())["lines"]
    assert all(x["at"].endswith("+09:00") for x in lines)  # event time, as the rest of the page
    assert [(x["sender"], x["text"], x["person"]) for x in lines] == [
        ("Jared Diamond", "Is my sound all right?", "diamond"),
        ("operator", "Yes, on in 2 minutes", "diamond"),
    ]
    said = [o for o in room.system.journal.overrides() if o.command == "say"]
    assert len(said) == 1 and said[0].who == "bot-operator" and said[0].outcome == "ok"
    assert said[0].args == {"person": "diamond", "text": "Yes, on in 2 minutes"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(room.url + "/api/as-run", headers=room.as_role(Role.VIEWER)) as r,
    ):
        rows = (await r.json())["rows"]
    assert any(row["what"].startswith("say") and row["who"] == "bot-operator" for row in rows), rows


async def test_a_booth_line_reaches_both_interpreters(room: Room) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(room.join_url("kim") + "/events") as kim,
        http.ws_connect(room.join_url("lee") + "/events") as lee,
    ):
        for ws in (kim, lee):  # both sockets are attached once their hello is answered
            await ws.send_json({"type": "hello"})
            assert (await ws.receive_json(timeout=5))["type"] == "status"
        status, body = await _say(http, room, "/api/booths/ko-en/say", {"text": "Hand over at the break, please"})
        assert status == 200, body
        for ws in (kim, lee):
            line = await _next_chat(ws)
            assert line["from"] == "operator" and line["booth"] == "ko-en"
            assert line["text"] == "Hand over at the break, please"


async def test_a_stream_key_pasted_in_a_line_is_masked_everywhere(room: Room) -> None:
    key = "abcd-efgh-ijkl-mnop-qrst"
    async with aiohttp.ClientSession() as http, http.ws_connect(room.join_url("diamond") + "/events") as ws:
        await ws.send_json({"type": "hello"})
        await ws.receive_json(timeout=5)
        text = f"use rtmp://a.rtmp.youtube.com/live2/{key}"
        status, body = await _say(http, room, "/api/participants/diamond/say", {"text": text})
        assert status == 200 and key not in body["detail"]
        assert key not in (await _next_chat(ws))["text"]
    assert all(key not in str(o.args) for o in room.system.journal.overrides())


@pytest.mark.parametrize(
    ("path", "body", "role", "status", "says"),
    [
        ("/api/participants/nobody/say", {"text": "hello"}, Role.OPERATOR, 404, "no person"),
        ("/api/booths/fr-de/say", {"text": "hello"}, Role.OPERATOR, 404, "no booth"),
        ("/api/participants/diamond/say", {"text": ""}, Role.OPERATOR, 422, "text"),
        ("/api/participants/diamond/say", {"text": "   "}, Role.OPERATOR, 422, "must not be empty"),
        ("/api/participants/diamond/say", {}, Role.OPERATOR, 422, "text"),
        ("/api/participants/diamond/say", {"text": "x" * 501}, Role.OPERATOR, 422, "text"),
        ("/api/participants/diamond/say", {"text": "hi", "to": "all"}, Role.OPERATOR, 422, "to"),
        ("/api/participants/diamond/say", {"text": "hello"}, Role.VIEWER, 403, "operator"),
        ("/api/booths/ko-en/say", {"text": "hello"}, Role.VIEWER, 403, "operator"),
        ("/api/participants/diamond/say", {"text": "hello"}, None, 401, ""),
    ],
)
async def test_the_routes_errors(
    room: Room, path: str, body: object, role: Role | None, status: int, says: str
) -> None:
    async with aiohttp.ClientSession() as http:
        got, answer = await _say(http, room, path, body, role)
    assert got == status, answer
    assert answer["status"] == status and says in answer["error"]
    assert not room.participants.chat  # nothing was sent to anyone
    refused = [o for o in room.system.journal.overrides() if o.command == "say"]
    # a command that reached the control room and did not fit is journalled as refused
    assert [o.outcome for o in refused] == (["refused"] if status == 404 else [])


async def test_without_participants_there_is_no_one_to_write_to(two_sessions: Schedule, tmp_path: Path) -> None:
    async for room in _room(two_sessions, tmp_path, people=False):
        async with aiohttp.ClientSession() as http:
            status, body = await _say(http, room, "/api/participants/diamond/say", {"text": "hello"})
            assert status == 409 and "no link secret" in body["error"]
            async with http.get(room.url + "/api/chat", headers=room.as_role(Role.VIEWER)) as r:
                assert (await r.json()) == {"lines": []}


async def test_the_routes_are_in_the_openapi_document(room: Room) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(room.url + "/api/openapi.json", headers=room.as_role(Role.VIEWER)) as r,
    ):
        paths = (await r.json())["paths"]
    assert paths["/api/participants/{person}/say"]["post"]["x-summit-role"] == "operator"
    assert paths["/api/booths/{booth}/say"]["post"]["x-summit-role"] == "operator"
    assert paths["/api/chat"]["get"]["x-summit-role"] == "viewer"


@pytest.mark.slow
async def test_the_operator_answers_on_the_dashboard(two_sessions: Schedule, tmp_path: Path) -> None:
    """Headless Chromium: the speaker's line shows in their thread on the operator's page, marked
    unread; the operator answers there and the speaker's page receives it."""
    from tests.web.test_auth import PASSWORDS
    from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

    playwright_api = pytest.importorskip("playwright.async_api")
    expect = playwright_api.expect
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    started = time.time()  # a running clock: the page is pushed to as time passes
    clock = SystemClock(wall=lambda: KST_0950.timestamp() + time.time() - started)
    problems: list[str] = []
    async for room in _room(two_sessions, tmp_path, people=True, clock=clock):
        async with (
            playwright_api.async_playwright() as pw,
            aiohttp.ClientSession() as http,
            http.ws_connect(room.join_url("diamond") + "/events") as ws,
        ):
            await ws.send_json({"type": "hello"})
            assert (await ws.receive_json(timeout=5))["type"] == "status"
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 1400})
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                await page.goto(room.url + "/")
                await page.fill("#name", "otto")
                await page.fill("#password", PASSWORDS["otto"])
                await page.click("#submit")
                await expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=10_000)
                await expect(page.locator("#chat-form")).to_be_visible()
                await page.click("#chat-threads [data-thread='booth:ko-en']")  # another thread is open

                await ws.send_json({"type": "chat", "text": "Is my sound all right?"})
                thread = page.locator("#chat-threads [data-thread='person:diamond']")
                await expect(thread.locator(".unread")).to_have_text("● 1")
                await thread.click()
                await expect(page.locator("#chat-title")).to_have_text("To diamond")
                await expect(page.locator("#chat-lines li")).to_have_count(1)
                await expect(page.locator("#chat-lines li")).to_contain_text("Jared Diamond")
                await expect(thread.locator(".unread")).to_have_count(0)

                await page.fill("#chat-text", "Yes, loud and clear")
                await page.click("#chat-send")
                line = await _next_chat(ws)
                while line["from"] != "operator":  # the speaker's page also shows its own line
                    line = await _next_chat(ws)
                assert line["text"] == "Yes, loud and clear"
                await expect(page.locator("#chat-lines li.operator")).to_contain_text("Yes, loud and clear")
                await expect(page.locator("#chat-text")).to_have_value("")
                await expect(page.locator("#command-result")).to_contain_text("say")
                await page.locator("#chat-panel").screenshot(path=str(tmp_path / "chat.png"))
                assert problems == []
            finally:
                await browser.close()


async def test_the_same_lines_over_the_dashboard_websocket(room: Room) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(room.join_url("kim") + "/events") as kim,
        http.ws_connect(room.url + "/ws", headers=room.as_role(Role.OPERATOR)) as desk,
        http.ws_connect(room.url + "/ws", headers=room.as_role(Role.VIEWER)) as viewer,
    ):
        await kim.send_json({"type": "hello"})
        assert (await kim.receive_json(timeout=5))["type"] == "status"

        async def reply(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> dict[str, Any]:
            await ws.send_json(message)
            while (m := await ws.receive_json(timeout=5))["type"] != "reply":
                pass
            return m

        refused = await reply(viewer, {"id": 1, "command": "say", "args": {"person": "kim", "text": "hi"}})
        assert not refused["ok"] and "needs the operator role" in refused["error"]
        unknown = await reply(desk, {"id": 2, "command": "say_booth", "args": {"booth": "fr-de", "text": "hi"}})
        assert not unknown["ok"] and "no booth" in unknown["error"]
        empty = await reply(desk, {"id": 3, "command": "say", "args": {"person": "kim", "text": " "}})
        assert not empty["ok"] and "text" in empty["error"]
        ok = await reply(desk, {"id": 4, "command": "say_booth", "args": {"booth": "ko-en", "text": "Two minutes"}})
        assert ok["ok"] and ok["result"]["command"] == "say"
        line = await _next_chat(kim)
        assert line["booth"] == "ko-en" and line["text"] == "Two minutes"
    assert [(o.who, o.outcome) for o in room.system.journal.overrides()] == [
        ("bot-operator", "refused"),
        ("bot-operator", "ok"),
    ]
