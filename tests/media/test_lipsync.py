"""Lip-sync of a live remote speaker: a real aiortc peer whose camera flashes and whose microphone
clicks at the same instants, the programme pushed to a real nginx-rtmp and played back from it with
PyAV; the click must sound within −40 … +60 ms of the flash (EBU R37 / ITU-R BT.1359), measured in
the stream's own timestamps. And the feed's picture choice, on a clock of our own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from avsync import ClickingMicrophone, Epoch, SyncReader, flash_click_clip, flashing_camera
from media_helpers import T, clip_cue, compressed_clock, floor, programme
from peers import PeerPair
from pydantic import SecretStr

from orchestrator.engine.ports import IngestTarget, OutputSpec
from orchestrator.media import AvMediaPlane, MediaSettings
from orchestrator.media.live import IDLE_FRAME, JITTER_MIN, LiveFeed, RemoteSourceRegistry
from orchestrator.planning.cues import Cue, Slate, VideoKind, VideoSource
from orchestrator.standins.nginx import RtmpServer

EARLY_MS, LATE_MS = -40.0, 60.0  # how early and how late the sound may be (EBU R37)
SECONDS = 7.0  # of programme read back; the first 2 s (joining, buffers filling) are not judged


@pytest.fixture
async def server() -> AsyncIterator[RtmpServer]:
    srv = RtmpServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["video/VP8", "video/H264"])
async def test_remote_speaker_is_in_lip_sync_on_rtmp(server: RtmpServer, codec: str) -> None:
    epoch = Epoch()
    pair = PeerPair()
    pair.send(flashing_camera(epoch), codec)
    pair.send(ClickingMicrophone(epoch))
    registry = RemoteSourceRegistry()
    media = AvMediaPlane(compressed_clock(speed=1, lead_s=0.2), MediaSettings(), live=registry)
    viewer = SyncReader()
    url = f"{server.url}/lipsync-key"
    watching = threading.Thread(target=viewer.read, args=(url, SECONDS), daemon=True)
    watching.start()
    await asyncio.sleep(0.5)  # the viewer waits at nginx for the publisher
    try:
        got = await pair.connect()
        registry.register("dana", got["video"], got["audio"])
        video = VideoSource(VideoKind.REMOTE, slate=Slate("Dana (remote)"), speaker_id="dana")
        cue = Cue("c1", T, "seg-c1", "c1", video, {"ko": floor()}, "ko")
        await media.prepare(programme(cue, languages=("ko",)))
        media.arm("s1", cue)
        target = IngestTarget(server.url, SecretStr("lipsync-key"))
        await media.attach_output(OutputSpec("live", "s1", "ko", "rtmp", target))
        await media.start("s1")
        await asyncio.to_thread(watching.join, 40)
        pipeline = media.programme("s1")
        assert pipeline.error is None, pipeline.error
        reports = await media.stop("s1")
    finally:
        await pair.close()
        await media.close()
        await registry.close()

    assert all(not r.errors for r in reports), reports
    assert viewer.error is None, viewer.error
    assert viewer.pictures, "nothing was played back from nginx"
    offsets = viewer.offsets_ms(after_s=viewer.pictures[0][0] + 2.0)
    # Every flash after the start has its click, and each one within the tolerance.
    assert len(offsets) >= SECONDS - 3, (offsets, viewer.flashes(), viewer.clicks())
    assert all(EARLY_MS <= o <= LATE_MS for o in offsets), f"sound − picture offsets (ms): {offsets}"


@pytest.mark.slow
async def test_a_recording_in_sync_comes_out_in_sync(tmp_path: Path) -> None:
    """The programme's own timestamps (H.264 frame n at n/30, AAC samples counted from frame 0,
    the encoder's priming included) keep a source that is in sync in sync, to the millisecond:
    what is measured on a remote speaker is the live path's, not the encoders'."""
    clip = flash_click_clip(tmp_path / "flash-click.mkv")
    media = AvMediaPlane(compressed_clock(speed=1, lead_s=0.0), MediaSettings(pacing="asap"))
    cue = clip_cue("c1", T, clip, {"ko": floor()})
    await media.prepare(programme(cue, languages=("ko",)))
    media.arm("s1", cue)
    out = tmp_path / "ko.flv"
    await media.attach_output(OutputSpec("rec", "s1", "ko", "file", IngestTarget(str(out))))
    await media.start("s1")
    pipeline = media.programme("s1")
    while pipeline.stats.frames < 5 * 30:
        assert pipeline.error is None, pipeline.error
        await asyncio.sleep(0.05)
    await media.stop("s1")
    await media.close()
    reader = SyncReader()
    reader.read(str(out))
    assert reader.error is None, reader.error
    offsets = reader.offsets_ms(after_s=0.5)  # the first click is the cut's, faded in over 5 ms
    assert len(offsets) >= 3, (offsets, reader.flashes(), reader.clicks())
    assert all(abs(o) <= 2.0 for o in offsets), f"sound − picture offsets (ms): {offsets}"


# -- the feed's choice of picture, on a manual clock ------------------------------------------


class Manual:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def picture(n: int) -> VideoFrame:
    frame = VideoFrame.from_ndarray(np.full((16, 16, 3), n, np.uint8), format="rgb24")
    frame.pts, frame.time_base = n, Fraction(1, 30)
    return frame


def sound(samples: int = 960) -> AudioFrame:
    frame = AudioFrame.from_ndarray(np.zeros((1, samples), np.int16), format="s16", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = 48_000, 0, Fraction(1, 48_000)
    return frame


class Speaker:
    """A picture every 1/30 s and 20 ms of sound every 20 ms, arriving as they are made; or the
    sound `burst` chunks at a time (a jittery network: four 20 ms packets every 80 ms)."""

    def __init__(self, clock: Manual, *feeds: LiveFeed, burst: int = 1) -> None:
        self.clock = clock
        self.feeds = feeds
        self.burst = burst
        self.arrived: dict[int, float] = {}  # picture number → when it arrived
        self.chunks: list[float] = []  # when each 20 ms chunk of sound arrived
        self._k = 0

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds * 600)):  # 1/600 s steps: both periods are whole numbers of them
            if self._k % 20 == 0:
                n = self._k // 20 % 250
                self.arrived[n] = self.clock.t
                for feed in self.feeds:
                    feed.put_video(picture(n))
            if self._k % (12 * self.burst) == 12 * self.burst - 1:
                self.chunks += [self.clock.t] * self.burst
                for feed in self.feeds:
                    for _ in range(self.burst):
                        feed.put_audio(sound())
            self._k += 1
            self.clock.t += 1 / 600


def frame_number(frame: VideoFrame | None) -> int:
    assert frame is not None
    return int(frame.to_ndarray(format="rgb24")[0, 0, 0])


@pytest.mark.parametrize("burst", [1, 4])
def test_a_remote_feed_shows_the_picture_that_came_with_its_sound(burst: int) -> None:
    clock = Manual()
    feed = LiveFeed("remote erin", now=clock, lipsync=True)
    plain = LiveFeed("studio x", now=clock)
    speaker = Speaker(clock, feed, plain, burst=burst)
    speaker.run(0.5)
    # Off the programme, a feed keeps only the cushion and a frame: cut to, it starts live;
    # and only the pictures that sound could ask for.
    assert len(feed._sound) <= JITTER_MIN + IDLE_FRAME
    assert len(feed._recent) <= 4
    behind = []
    for _ in range(60):  # two seconds on the programme, sound arriving all along
        assert plain.shown() is plain.picture()[0]  # not a speaker: the newest picture, as before
        # The next sample to play would have played, on arrival, this far into its chunk; the
        # picture shown is the one that came when it would have played, plus the one frame
        # aiortc holds every picture back (or the newest, when that is later still).
        head = len(speaker.chunks) * 960 - len(feed._sound)  # what was taken or dropped before it
        due = speaker.chunks[head // 960] + head % 960 / 48_000 + 1 / 30
        shown = speaker.arrived[frame_number(feed.shown())]
        newest = speaker.arrived[frame_number(feed.picture()[0])]
        assert abs(shown - due) <= 1 / 60 + 1e-6 or (shown == newest and due > newest)
        behind.append(round((speaker.arrived[frame_number(feed.picture()[0])] - shown) * 30))
        feed.sound(1600)
        plain.sound(1600)
        speaker.run(1 / 30)
    if burst > 1:  # the sound waits longer in the buffer, and so do the pictures
        assert max(behind[30:]) >= 2, behind


def test_a_remote_feed_whose_sound_stopped_shows_the_newest_picture() -> None:
    clock = Manual()
    feed = LiveFeed("remote finn", now=clock, lipsync=True)
    speaker = Speaker(clock, feed, burst=4)
    speaker.run(0.5)
    older = 0
    for _ in range(30):
        older += feed.shown() is not feed.picture()[0]  # in step with the sound: older pictures
        feed.sound(1600)
        speaker.run(1 / 30)
    assert older
    for n in range(15):  # the microphone goes quiet (no packets), the camera goes on
        clock.t += 1 / 30
        feed.put_video(picture(200 + n))
    assert feed.shown() is feed.picture()[0]


def test_the_cushion_grows_when_the_sound_runs_dry_and_shrinks_once_calm() -> None:
    clock = Manual()
    feed = LiveFeed("remote gil", now=clock, lipsync=True)
    speaker = Speaker(clock, feed)
    speaker.run(0.5)
    assert feed.cushion_ms == 40
    for _ in range(3):  # the network stalls for 150 ms while the programme takes on
        feed.sound(1600)
        speaker.clock.t += 0.05
    feed.sound(1600)
    assert feed.underruns == 1 and feed.cushion_ms == 60
    for _ in range(30 * 12):  # twelve calm seconds
        speaker.run(1 / 30)
        feed.sound(1600)
    assert feed.underruns == 1 and feed.cushion_ms == 50  # half a step back down after ten
