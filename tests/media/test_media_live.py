"""Live sources: a remote speaker's aiortc tracks (directly, and through a real peer connection in
this process), the fallback to the speaker's backup when the feed stops, and a studio feed URL."""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from media_clips import dominant_hz, make_clip
from media_helpers import BLUE, GREEN, T, audio_window, compressed_clock, decode, floor, is_colour, programme, tone

from orchestrator.engine.ports import IngestTarget, OutputSpec
from orchestrator.media import AvMediaPlane, MediaSettings
from orchestrator.media.live import RemoteSourceRegistry
from orchestrator.planning.cues import Cue, Slate, VideoKind, VideoSource

pytestmark = pytest.mark.slow
FPS = 30


class ColourTrack(VideoStreamTrack):
    """A camera that films one colour at 30 fps, 320x240 (scaled by the programme)."""

    def __init__(self, rgb: tuple[int, int, int]) -> None:
        super().__init__()
        self._picture = np.full((240, 320, 3), rgb, np.uint8)

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self._picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(AudioStreamTrack):
    """A microphone hearing a sine: 20 ms frames of s16 mono at 48 kHz, like WebRTC audio."""

    def __init__(self, hz: float) -> None:
        super().__init__()
        self._hz = hz
        self._n = 0
        self._started: float | None = None

    async def recv(self) -> AudioFrame:
        loop = asyncio.get_running_loop()
        if self._started is None:
            self._started = loop.time()
        wait = self._started + self._n / 48_000 - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(self._n, self._n + 960)) / 48_000
        samples = (0.3 * np.sin(2 * np.pi * self._hz * t) * 32767).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate = 48_000
        frame.pts, frame.time_base = self._n, fractions.Fraction(1, 48_000)
        self._n += 960
        return frame


def remote_cue(cue_id: str, speaker: str, backup: Path | None = None) -> Cue:
    video = VideoSource(
        VideoKind.REMOTE,
        slate=Slate(f"{speaker} (remote)", note="Connecting…"),
        speaker_id=speaker,
        backup=VideoSource(VideoKind.CLIP, clip_path=str(backup)) if backup else None,
    )
    return Cue(cue_id, T, f"seg-{cue_id}", cue_id, video, {"ko": floor(), "en": tone(1000)}, "ko")


@pytest.fixture(scope="module")
def blue_backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("backup") / "backup.mp4", rgb=BLUE, seconds=10, tone_hz=700)


@pytest.fixture
async def registry() -> AsyncIterator[RemoteSourceRegistry]:
    reg = RemoteSourceRegistry()
    yield reg
    await reg.close()


async def run_session(media: AvMediaPlane, cue: Cue, out: Path, frames: int) -> int:
    """Play the cue from frame ~15 and record the Korean programme; returns the cue's frame."""
    await media.prepare(programme(cue))
    media.arm("s1", cue)
    await media.attach_output(OutputSpec("rec", "s1", "ko", "file", IngestTarget(str(out))))
    await media.start("s1")
    pipeline = media.programme("s1")
    while pipeline.stats.frames < frames:
        assert pipeline.error is None
        await asyncio.sleep(0.05)
    (applied,) = media.applied_cues()
    return applied.frame_index


async def test_remote_speaker_then_backup_when_the_feed_stops(
    registry: RemoteSourceRegistry, blue_backup: Path, tmp_path: Path
) -> None:
    camera, mic = ColourTrack(GREEN), ToneTrack(440)
    registry.register("alice", camera, mic)
    media = AvMediaPlane(compressed_clock(speed=1, lead_s=0.5), MediaSettings(), live=registry)
    cue = remote_cue("c1", "alice", backup=blue_backup)
    out = tmp_path / "ko.flv"
    cut = await run_session(media, cue, out, frames=60)
    camera.stop()  # the remote's connection drops: no more pictures
    stopped_frame = media.programme("s1").stats.frames
    pipeline = media.programme("s1")
    while pipeline.stats.frames < stopped_frame + 45:
        await asyncio.sleep(0.05)
    fallbacks = media.fallbacks("s1")
    await media.stop("s1")

    d = decode(out)
    assert is_colour(d.colours[cut], GREEN, tol=50) and is_colour(d.colours[stopped_frame - 3], GREEN, tol=50)
    first_blue = next(i for i in range(cut, len(d.colours)) if is_colour(d.colours[i], BLUE, tol=50))
    # The switch to the backup came within half a second of the last picture (plus a frame).
    assert first_blue - stopped_frame <= 0.5 * FPS + 2
    assert all(is_colour(c, BLUE, tol=50) for c in d.colours[first_blue : first_blue + 10])
    assert len(fallbacks) == 1 and "remote alice" in fallbacks[0] and "backup.mp4" in fallbacks[0]
    # The Korean programme carried Alice's voice (the floor) while she was live.
    assert dominant_hz(audio_window(d, (cut + 10) / FPS, (stopped_frame - 5) / FPS)) == pytest.approx(440, abs=5)


async def test_remote_speaker_who_joins_late_is_cut_to_once_stable(
    registry: RemoteSourceRegistry, tmp_path: Path
) -> None:
    media = AvMediaPlane(compressed_clock(speed=1, lead_s=0.3), MediaSettings(), live=registry)
    cue = remote_cue("c1", "bob")  # no backup: the speaker's own slate stands in
    out = tmp_path / "ko.flv"
    cut = await run_session(media, cue, out, frames=30)
    registry.register("bob", ColourTrack(GREEN), ToneTrack(440))
    joined = media.programme("s1").stats.frames
    pipeline = media.programme("s1")
    while pipeline.stats.frames < joined + 100:  # stable for live_return_s (2 s), then cut to
        await asyncio.sleep(0.05)
    await media.stop("s1")
    (applied,) = media.applied_cues()
    assert applied.fallback is not None and "bob (remote)" in applied.fallback  # his slate, not stand-by
    d = decode(out)
    assert not is_colour(d.colours[cut], GREEN, tol=50)
    assert is_colour(d.colours[-1], GREEN, tol=50)  # recovered to the live picture


async def test_remote_speaker_through_a_peer_connection(registry: RemoteSourceRegistry, tmp_path: Path) -> None:
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sender.addTrack(ColourTrack(GREEN))
    sender.addTrack(ToneTrack(440))
    got: dict[str, MediaStreamTrack] = {}
    both = asyncio.Event()

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        got[track.kind] = track
        if len(got) == 2:
            registry.register("carol", got["video"], got["audio"])
            both.set()

    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        await asyncio.wait_for(both.wait(), 10)
        media = AvMediaPlane(compressed_clock(speed=1, lead_s=0.3), MediaSettings(), live=registry)
        out = tmp_path / "ko.flv"
        await run_session(media, remote_cue("c1", "carol"), out, frames=150)
        await media.stop("s1")
    finally:
        await sender.close()
        await receiver.close()
    d = decode(out)
    assert is_colour(d.colours[-1], GREEN, tol=50)
    assert dominant_hz(audio_window(d, (len(d.colours) - 40) / FPS, (len(d.colours) - 5) / FPS)) == pytest.approx(
        440, abs=5
    )


async def test_live_booth_replaces_the_scheduled_feed_while_it_flows(
    registry: RemoteSourceRegistry, tmp_path: Path, red_clip: Path
) -> None:
    from media_helpers import clip_cue

    # English is interpreted in booth-1; its scheduled stand-in is a 1000 Hz tone.
    cue = clip_cue("c1", T, red_clip, {"ko": floor(), "en": tone(1000, booth="booth-1")})
    media = AvMediaPlane(compressed_clock(speed=1, lead_s=0.3), MediaSettings(), live=registry)
    await media.prepare(programme(cue))
    media.arm("s1", cue)
    out = tmp_path / "en.flv"
    await media.attach_output(OutputSpec("rec", "s1", "en", "file", IngestTarget(str(out))))
    await media.start("s1")
    pipeline = media.programme("s1")
    while pipeline.stats.frames < 30:
        await asyncio.sleep(0.05)
    registry.register_booth("booth-1", ToneTrack(1200))  # the interpreter joins
    joined = pipeline.stats.frames
    while pipeline.stats.frames < joined + 45:
        await asyncio.sleep(0.05)
    await registry.unregister_booth("booth-1")  # and leaves again
    left = pipeline.stats.frames
    while pipeline.stats.frames < left + 45:
        await asyncio.sleep(0.05)
    await media.stop("s1")
    d = decode(out)
    assert dominant_hz(audio_window(d, 0.5, joined / FPS)) == pytest.approx(1000, abs=5)
    assert dominant_hz(audio_window(d, (joined + 10) / FPS, left / FPS)) == pytest.approx(1200, abs=5)
    assert dominant_hz(audio_window(d, (left + 25) / FPS, (left + 45) / FPS)) == pytest.approx(1000, abs=5)


async def test_studio_feed_from_a_url(registry: RemoteSourceRegistry, blue_backup: Path, tmp_path: Path) -> None:
    studio = Cue(
        "c1",
        T,
        "seg-studio",
        "studio",
        VideoSource(VideoKind.STUDIO, url=str(blue_backup), slate=Slate("Studio")),
        {"ko": floor(), "en": floor()},
        "ko",
    )
    media = AvMediaPlane(compressed_clock(speed=1, lead_s=1.0), MediaSettings(), live=registry)
    out = tmp_path / "ko.flv"
    cut = await run_session(media, studio, out, frames=90)
    await media.stop("s1")
    (applied,) = media.applied_cues()
    assert applied.fallback is None  # opened ahead of the cue (warm), so live on the cue's frame
    d = decode(out)
    assert is_colour(d.colours[cut], BLUE, tol=50) and is_colour(d.colours[-1], BLUE, tol=50)
