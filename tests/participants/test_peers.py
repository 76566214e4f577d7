"""aiortc peers joining by their links: the speaker's picture reaches the media plane's registry,
a drop is seen by the picture and the return too; a technical check loops the person's own
picture back; interpreters take the booth in turn (only the one on duty is registered)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from orchestrator.engine.events import BoothChanged, ParticipantChanged
from orchestrator.standins.bots import Bot, CardTrack, ToneTrack
from tests.participants.conftest import Served


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def states(served: Served, person: str) -> list[str]:
    out: list[str] = []
    for e in served.events:
        if isinstance(e, ParticipantChanged) and e.person == person and (not out or out[-1] != e.state):
            out.append(e.state)
    return out


async def test_everyone_expected_is_listed_before_joining(served: Served) -> None:
    listed = {e.person: e.state for e in served.events if isinstance(e, ParticipantChanged)}
    assert listed == {"diamond": "not_joined", "kim": "not_joined", "lee": "not_joined"}
    booths = [e for e in served.events if isinstance(e, BoothChanged)]
    assert [(b.booth, b.on_duty) for b in booths] == [("ko-en", None)]


async def test_a_speaker_bot_reaches_the_registry_drops_and_comes_back(served: Served) -> None:
    feed = served.live._feed("remote diamond")  # what the programme reads for the speaker's cue
    async with aiohttp.ClientSession() as http:
        bot = Bot("diamond", "Jared Diamond", "speaker", served.url("diamond"))
        await bot.join(http)
        await until(lambda: feed.picture()[0] is not None and feed.picture()[1] < 0.2)
        picture, _age = feed.picture()
        assert picture is not None and (picture.width, picture.height) == (320, 180)
        await until(lambda: served.participants.presence["diamond"].state == "green_room")
        bot.drop()
        await until(lambda: served.participants.presence["diamond"].state == "dropped")
        bot.come_back()
        await until(lambda: served.participants.presence["diamond"].state == "green_room")
        # figures reach the dashboard: resolution, frame rate, bitrate
        await until(
            lambda: any(
                isinstance(e, ParticipantChanged) and e.person == "diamond" and (e.fps or 0) > 5 and (e.kbps or 0) > 0
                for e in served.events
            )
        )
        last = served.participants.presence["diamond"]
        assert last.device == "summit bot (speaker)"
        await bot.leave(http)
    await until(lambda: served.participants.presence["diamond"].state == "left")
    assert states(served, "diamond") in (
        ["not_joined", "connecting", "green_room", "dropped", "green_room", "left"],
        ["not_joined", "green_room", "dropped", "green_room", "left"],
    )
    changed = [e for e in served.events if isinstance(e, ParticipantChanged) and e.person == "diamond"]
    assert any(e.resolution == "320x180" for e in changed)


async def test_a_technical_check_loops_the_persons_picture_back(served: Served) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(CardTrack("Check"), direction="sendrecv")
    pc.addTransceiver(ToneTrack(), direction="sendrecv")
    got: dict[str, int] = {}
    readers: list[asyncio.Task[None]] = []

    @pc.on("track")
    def on_track(track: object) -> None:
        async def read() -> None:
            while True:
                await track.recv()  # type: ignore[attr-defined]
                got[track.kind] = got.get(track.kind, 0) + 1  # type: ignore[attr-defined]

        readers.append(asyncio.ensure_future(read()))

    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as http:
        body = {"sdp": pc.localDescription.sdp, "purpose": "check", "device": "test camera"}
        async with http.post(served.url("diamond") + "/offer", json=body) as res:
            answer = await res.json()
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await until(lambda: got.get("video", 0) > 10 and got.get("audio", 0) > 10)
        await until(lambda: served.participants.presence["diamond"].state == "checking")
        checked = [e for e in served.events if isinstance(e, ParticipantChanged) and e.state == "checking"]
        assert checked[-1].device == "test camera" and checked[-1].detail and "checked" in checked[-1].detail
        # a check never reaches the programme
        assert served.live._feed("remote diamond").picture()[0] is None
    await pc.close()
    for reader in readers:
        reader.cancel()


async def test_interpreters_take_the_booth_in_turn(served: Served) -> None:
    p = served.participants
    async with aiohttp.ClientSession() as http:
        kim = Bot("kim", "Kim", "interpreter", served.url("kim"), tone_hz=500)
        lee = Bot("lee", "Lee", "interpreter", served.url("lee"), tone_hz=700)
        await kim.join(http)
        await until(lambda: p.duties["ko-en"].on_duty == "kim")
        booth = served.live._feed("booth ko-en")
        await until(lambda: booth.sound_age() < 0.2)
        await lee.join(http)
        await until(lambda: p.presence["lee"].state == "green_room" and p.presence["kim"].state == "on_air")
        assert p.booth_command("kim", "mic_off") is None and p.duties["ko-en"].mic_open is False
        assert p.booth_command("lee", "mic_off") == "only the interpreter on duty has the microphone"
        assert p.booth_command("kim", "mic_on") is None
        assert p.booth_command("lee", "request") is None and p.duties["ko-en"].request == "lee"
        assert p.booth_command("kim", "accept") is None
        assert p.duties["ko-en"].on_duty == "lee"
        assert p.booth_command("kim", "take_over") is None and p.duties["ko-en"].on_duty == "kim"
        await kim.leave(http)  # the partner takes over by itself
        await until(lambda: p.duties["ko-en"].on_duty == "lee")
        await lee.leave(http)
    booths = [e for e in served.events if isinstance(e, BoothChanged)]
    assert [e.on_duty for e in booths if e.on_duty] and {"kim", "lee"} <= {e.on_duty for e in booths}


async def test_the_green_room_gets_tally_countdown_and_text(served: Served) -> None:
    from orchestrator.engine.events import AlertRaised, CueTaken

    p = served.participants
    sid, cue = p.next_cue("diamond") or ("", None)
    assert cue is not None
    async with aiohttp.ClientSession() as http:
        bot = Bot("diamond", "Jared Diamond", "speaker", served.url("diamond"))
        await bot.join(http)
        async with http.ws_connect(served.url("diamond") + "/events") as ws:
            await ws.send_json({"type": "hello"})
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "status" and hello["tally"] == "" and hello["cue_in_s"] > 3000
            served.clock.advance(cue.at - served.clock.now() - timedelta(minutes=2))
            assert p.status("diamond")["tally"] == "STAND BY"
            assert abs(p.status("diamond")["cue_in_s"] - 120) < 1
            await until(lambda: p.presence["diamond"].state == "green_room")
            served.clock.advance(timedelta(minutes=2))
            p.observe(CueTaken(cue.id, sid, cue.at, cue.at, 0.0, 1))
            assert p.presence["diamond"].state == "on_air" and p.status("diamond")["tally"] == "ON AIR"
            while (m := await ws.receive_json(timeout=5))["type"] != "status" or m["tally"] != "ON AIR":
                pass
            await ws.send_json({"type": "chat", "text": "Can you hear me?"})
            while (m := await ws.receive_json(timeout=5))["type"] != "chat":
                pass
            assert m["from"] == "Jared Diamond" and m["text"] == "Can you hear me?"
            p.say("Yes, you are on in 10 s", sender="operator", person="diamond")
            while (m := await ws.receive_json(timeout=5))["type"] != "chat":
                pass
            assert m["from"] == "operator"
        await bot.leave(http)
    alerts = [e for e in served.events if isinstance(e, AlertRaised)]
    assert any("Can you hear me?" in a.message and "Jared Diamond" in a.message for a in alerts)
