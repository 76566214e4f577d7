"""A dashboard socket stops hearing the event once its caller no longer counts: signing out closes
that session's sockets at once, a user removed or a token revoked (the users file rewritten) within
the second — and no push goes out to them meanwhile. The close says why (code 4401 and a reason);
everyone still signed in keeps receiving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from orchestrator.schedule.model import Schedule
from orchestrator.web.app import CLOSE_SIGNED_OUT, serve_dashboard
from orchestrator.web.auth import Access, Role
from orchestrator.web.users import UsersData, read_users, write_users
from tests.web.helpers import Stage
from tests.web.test_auth import PASSWORDS, client, csrf_of, make_users_file, sign_in


@dataclass
class Room:
    url: str
    stage: Stage
    users_file: Path
    tokens: dict[Role, str]


@pytest.fixture
async def room(two_sessions: Schedule, tmp_path: Path) -> AsyncIterator[Room]:
    users_file = tmp_path / "users.yaml"
    tokens = make_users_file(users_file)
    stage = Stage(two_sessions)  # a manual clock: no tick pushes, only the ones a change makes
    access = Access.configure(users_file, secret_file=tmp_path / "key")
    runner, url = await serve_dashboard(stage.hub, access=access)
    yield Room(url, stage, users_file, tokens)
    await runner.cleanup()


async def _open(http: aiohttp.ClientSession, room: Room, **headers: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(room.url + "/ws", headers={"Origin": room.url, **headers})
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "snapshot"
    return ws


def _happen(room: Room, text: str) -> None:
    """Something the page must show: an alert, and the manual clock moved so that its push is due."""
    room.stage.bus.alert("warning", text)
    room.stage.clock.advance(1.0)


async def _until_closed(ws: aiohttp.ClientWebSocketResponse) -> list[str]:
    """Every text frame the socket gets before its close."""
    texts = []
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            return texts
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        texts.append(msg.data)


async def _until_alert(ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
    while True:
        msg = await ws.receive_json(timeout=5)
        if msg["type"] == "snapshot" and any(a["message"] == text for a in msg["data"]["alerts"]):
            return


@pytest.fixture
def no_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    """The once-a-second recheck out of the way (requested before `room`): only the sign-out
    itself can close the socket."""
    monkeypatch.setattr("orchestrator.web.app.RECHECK_S", 3600.0)


async def test_signing_out_closes_that_sessions_sockets_at_once(no_recheck: None, room: Room) -> None:
    async with client() as otto, client() as vera:
        assert (await sign_in(otto, room.url, "otto", PASSWORDS["otto"])).status == 303
        assert (await sign_in(vera, room.url, "vera", PASSWORDS["vera"])).status == 303
        tabs = [await _open(otto, room), await _open(otto, room)]  # two tabs of the same session
        kept = await _open(vera, room)
        pushes = room.stage.hub.broadcaster.pushes
        async with otto.post(room.url + "/logout", data={"csrf_token": csrf_of(otto)}, allow_redirects=False) as r:
            assert r.status == 303
        # no push and no recheck happens (the clock stands still): the sign-out itself closed them
        assert await _until_closed(tabs[0]) == []
        assert tabs[0].close_code == CLOSE_SIGNED_OUT
        assert room.stage.hub.broadcaster.pushes == pushes
        # something happens after: the other signed-out tab never sees it
        _happen(room, "after the sign-out")
        assert not any("after the sign-out" in f for f in await _until_closed(tabs[1]))
        assert tabs[1].close_code == CLOSE_SIGNED_OUT
        await _until_alert(kept, "after the sign-out")  # a viewer still signed in keeps receiving
        _happen(room, "later still")
        await _until_alert(kept, "later still")
        await kept.close()


async def test_the_close_reason_says_signed_out(room: Room) -> None:
    async with client() as otto:
        assert (await sign_in(otto, room.url, "otto", PASSWORDS["otto"])).status == 303
        ws = await _open(otto, room)
        async with otto.post(room.url + "/logout", data={"csrf_token": csrf_of(otto)}, allow_redirects=False) as r:
            assert r.status == 303
        while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
            pass
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (CLOSE_SIGNED_OUT, "signed out")


async def test_a_removed_user_and_a_revoked_token_stop_receiving(room: Room) -> None:
    async with client() as vera, client() as otto, client() as bot:
        assert (await sign_in(vera, room.url, "vera", PASSWORDS["vera"])).status == 303
        assert (await sign_in(otto, room.url, "otto", PASSWORDS["otto"])).status == 303
        gone_user = await _open(vera, room)
        gone_token = await _open(bot, room, Authorization=f"Bearer {room.tokens[Role.VIEWER]}")
        kept = await _open(otto, room)
        kept_token = await _open(bot, room, Authorization=f"Bearer {room.tokens[Role.OPERATOR]}")

        data = read_users(room.users_file)
        write_users(
            room.users_file,
            UsersData(
                {k: v for k, v in data.accounts.items() if k != "vera"},
                {k: v for k, v in data.tokens.items() if k != "bot-viewer"},
            ),
        )
        # a push right after the file changed is not sent to them (each push re-checks) ...
        _happen(room, "after the removal")
        closes = {}
        for name, ws in (("user", gone_user), ("token", gone_token)):
            msg = None
            frames = []
            while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
                frames.append(msg.data)
            assert not any("after the removal" in f for f in frames), name
            closes[name] = (msg.type, msg.data, msg.extra)
        assert closes == {
            "user": (aiohttp.WSMsgType.CLOSE, CLOSE_SIGNED_OUT, "access removed"),
            "token": (aiohttp.WSMsgType.CLOSE, CLOSE_SIGNED_OUT, "token revoked"),
        }
        for ws in (kept, kept_token):
            await _until_alert(ws, "after the removal")
            await ws.close()


async def test_without_any_push_a_removed_user_is_closed_by_the_recheck(room: Room) -> None:
    """Nothing changes and the manual clock makes no tick: the once-a-second recheck alone closes it."""
    async with client() as vera:
        assert (await sign_in(vera, room.url, "vera", PASSWORDS["vera"])).status == 303
        ws = await _open(vera, room)
        pushes = room.stage.hub.broadcaster.pushes
        data = read_users(room.users_file)
        write_users(room.users_file, UsersData({k: v for k, v in data.accounts.items() if k != "vera"}, data.tokens))
        msg = await ws.receive(timeout=10)
        assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, CLOSE_SIGNED_OUT, "access removed")
        assert room.stage.hub.broadcaster.pushes == pushes  # no push was needed to close it


async def test_a_changed_password_ends_the_open_socket_too(room: Room) -> None:
    from orchestrator.web.users import Account, hash_password

    async with client() as otto:
        assert (await sign_in(otto, room.url, "otto", PASSWORDS["otto"])).status == 303
        ws = await _open(otto, room)
        data = read_users(room.users_file)
        accounts = dict(data.accounts) | {"otto": Account("otto", Role.OPERATOR, hash_password("a-new-password-1"))}
        write_users(room.users_file, UsersData(accounts, data.tokens))
        await asyncio.wait_for(_until_closed(ws), 10)
        assert ws.close_code == CLOSE_SIGNED_OUT


async def test_a_command_after_sign_out_gets_the_same_close(room: Room) -> None:
    async with client() as otto:
        assert (await sign_in(otto, room.url, "otto", PASSWORDS["otto"])).status == 303
        ws = await _open(otto, room)
        await ws.send_json({"id": 1, "command": "ping"})
        while (reply := await ws.receive_json(timeout=5)).get("id") != 1:
            pass
        assert reply["ok"] is True, reply
        # the session's cookie revoked in the Access, as a sign-out elsewhere would
        async with otto.post(room.url + "/logout", data={"csrf_token": csrf_of(otto)}, allow_redirects=False) as r:
            assert r.status == 303
        await ws.send_json({"id": 2, "command": "ping"})
        frames = await _until_closed(ws)
        assert all(json.loads(f).get("id") != 2 for f in frames)
        assert ws.close_code == CLOSE_SIGNED_OUT
