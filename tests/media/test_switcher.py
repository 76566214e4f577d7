"""The switcher frame by frame: hand-made ticks, no thread, no sleeping, no encoder.

Frame n stands for wall W0 + n/30 and, on a live clock, shows event time T + n/30 s; the pictures
the switcher returns are read back pixel by pixel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from av.video.frame import VideoFrame
from media_clips import dominant_hz, rms
from media_helpers import BLUE, GREEN, RED, T, clip_cue, floor, is_colour, programme, slate_cue, standby, tone

from orchestrator.clock import ManualClock
from orchestrator.engine.ports import CueApplied
from orchestrator.media.frames import Fitter, silence, solid_yuv, yuv_planes
from orchestrator.media.settings import MediaSettings
from orchestrator.media.slate import SlateRenderer
from orchestrator.media.sources import LiveSources, Picture, Tick, VideoRuntime
from orchestrator.media.switcher import Composed, Switcher
from orchestrator.planning.cues import Cue, Slate, VideoKind, VideoSource

FPS = 30
W0 = T.timestamp()  # wall time of frame 0: on the live clock below, frame n shows T + n/30 s
SETTINGS = MediaSettings(width=640, height=360, fps=FPS, preroll_s=1.0)


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


class InlineExecutor(Executor):
    """Prerolls on the caller's thread, at once; remembers what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls.append(args)
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:
            fut.set_exception(exc)
        return fut


class Rig:
    """A switcher, the receipts it hands out, and the frames it made so far."""

    def __init__(self, *cues: Cue, live: LiveSources | None = None, settings: MediaSettings = SETTINGS) -> None:
        self.clock = ManualClock(T)
        self.pool = InlineExecutor()
        self.receipts: list[CueApplied] = []
        self.switcher = Switcher(
            programme(*cues), self.clock, settings, preroll=self.pool, on_cue=self.receipts.append, live=live
        )
        for cue in cues:
            assert self.switcher.arm(cue)
        self.frames: list[Composed] = []

    def tick(self, n: int) -> Tick:
        wall = W0 + n / FPS
        return Tick(n, wall, self.clock.to_event(wall), SETTINGS.samples_per_frame)

    def step(self) -> Composed:
        out = self.switcher.frame(self.tick(len(self.frames)))
        self.frames.append(out)
        return out

    def run_to(self, n: int) -> list[Composed]:
        """Make frames up to and including frame n."""
        while len(self.frames) <= n:
            self.step()
        return self.frames


@pytest.fixture
def rig() -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(*cues: Cue, **kwargs: Any) -> Rig:
        made.append(Rig(*cues, **kwargs))
        return made[-1]

    yield make
    for r in made:
        r.switcher.close()


def centre(frame: VideoFrame) -> tuple[float, float, float]:
    """Mean RGB of the middle of a picture (pillar-boxed clips leave their sides black)."""
    img = frame.to_ndarray(format="rgb24")
    h, w = img.shape[:2]
    rgb = img[h // 4 : 3 * h // 4 : 4, w // 4 : 3 * w // 4 : 4].reshape(-1, 3).mean(axis=0)
    return float(rgb[0]), float(rgb[1]), float(rgb[2])


def centre_v(frame: VideoFrame) -> float:
    """Mean V (red-difference chroma) of the middle of a yuv420p picture, as the switcher mixes it."""
    _, _, v = yuv_planes(frame.to_ndarray(), frame.height)
    h, w = v.shape
    return float(v[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].mean())


_renderer = SlateRenderer(SETTINGS.width, SETTINGS.height)


def is_slate(frame: VideoFrame, slate: Slate, event: datetime) -> bool:
    return np.array_equal(frame.to_ndarray(), _renderer.frame(slate, event).to_ndarray())


# -- cuts and receipts ---------------------------------------------------------------------------


def test_standby_until_the_first_cue_then_a_cut_on_the_first_frame_at_or_after_it(
    rig: Callable[..., Rig], red_clip: Path, blue_clip: Path
) -> None:
    c1 = clip_cue("c1", at(0.51), red_clip, {"ko": floor(), "en": floor()})  # between frames 15 and 16
    c2 = clip_cue("c2", at(1.0), blue_clip, {"ko": floor(), "en": floor()})  # exactly frame 30
    r = rig(c1, c2)
    frames = r.run_to(40)
    for n in range(16):
        assert is_slate(frames[n].video, standby(), r.tick(n).event), n
    assert all(is_colour(centre(frames[n].video), RED) for n in range(16, 30))
    assert all(is_colour(centre(frames[n].video), BLUE) for n in range(30, 41))
    assert (frames[30].video.width, frames[30].video.height) == (640, 360)
    assert r.switcher.showing == f"clip {blue_clip}"
    assert not r.switcher.arm(c1)  # a cue taken is never replayed


def test_receipts_name_the_frame_that_applied_each_cue(rig: Callable[..., Rig], red_clip: Path) -> None:
    c1 = clip_cue("c1", at(0.51), red_clip, {"ko": floor(), "en": floor()})
    c2 = slate_cue("c2", at(1.0))
    r = rig(c2, c1)  # armed out of order
    seen: list[int] = []
    for _ in range(40):
        r.step()
        seen.append(len(r.receipts))
    assert seen[15] == 0 and seen[16] == 1 and seen[29] == 1 and seen[30] == 2  # handed out on their frame
    assert [(a.cue_id, a.frame_index, a.fallback) for a in r.receipts] == [("c1", 16, None), ("c2", 30, None)]
    for a, cue in zip(r.receipts, (c1, c2), strict=True):
        tick = r.tick(a.frame_index)
        assert (a.session_id, a.scheduled, a.applied, a.applied_wall) == ("s1", cue.at, tick.event, tick.wall)
        assert r.tick(a.frame_index - 1).event < cue.at <= a.applied
    assert is_slate(r.frames[30].video, Slate("Break", note="Back soon"), r.tick(30).event)


def test_two_cues_due_on_the_same_frame_show_the_newest(
    rig: Callable[..., Rig], red_clip: Path, blue_clip: Path
) -> None:
    early = clip_cue("early", at(0.51), red_clip, {"ko": floor(), "en": floor()})
    late = clip_cue("late", at(0.52), blue_clip, {"ko": floor(), "en": floor()})  # both due on frame 16
    r = rig(early, late)
    frames = r.run_to(20)
    assert [(a.cue_id, a.frame_index, a.fallback) for a in r.receipts] == [
        ("early", 16, "superseded by cue late due on the same frame"),
        ("late", 16, None),
    ]
    assert not is_colour(centre(frames[15].video), RED) and not is_colour(centre(frames[15].video), BLUE)
    assert all(is_colour(centre(frames[n].video), BLUE) for n in range(16, 21))  # red never shown
    assert r.switcher.fallbacks == []


def test_a_studio_cue_without_a_feed_url_shows_its_card(rig: Callable[..., Rig]) -> None:
    card = Slate("Studio Seoul", "Hall A", "Live from the hall")
    cue = Cue("s", at(0.2), "seg-s", "studio", VideoSource(VideoKind.STUDIO, slate=card), {"ko": floor()})
    live = _Registry()
    r = rig(cue, live=live)
    frames = r.run_to(10)
    assert is_slate(frames[5].video, standby(), r.tick(5).event)
    assert all(is_slate(frames[n].video, card, r.tick(n).event) for n in range(6, 11))
    assert [(a.cue_id, a.frame_index, a.fallback) for a in r.receipts] == [("s", 6, None)]
    assert r.switcher.fallbacks == []
    assert live.warmed == [cue.video]  # warmed once, as soon as it came within the preroll horizon
    assert live.asked == []  # no URL: no live feed wanted


# -- fades -------------------------------------------------------------------------------------


def test_a_fade_dissolves_over_its_frames(rig: Callable[..., Rig], red_clip: Path, blue_clip: Path) -> None:
    c1 = clip_cue("c1", T, red_clip, {"ko": floor()})
    c2 = replace(clip_cue("c2", at(1.0), blue_clip, {"ko": floor()}), fade_s=0.5)  # 15 frames, from frame 30
    r = rig(c1, c2)
    frames = r.run_to(50)
    assert [a.frame_index for a in r.receipts] == [0, 30]
    red_v, blue_v = centre_v(frames[29].video), centre_v(frames[45].video)
    assert is_colour(centre(frames[29].video), RED) and is_colour(centre(frames[45].video), BLUE)
    # Frame 30 + k shows (k + 1) / 16 of the incoming picture; frame 45 shows it alone.
    mix = [(centre_v(frames[30 + k].video) - red_v) / (blue_v - red_v) for k in range(16)]
    assert mix == pytest.approx([(k + 1) / 16 for k in range(15)] + [1.0], abs=0.02)
    assert all(centre_v(frames[n].video) == pytest.approx(blue_v, abs=1) for n in range(45, 51))


# -- fallbacks ---------------------------------------------------------------------------------


def test_a_missing_clip_shows_standby_on_its_frame_and_says_so(rig: Callable[..., Rig], tmp_path: Path) -> None:
    cue = clip_cue("c1", at(1.0), tmp_path / "missing.mp4", {"ko": floor(), "en": floor()})
    r = rig(cue)
    frames = r.run_to(32)
    assert r.pool.calls == [(str(tmp_path / "missing.mp4"), 0.0)]  # the preroll was tried, and failed
    assert all(is_slate(frames[n].video, standby(), r.tick(n).event) for n in range(30, 33))
    (applied,) = r.receipts
    assert applied.frame_index == 30
    assert applied.fallback is not None and "missing.mp4" in applied.fallback
    assert applied.fallback.endswith("→ slate '개회식 Opening Ceremony'")
    assert r.switcher.fallbacks == [applied.fallback]


def test_a_missing_clip_plays_its_backup_at_the_backup_offset(
    rig: Callable[..., Rig], tmp_path: Path, blue_then_red: Path
) -> None:
    backup = VideoSource(VideoKind.CLIP, clip_path=str(blue_then_red), clip_offset_s=1.5)
    video = VideoSource(VideoKind.CLIP, clip_path=str(tmp_path / "missing.mp4"), backup=backup)
    cue = Cue("c1", at(1.0), "seg-c1", "talk", video, {"ko": floor(), "en": floor()})
    r = rig(cue)
    frames = r.run_to(35)
    assert all(is_colour(centre(frames[n].video), RED) for n in range(30, 36))  # 1.5 s in: red, not blue
    (applied,) = r.receipts
    assert applied.frame_index == 30 and applied.fallback is not None
    assert "missing.mp4" in applied.fallback and applied.fallback.endswith(f"→ clip {blue_then_red}")
    assert r.switcher.fallbacks == [applied.fallback]


def test_a_clip_that_ends_is_replaced_by_its_backup_at_the_matching_offset(
    rig: Callable[..., Rig], short_clip: Path, blue_then_red: Path
) -> None:
    backup = VideoSource(VideoKind.CLIP, clip_path=str(blue_then_red), clip_offset_s=0.5)
    video = VideoSource(VideoKind.CLIP, clip_path=str(short_clip), backup=backup)
    cue = Cue("c1", at(1.0), "seg-c1", "talk", video, {"ko": floor(), "en": floor()})
    r = rig(cue)
    frames = r.run_to(65)
    # The 1 s clip fills 30 programme frames; on the next one the backup takes over 1 s after the
    # cue, so 0.5 + 1.0 s into the backup (red; without the time since the cue it would be blue).
    assert all(is_colour(centre(frames[n].video), GREEN) for n in range(30, 60))
    assert all(is_colour(centre(frames[n].video), RED) for n in range(60, 66))
    assert [a.fallback for a in r.receipts] == [None]
    (record,) = r.switcher.fallbacks
    assert "ended" in record and record.endswith(f"→ clip {blue_then_red}")


def test_a_clip_that_ends_without_a_backup_falls_back_to_standby(rig: Callable[..., Rig], short_clip: Path) -> None:
    r = rig(clip_cue("c1", T, short_clip, {"ko": floor(), "en": floor()}))
    frames = r.run_to(32)
    assert is_colour(centre(frames[29].video), GREEN)
    assert all(is_slate(frames[n].video, standby(), r.tick(n).event) for n in (30, 31, 32))
    (record,) = r.switcher.fallbacks
    assert record.startswith(f"clip {short_clip}: it ended at 1.00 s") and record.endswith("Opening Ceremony'")


class _Feed:
    """A live speaker the test switches on and off (a `Recoverable` source)."""

    name = "remote speaker-1"

    def __init__(self) -> None:
        self.failure: str | None = None
        self.delivering = True
        self.stable = False  # what `recovered()` says
        self.closed = 0
        self._green = VideoFrame.from_ndarray(solid_yuv(640, 360, GREEN), format="yuv420p")

    def render(self, tick: Tick) -> Picture | None:
        if not self.delivering:
            self.failure = "no picture for 0.60 s"
            return None
        return Picture(self._green, silence(tick.samples))

    def recovered(self) -> bool:
        return self.stable

    def close(self) -> None:
        self.closed += 1


class _Registry(LiveSources):
    def __init__(self, feed: VideoRuntime | None = None) -> None:
        self.feed = feed
        self.warmed: list[VideoSource] = []
        self.asked: list[VideoSource] = []

    def warm(self, source: VideoSource) -> None:
        self.warmed.append(source)

    def video(self, source: VideoSource, settings: MediaSettings, fitter: Fitter) -> VideoRuntime | None:
        self.asked.append(source)
        return self.feed


def test_a_live_source_that_stops_shows_its_slate_and_is_cut_back_to_once_stable(rig: Callable[..., Rig]) -> None:
    feed = _Feed()
    card = Slate("Dr Kim", note="Reconnecting")
    video = VideoSource(VideoKind.REMOTE, slate=card, speaker_id="speaker-1")
    r = rig(Cue("c1", T, "seg-c1", "talk", video, {"ko": floor()}), live=_Registry(feed))
    frames = r.run_to(9)
    assert all(is_colour(centre(f.video), GREEN) for f in frames)
    feed.delivering = False
    r.run_to(19)
    assert all(is_slate(frames[n].video, card, r.tick(n).event) for n in range(10, 20))  # from the very frame
    assert r.switcher.fallbacks == ["remote speaker-1: no picture for 0.60 s → slate 'Dr Kim'"]
    feed.delivering = True  # pictures again, but not yet for long enough
    r.run_to(24)
    assert is_slate(frames[24].video, card, r.tick(24).event)
    feed.stable = True
    r.run_to(30)
    assert all(is_colour(centre(frames[n].video), GREEN) for n in range(25, 31))
    assert r.switcher.showing == feed.name and feed.closed == 0  # watched, never closed
    assert [a.fallback for a in r.receipts] == [None] and len(r.switcher.fallbacks) == 1
    r.switcher.close()
    assert feed.closed == 1


def test_a_remote_cue_with_no_live_feed_shows_its_backup(rig: Callable[..., Rig], blue_then_red: Path) -> None:
    backup = VideoSource(VideoKind.CLIP, clip_path=str(blue_then_red))
    video = VideoSource(VideoKind.REMOTE, slate=Slate("Dr Kim"), speaker_id="speaker-1", backup=backup)
    r = rig(Cue("c1", at(0.1), "seg-c1", "talk", video, {"ko": floor()}))  # no LiveSources: no feed at all
    frames = r.run_to(5)
    assert is_colour(centre(frames[3].video), BLUE)
    (applied,) = r.receipts
    assert applied.frame_index == 3
    assert applied.fallback == f"remote speaker-1: no live feed is configured → clip {blue_then_red}"


class _Exploding:
    name = "exploding feed"
    failure = None

    def render(self, tick: Tick) -> Picture | None:
        raise RuntimeError("decoder exploded")

    def close(self) -> None:
        pass


def test_a_source_that_raises_shows_standby_on_that_frame(rig: Callable[..., Rig]) -> None:
    video = VideoSource(VideoKind.REMOTE, slate=Slate("Dr Kim"), speaker_id="x")
    r = rig(Cue("c1", at(0.1), "seg-c1", "talk", video, {"ko": floor()}), live=_Registry(_Exploding()))
    frames = r.run_to(6)
    assert all(is_slate(frames[n].video, standby(), r.tick(n).event) for n in range(7))
    assert r.switcher.fallbacks == [
        "frame 3 failed (RuntimeError('decoder exploded')) → slate '개회식 Opening Ceremony'"
    ]
    assert all(rms(f.sounds["ko"][0]) == 0 for f in frames)


# -- preroll -----------------------------------------------------------------------------------


def test_clips_are_prerolled_ahead_of_their_cue(rig: Callable[..., Rig], red_clip: Path) -> None:
    cue = clip_cue("c1", at(2.0), red_clip, {"ko": floor(), "en": floor()})  # frame 60; preroll_s = 1
    r = rig(cue)
    r.run_to(29)
    assert r.pool.calls == []
    r.step()  # frame 30: its wall time + 1 s reaches the cue
    assert r.pool.calls == [(str(red_clip), 0.0)]
    frames = r.run_to(61)
    assert r.pool.calls == [(str(red_clip), 0.0)]  # opened once, ahead, and that reader is played
    assert not is_colour(centre(frames[59].video), RED) and is_colour(centre(frames[60].video), RED)


# -- sound -------------------------------------------------------------------------------------


def test_each_language_gets_its_own_sound(rig: Callable[..., Rig], red_clip: Path) -> None:
    cue = clip_cue("c1", at(0.5), red_clip, {"ko": floor(), "en": tone(1000)})  # frame 15; the clip is 300 Hz
    r = rig(cue)
    frames = r.run_to(60)
    assert all(set(f.sounds) == {"ko", "en"} for f in frames)
    assert all(f.sounds["ko"].shape == (2, 1600) and f.sounds["ko"].dtype == np.float32 for f in frames)
    before = np.concatenate([f.sounds[lang][0] for f in frames[:15] for lang in ("ko", "en")])
    assert rms(before) == 0  # the stand-by slate is silent
    ko = np.concatenate([f.sounds["ko"][0] for f in frames[20:60]])
    en = np.concatenate([f.sounds["en"][0] for f in frames[20:60]])
    assert dominant_hz(ko) == pytest.approx(300, abs=5)
    assert dominant_hz(en) == pytest.approx(1000, abs=5)
    # The change is a 5 ms crossfade from silence on the cue's frame, not a step.
    first = frames[15].sounds["en"][0]
    assert np.abs(first[:24]).max() < np.abs(first[240:480]).max()
