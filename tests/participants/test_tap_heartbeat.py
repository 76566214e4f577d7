"""A participant's tap judges their media's age as the programme does: the time our own event loop
was held up (the heartbeat says how long) is not their silence; the time it ran is."""

from __future__ import annotations

import asyncio

import pytest
from av.video.frame import VideoFrame

from orchestrator.engine.heartbeat import HEARTBEAT_S, STALL_EXCUSE_MAX_S, LoopHeartbeat
from orchestrator.media.frames import solid_yuv
from orchestrator.participants.taps import Tap

PICTURE = VideoFrame.from_ndarray(solid_yuv(64, 36, (20, 200, 40)), format="yuv420p")


class Track:
    """A received track whose frames the test lets through one at a time."""

    kind = "video"

    def __init__(self) -> None:
        self.frames: asyncio.Queue[VideoFrame] = asyncio.Queue()

    async def recv(self) -> VideoFrame:
        return await self.frames.get()


async def test_a_hold_up_of_our_loop_is_not_the_senders_silence() -> None:
    t = [100.0]
    beat = LoopHeartbeat(now=lambda: t[0])
    beat.start()
    track = Track()
    tap = Tap(track, "diamond/abc", now=lambda: t[0], heartbeat=beat)
    plain = Tap(Track(), "diamond/def", now=lambda: t[0])  # no heartbeat: every second counts

    async def frame() -> None:
        track.frames.put_nowait(PICTURE)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    await frame()
    assert tap.age() == 0.0
    t[0] += 0.6  # held up: no tick, no frame read
    assert tap.age() is not None and tap.age() < 0.1  # type: ignore[operator]
    beat.tick()
    await frame()  # the frames that waited are read at once
    assert tap.age() == 0.0
    for _ in range(8):  # the loop runs, the sender is silent: that counts
        t[0] += HEARTBEAT_S
        beat.tick()
    assert tap.age() == pytest.approx(8 * HEARTBEAT_S)
    t[0] += STALL_EXCUSE_MAX_S + 1.0  # stuck for good: at most the excuse's limit is not counted
    assert tap.age() >= 8 * HEARTBEAT_S + 1.0 - 0.1  # type: ignore[operator]
    assert plain.age() is None
    await tap.close()
    await plain.close()
