"""The participants' text channel survives a restart: every line, both ways, is written to the
journal before it is delivered, and a new system built on the same journal file shows the same
conversation, in order, on the person's page (their hello) and in the dashboard's chat (/api/chat).
What a participant types stays untrusted: limited in length and masked of every held secret."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from orchestrator.engine.journal import SqliteJournal
from orchestrator.schedule.model import Schedule
from orchestrator.web.auth import Role
from tests.web.test_participant_chat import SECRET, Room, _next_chat, _room, _say

LONG = "x" * 600


async def _hello(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
    await ws.send_json({"type": "hello"})
    reply = await ws.receive_json(timeout=5)
    assert reply["type"] == "status", reply
    return reply


async def _chat_api(http: aiohttp.ClientSession, room: Room) -> list[tuple[str, str, str | None, str | None]]:
    async with http.get(room.url + "/api/chat", headers=room.as_role(Role.VIEWER)) as r:
        assert r.status == 200
        lines = (await r.json())["lines"]
    return [(x["sender"], x["text"], x["person"], x["booth"]) for x in lines]


async def test_the_conversation_is_there_after_a_restart(two_sessions: Schedule, tmp_path: Path) -> None:
    async for room in _room(two_sessions, tmp_path, people=True):
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(room.join_url("diamond") + "/events") as diamond,
            http.ws_connect(room.join_url("kim") + "/events") as kim,
        ):
            await _hello(diamond)
            await _hello(kim)
            await diamond.send_json({"type": "chat", "text": "Is my sound all right?"})
            assert (await _next_chat(diamond))["text"] == "Is my sound all right?"
            status, body = await _say(http, room, "/api/participants/diamond/say", {"text": "Yes, on in 2 minutes"})
            assert status == 200, body
            assert (await _next_chat(diamond))["from"] == "operator"
            status, body = await _say(http, room, "/api/booths/ko-en/say", {"text": "Hand over at the break"})
            assert status == 200, body
            assert (await _next_chat(kim))["text"] == "Hand over at the break"
            # untrusted: a pasted link secret is masked, an over-long line cut, markup kept as text
            await kim.send_json({"type": "chat", "text": f"the secret is {SECRET}"})
            assert SECRET not in (await _next_chat(kim))["text"]
            await diamond.send_json({"type": "chat", "text": LONG})
            assert len((await _next_chat(diamond))["text"]) == 500
            await diamond.send_json({"type": "chat", "text": "<b>bold?</b>"})
            await _next_chat(diamond)
            before = await _chat_api(http, room)
        assert len(room.system.journal.messages()) == 6

    assert len(before) == 6
    assert before[:3] == [
        ("Jared Diamond", "Is my sound all right?", "diamond", None),
        ("operator", "Yes, on in 2 minutes", "diamond", None),
        ("operator", "Hand over at the break", None, "ko-en"),
    ]
    assert before[3][2:] == ("kim", "ko-en") and SECRET not in before[3][1]
    assert before[4][1] == "x" * 500 and before[5][1] == "<b>bold?</b>"

    # a new system on the same journal file (and the same link secret): the same conversation
    async for room in _room(two_sessions, tmp_path, people=True):
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(room.join_url("diamond") + "/events") as diamond,
            http.ws_connect(room.join_url("kim") + "/events") as kim,
        ):
            assert await _chat_api(http, room) == before  # the dashboard's chat panel
            theirs = await _hello(diamond)  # the speaker's green room
            chat = theirs["chat"]
            assert isinstance(chat, list)
            assert [(m["from"], m["text"]) for m in chat] == [
                ("Jared Diamond", "Is my sound all right?"),
                ("operator", "Yes, on in 2 minutes"),
                ("Jared Diamond", "x" * 500),
                ("Jared Diamond", "<b>bold?</b>"),
            ]
            booth = (await _hello(kim))["chat"]
            assert isinstance(booth, list)
            assert [m["text"] for m in booth] == ["Hand over at the break", before[3][1]]
            # and the conversation goes on after the restart, in order
            await diamond.send_json({"type": "chat", "text": "I'm back"})
            assert (await _next_chat(diamond))["text"] == "I'm back"
            after = await _chat_api(http, room)
        assert after == [*before, ("Jared Diamond", "I'm back", "diamond", None)]
    with_journal = SqliteJournal(tmp_path / "journal.sqlite")
    try:
        kept = with_journal.messages()
    finally:
        with_journal.close()
    assert [m.seq for m in kept] == sorted(m.seq for m in kept)
    assert [(m.origin, m.sender) for m in kept[:3]] == [
        ("participant", "diamond"),
        ("operator", None),
        ("operator", None),
    ]
    assert all(SECRET not in m.text for m in kept)


async def test_a_line_the_journal_cannot_keep_is_not_delivered(two_sessions: Schedule, tmp_path: Path) -> None:
    async for room in _room(two_sessions, tmp_path, people=True):
        async with aiohttp.ClientSession() as http, http.ws_connect(room.join_url("diamond") + "/events") as ws:
            await _hello(ws)
            # the journal refuses the line as on a full disk (a real SQLite error, only for this table)
            room.system.journal._db.execute(
                "CREATE TEMP TRIGGER full_disk BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
            try:
                await ws.send_json({"type": "chat", "text": "lost?"})
                reply = await ws.receive_json(timeout=5)
                while reply["type"] == "status":
                    reply = await ws.receive_json(timeout=5)
                assert reply == {"type": "error", "message": "your message could not be sent: please try again"}
                status, body = await _say(http, room, "/api/participants/diamond/say", {"text": "lost too?"})
                assert status == 409 and "could not keep the line" in body["error"], body
            finally:
                room.system.journal._db.execute("DROP TRIGGER temp.full_disk")
            assert await _chat_api(http, room) == []


def test_the_journal_keeps_lines_in_order_and_gives_the_newest(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    try:
        for i in range(5):
            seq = journal.record_message(
                at=f"2021-09-01T10:0{i}:00+09:00", origin="operator", text=f"line {i}", person="p"
            )
            assert seq == i + 1
        assert [m.text for m in journal.messages()] == [f"line {i}" for i in range(5)]
        assert [m.text for m in journal.messages(last=2)] == ["line 3", "line 4"]
    finally:
        journal.close()
    again = SqliteJournal(tmp_path / "j.sqlite")  # on disk: another connection reads it back
    try:
        assert [m.seq for m in again.messages()] == [1, 2, 3, 4, 5]
    finally:
        again.close()
