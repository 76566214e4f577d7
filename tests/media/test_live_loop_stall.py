"""A live speaker is dropped when THEY stop sending, not when OUR event loop is held up.

The speaker is a real aiortc peer on its own thread and event loop (as if on another machine), on
loopback to our receiving peer, whose tracks go to a real `RemoteSourceRegistry`. A programme
thread runs the real `Switcher` at 30 fps. Our loop is held up by a blocking callback
(`time.sleep` on the loop, as a slow callback or CPU starvation would). The checks count
programme frames and order events; none asserts how long anything took. The last test has the
speaker join by link (the participants service on a real web server) and checks no
`ParticipantChanged` says "dropped" for the hold-up."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from media_helpers import GREEN, T, programme
from peers import Camera, Microphone
from test_live_switching import SETTINGS, Alerts, remote_cue
from test_switcher import W0, InlineExecutor, centre

from orchestrator.clock import ManualClock
from orchestrator.engine.events import FallbackChanged, ParticipantChanged, RunEvent
from orchestrator.media.live import RemoteSourceRegistry
from orchestrator.media.sources import Tick
from orchestrator.media.switcher import Switcher
from orchestrator.standins.bots import Bot
from tests.participants.conftest import Served, host_addresses, served  # noqa: F401  # fixtures

pytestmark = pytest.mark.slow

FPS = SETTINGS.fps
R = TypeVar("R")


class RemoteSpeaker:
    """A sending peer with a camera and a microphone, on its own thread's event loop, so that it
    goes on sending while ours is held up. `stop_sending()` is a hard drop (no goodbye, the
    connection stays up)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="remote speaker", daemon=True)
        self._thread.start()
        self.camera, self.voice = Camera(GREEN), Microphone(440)
        self.pc: RTCPeerConnection | None = None

    def on_its_loop(self, coro: Coroutine[Any, Any, R]) -> Awaitable[R]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def offer(self) -> tuple[str, str]:
        self.pc = RTCPeerConnection()
        for track in (self.camera, self.voice):
            self.pc.addTransceiver(track, direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp, self.pc.localDescription.type

    async def answered(self, sdp: str, kind: str) -> None:
        assert self.pc is not None
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, kind))

    def stop_sending(self) -> None:
        self.camera.paused = self.voice.paused = True

    def last_picture_sent(self) -> float:
        return self.camera.sent[-1][1]

    async def close(self) -> None:
        if self.pc is not None:
            await self.on_its_loop(self.pc.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join, 5)
        self.loop.close()


@dataclass
class Programme:
    """The real switcher on its own thread at 30 fps; remembers, per frame, when it was made
    (time.time(), to order it against the peer's and the loop's moments) and whether it showed
    the speaker."""

    switcher: Switcher
    events: list[RunEvent]
    frames: list[tuple[float, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="programme", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        start, n = time.monotonic(), 0
        while not self._stop.is_set():
            wall = W0 + n / FPS
            out = self.switcher.frame(Tick(n, wall, ManualClock(T).to_event(wall), SETTINGS.samples_per_frame))
            r, g, b = centre(out.video)
            live = abs(r - GREEN[0]) < 40 and abs(g - GREEN[1]) < 40 and abs(b - GREEN[2]) < 40
            self.frames.append((time.time(), live))
            n += 1
            self._stop.wait(max(0.0, start + n / FPS - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()

    def fallbacks(self) -> list[FallbackChanged]:
        return [e for e in self.events if isinstance(e, FallbackChanged)]

    def since(self, t: float) -> list[bool]:
        return [live for at, live in list(self.frames) if at >= t]


@dataclass
class Rig:
    speaker: RemoteSpeaker
    registry: RemoteSourceRegistry
    programme: Programme


async def until(condition: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    speaker = RemoteSpeaker()
    receiver = RTCPeerConnection()
    got: dict[str, MediaStreamTrack] = {}
    both = asyncio.Event()

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        got[track.kind] = track
        if len(got) == 2:
            both.set()

    sdp, kind = await speaker.on_its_loop(speaker.offer())
    await receiver.setRemoteDescription(RTCSessionDescription(sdp, kind))
    await receiver.setLocalDescription(await receiver.createAnswer())
    await speaker.on_its_loop(speaker.answered(receiver.localDescription.sdp, receiver.localDescription.type))
    await asyncio.wait_for(both.wait(), 15)
    registry = RemoteSourceRegistry(SETTINGS)
    registry.register("mayor", got["video"], got["audio"])
    events: list[RunEvent] = []
    switcher = Switcher(
        programme(remote_cue()),
        ManualClock(T),
        SETTINGS,
        preroll=InlineExecutor(),
        on_cue=lambda receipt: None,
        live=registry,
        publish=events.append,
        notifier=Alerts(),
    )
    switcher.arm(remote_cue())
    prog = Programme(switcher, events)
    # The speaker comes on air once their picture has flowed (the cue shows them when it starts).
    await until(lambda: registry._feed("remote mayor").picture()[0] is not None, "the speaker's first picture")
    thread = prog.start()
    try:
        await until(lambda: len(prog.since(0)) > 2 * FPS and all(prog.since(0)[-FPS:]), "the speaker on air")
        yield Rig(speaker, registry, prog)
    finally:
        prog.stop()
        await asyncio.to_thread(thread.join, 5)
        switcher.close()
        await receiver.close()
        await speaker.close()
        await registry.close()


async def block_loop(seconds: float, first: Any = None) -> float:
    """Hold our event loop up for `seconds` inside one of its callbacks (after calling `first`
    there); the time.time() at which it was let go."""
    released: list[float] = []

    def stall() -> None:
        if first is not None:
            first()
        time.sleep(seconds)  # the loop runs nothing meanwhile; other threads do
        released.append(time.time())

    asyncio.get_running_loop().call_soon(stall)
    await asyncio.sleep(0)  # the callback runs here
    return released[0]


async def test_a_speaker_sending_steadily_is_not_dropped_while_our_loop_is_held_up(rig: Rig) -> None:
    await asyncio.sleep(0.5)
    sent_before = len(rig.speaker.camera.sent)
    released = await block_loop(0.5)
    # The speaker went on sending meanwhile (their own loop), which is what makes this a test.
    assert len(rig.speaker.camera.sent) - sent_before >= 10
    await asyncio.sleep(1.0)
    assert rig.registry.heartbeat.longest >= 0.4  # the hold-up was seen by the heartbeat
    assert len(rig.programme.since(released)) >= FPS // 2  # the programme went on meanwhile
    assert rig.programme.fallbacks() == []  # no cut to the backup (or the slate)
    assert all(rig.programme.since(released - 1.0))  # the speaker stayed on the programme throughout


async def test_a_speaker_who_stops_sending_is_dropped_within_the_usual_frames(rig: Rig) -> None:
    await asyncio.sleep(0.5)
    rig.speaker.stop_sending()
    await asyncio.sleep(0.1)  # a picture being made as it stopped has left by now
    last = rig.speaker.last_picture_sent()
    await until(lambda: False in rig.programme.since(last), "a fallback on the programme")
    after = rig.programme.since(last)
    frozen = after.index(False)  # frames made after the last picture left the peer, before the cut
    assert frozen <= 15
    (lost,) = rig.programme.fallbacks()
    assert lost.active and lost.person == "mayor" and lost.shown == "slate"


async def test_a_speaker_who_stops_while_our_loop_is_held_up_is_dropped_once_it_runs_again(rig: Rig) -> None:
    await asyncio.sleep(0.5)
    released = await block_loop(0.5, first=rig.speaker.stop_sending)
    await until(lambda: False in rig.programme.since(0), "a fallback on the programme")
    await until(lambda: rig.registry.heartbeat.longest >= 0.4, "the heartbeat seeing the hold-up")
    during = [live for at, live in list(rig.programme.frames) if rig.speaker.last_picture_sent() <= at < released]
    assert len(during) >= 5 and all(during)  # held up: the last picture stays, no cut yet
    after = rig.programme.since(released)
    assert 0 < after.index(False) <= 15  # cut once the loop could have delivered and nothing came
    assert [e.active for e in rig.programme.fallbacks()] == [True]


async def test_a_speaker_joined_by_link_is_not_reported_dropped_while_our_loop_is_held_up(
    served: Served,  # noqa: F811  # the fixture imported above
) -> None:
    speaker = RemoteSpeaker()  # only its loop: the bot joins from there, as from another machine
    bot = Bot("diamond", "Jared Diamond", "speaker", served.url("diamond"))

    async def join() -> aiohttp.ClientSession:
        http = aiohttp.ClientSession()
        await bot.join(http)
        return http

    http = await speaker.on_its_loop(join())
    try:
        await until(lambda: served.participants.presence["diamond"].state == "green_room", "the speaker joined")
        await asyncio.sleep(0.5)
        await block_loop(0.5)
        await asyncio.sleep(1.0)
        assert served.live.heartbeat.longest >= 0.4
        states = [e.state for e in served.events if isinstance(e, ParticipantChanged) and e.person == "diamond"]
        assert "green_room" in states and "dropped" not in states
        assert served.participants.presence["diamond"].state == "green_room"
        # ...and a real drop is still reported, by the same watchdog.
        speaker.loop.call_soon_threadsafe(bot.drop)
        await until(lambda: served.participants.presence["diamond"].state == "dropped", "the drop reported")
    finally:

        async def leave() -> None:
            await bot.leave(http)
            await http.close()

        await speaker.on_its_loop(leave())
        await speaker.close()
