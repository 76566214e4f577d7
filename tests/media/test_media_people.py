"""People on the programme through real aiortc peer connections on loopback, the programme pushed
to a real nginx-rtmp and read back from what nginx recorded: the speaker on the cue frame, the
backup on a hard drop and the return, each language's routing, the silence alarm, loudness at
each destination's target; H.264 cameras; return and floor feeds over a peer connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from media_clips import dominant_hz, make_clip
from media_helpers import BLUE, GREEN, T, audio_window, compressed_clock, decode, floor, is_colour, programme
from peers import Camera, Listener, Microphone, PeerPair
from pydantic import SecretStr

from orchestrator.engine.events import AlertRaised, FallbackChanged, RouteChanged, RunEvent
from orchestrator.engine.ports import IngestTarget, OutputSpec
from orchestrator.media import AvMediaPlane, MediaSettings
from orchestrator.media.live import RemoteSourceRegistry
from orchestrator.media.probe import measure_loudness
from orchestrator.planning.cues import AudioKind, AudioSource, Cue, InterpretationFeed, Slate, VideoKind, VideoSource
from orchestrator.standins.nginx import RtmpServer

pytestmark = pytest.mark.slow
FPS = 30


class Bus:
    """Stands where the event bus is: collects what the media plane publishes and alerts."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    def publish(self, event: RunEvent) -> None:
        self.events.append(event)

    def alert(self, level: str, message: str, *, session: str | None = None, destination: str | None = None) -> None:
        self.events.append(AlertRaised(level, message, session, destination, T))


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RtmpServer]:
    srv = RtmpServer(record_dir=tmp_path / "recorded")
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def registry() -> AsyncIterator[RemoteSourceRegistry]:
    reg = RemoteSourceRegistry()
    yield reg
    await reg.close()


def mayor_cue(backup: Path | None) -> Cue:
    video = VideoSource(
        VideoKind.REMOTE,
        slate=Slate("Mayor Jane Doe", "Mayor, Lyon"),
        speaker_id="mayor",
        backup=VideoSource(VideoKind.CLIP, clip_path=str(backup)) if backup else None,
    )
    booth = AudioSource(
        AudioKind.INTERPRETATION, booth_id="booth-1", from_language="ko", feed=InterpretationFeed("silence")
    )
    return Cue("c1", T, "seg-c1", "the mayor", video, {"ko": floor(), "en": booth}, "ko")


async def wait_frames(media: AvMediaPlane, frames: int) -> None:
    pipeline = media.programme("s1")
    while pipeline.stats.frames < frames:
        assert pipeline.error is None, pipeline.error
        await asyncio.sleep(0.02)


async def test_speaker_and_interpreter_on_air_through_nginx(
    server: RtmpServer, registry: RemoteSourceRegistry, tmp_path: Path
) -> None:
    backup = make_clip(tmp_path / "backup.mp4", rgb=BLUE, seconds=30, tone_hz=700)
    camera, voice = Camera(GREEN), Microphone(440, level=0.3)
    interpreter = Microphone(880, level=0.03)  # 20 dB quieter than the speaker
    speaker, booth = PeerPair(), PeerPair()
    speaker.send(camera, codec="video/VP8")
    speaker.send(voice, codec="audio/opus")
    booth.send(interpreter, codec="audio/opus")
    bus = Bus()
    settings = MediaSettings(silence_alarm_s=1.0, silence_policy_s=2.0)
    media = AvMediaPlane(
        compressed_clock(speed=1, lead_s=1.0),
        settings,
        live=registry,
        publish=bus.publish,
        notifier=bus,
        loudness={"ko-live": -14.0, "en-live": -23.0},
    )
    try:
        got = await speaker.connect()
        registry.register("mayor", got["video"], got["audio"])
        registry.register_booth("booth-1", (await booth.connect())["audio"])
        assert "VP8" in speaker.offered() and "opus" in speaker.offered()
        cue = mayor_cue(backup)
        await media.prepare(programme(cue))
        media.arm("s1", cue)
        for lang in ("ko", "en"):
            key = SecretStr(f"{lang}-stream-key")
            await media.attach_output(OutputSpec(f"{lang}-live", "s1", lang, "rtmp", IngestTarget(server.url, key)))
        # Frame-exact checks read a local recording too: on a loaded machine a publisher process may
        # stall and drop packets on the way to nginx, which shifts frame numbers there.
        await media.attach_output(OutputSpec("ko-rec", "s1", "ko", "file", IngestTarget(str(tmp_path / "ko.flv"))))
        await media.start("s1")
        await wait_frames(media, 6 * FPS)
        camera.paused = voice.paused = True  # a hard drop: no more packets, no goodbye
        dropped_at = media.programme("s1").stats.frames
        await wait_frames(media, dropped_at + FPS)
        camera.paused = voice.paused = False
        resumed_at = media.programme("s1").stats.frames
        await wait_frames(media, resumed_at + 3 * FPS)
        interpreter.muted = True  # the interpreter falls silent while the mayor speaks
        muted_at = media.programme("s1").stats.frames
        await wait_frames(media, muted_at + 3 * FPS)
        interpreter.muted = False
        await wait_frames(media, muted_at + 5 * FPS)
        reports = await media.stop("s1")
    finally:
        await speaker.close()
        await booth.close()
        await media.close()
    assert all(not r.errors for r in reports if r.destination_id == "ko-rec"), reports
    (applied,) = media.applied_cues()
    assert applied.fallback is None  # connected and healthy: live on the cue frame
    recordings = {p.name.split("-stream")[0]: p for p in (tmp_path / "recorded").rglob("*.flv")}
    ko, en = decode(recordings["ko"]), decode(recordings["en"])
    c = applied.frame_index
    local = decode(tmp_path / "ko.flv")
    assert not is_colour(local.colours[c - 1], GREEN, tol=50) and is_colour(local.colours[c], GREEN, tol=50)
    assert any(is_colour(rgb, GREEN, tol=50) for rgb in ko.colours)  # what nginx's viewers got
    # Korean viewers hear the mayor (the floor); English viewers the interpreter. (What nginx
    # recorded is read as a whole: its timeline may have gaps where a publisher stalled.)
    assert dominant_hz(audio_window(local, (c + 30) / FPS, (c + 120) / FPS)) == pytest.approx(440, abs=5)
    assert dominant_hz(ko.audio) == pytest.approx(440, abs=5)
    assert dominant_hz(en.audio) == pytest.approx(880, abs=5)
    # The drop: the backup within 15 frames, the mayor again once back and stable for 2 s.
    lost = next(n for n in range(dropped_at, len(local.colours)) if is_colour(local.colours[n], BLUE, tol=50))
    assert lost - dropped_at <= 15
    back = next(n for n in range(lost, len(local.colours)) if is_colour(local.colours[n], GREEN, tol=50))
    assert 2 * FPS <= back - resumed_at <= 2 * FPS + 20
    fallbacks = [e for e in bus.events if isinstance(e, FallbackChanged)]
    assert [(e.person, e.active, e.shown) for e in fallbacks] == [("mayor", True, "backup"), ("mayor", False, "backup")]
    # The silence alarm within 2 s, the floor (ducked) after the policy time, and the recovery.
    alerts = [e for e in bus.events if isinstance(e, AlertRaised)]
    assert len(alerts) == 1 and "booth booth-1 (en) is silent" in alerts[0].message
    routes = [(e.source, e.reason, e.silent) for e in bus.events if isinstance(e, RouteChanged) and e.language == "en"]
    assert routes == [
        ("booth-1", "schedule", False),
        ("booth-1", "silence", True),
        ("floor", "silence", True),
        ("booth-1", "recovered", False),
    ]
    assert any(is_colour(rgb, BLUE, tol=50) for rgb in ko.colours)  # nginx's viewers saw the backup too
    assert any(
        dominant_hz(en.audio[i : i + 9600]) == pytest.approx(440, abs=5) for i in range(0, en.audio.size - 9600, 4800)
    )  # the floor, ducked, while the booth was silent
    # Loudness: each destination at its own target, true peak under −1 dBTP.
    start = (c + 3 * FPS) / FPS
    for lang, target in (("ko", -14.0), ("en", -23.0)):
        measured = measure_loudness(str(recordings[lang]), start_s=start)
        assert measured.integrated_lufs == pytest.approx(target, abs=1.0), (lang, measured)
        assert measured.true_peak_dbtp <= -1.0, (lang, measured)


async def test_an_h264_camera_reaches_the_programme(registry: RemoteSourceRegistry, tmp_path: Path) -> None:
    camera, voice = Camera(GREEN, size=(640, 480)), Microphone(440)
    pair = PeerPair()
    pair.send(camera, codec="video/H264")
    pair.send(voice)
    media = AvMediaPlane(compressed_clock(speed=1, lead_s=0.3), MediaSettings(), live=registry)
    out = tmp_path / "ko.flv"
    try:
        got = await pair.connect()
        assert "H264" in pair.offered() and "VP8" not in pair.offered()
        registry.register("mayor", got["video"], got["audio"])
        cue = mayor_cue(make_clip(tmp_path / "b.mp4", rgb=BLUE, seconds=5, tone_hz=700))
        await media.prepare(programme(cue))
        media.arm("s1", cue)
        await media.attach_output(OutputSpec("rec", "s1", "ko", "file", IngestTarget(str(out))))
        await media.start("s1")
        await wait_frames(media, 90)
        await media.stop("s1")
    finally:
        await pair.close()
        await media.close()
    d = decode(out)
    assert is_colour(d.colours[-1], GREEN, tol=50)  # 4:3 pillar-boxed, the centre is the camera's
    assert dominant_hz(audio_window(d, 2.0, 2.9)) == pytest.approx(440, abs=5)


async def test_return_and_floor_feeds_over_a_peer_connection(registry: RemoteSourceRegistry, tmp_path: Path) -> None:
    """The interpreter hears the floor with low delay; the speaker's return feed leaves their own
    voice out while they are on air and brings the programme's picture at 5 fps."""
    camera, voice = Camera(GREEN), Microphone(440)
    pair = PeerPair()
    pair.send(camera)
    pair.send(voice)
    # No backup (a stall under load shows the silent slate, not a recording's voice) and a
    # tolerant timeout: this test is about the feeds, not about drops.
    media = AvMediaPlane(compressed_clock(speed=1, lead_s=0.3), MediaSettings(live_timeout_s=1.0), live=registry)
    interpreter, green_room = Listener(), Listener()
    try:
        got = await pair.connect()
        registry.register("mayor", got["video"], got["audio"])
        cue = mayor_cue(None)
        await media.prepare(programme(cue))
        assert media.floor_feed("s1") is None  # no programme running yet
        media.arm("s1", cue)
        await media.start("s1")
        floor_track = media.floor_feed("s1")
        feeds = media.return_feed("s1", minus="mayor")
        assert floor_track is not None and feeds is not None
        await interpreter.start(floor_track)
        await green_room.start(*feeds)
        began = time.time()
        await wait_frames(media, 5 * FPS)
        await media.stop("s1")
    finally:
        await interpreter.close()
        await green_room.close()
        await pair.close()
        await media.close()
    heard = np.concatenate([pcm for t, pcm in interpreter.frames if t > began + 2])
    assert dominant_hz(heard) == pytest.approx(440, abs=5)
    own = np.concatenate([pcm for t, pcm in green_room.frames if t > began + 2])
    assert np.sqrt(np.mean(own**2)) < 1e-3  # mix-minus: the mayor does not hear himself
    late = [f for t, f in green_room.pictures if t > began + 2]
    assert late and (late[-1].width, late[-1].height) == (320, 180)
    assert len(late) <= 5 * 3.5  # about 5 fps over the last ~3 s
