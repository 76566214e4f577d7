"""Live speakers and booths, frame by frame on a fake clock: drop detection by the picture, the
backup at its offset, the return once stable, routes per language, ducking, the silence alarm."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from media_clips import dominant_hz, rms
from media_helpers import GREEN, RED, T, floor, is_colour, programme, tone
from test_switcher import W0, InlineExecutor, centre

from orchestrator.clock import ManualClock
from orchestrator.engine.events import FallbackChanged, RouteChanged, RunEvent
from orchestrator.engine.ports import CueApplied
from orchestrator.media.audio import AudioInput, Tone
from orchestrator.media.frames import Audio, Fitter, silence, solid_yuv
from orchestrator.media.live import LiveFeed, LiveRuntime
from orchestrator.media.settings import MediaSettings
from orchestrator.media.slate import LowerThird
from orchestrator.media.sources import LiveSources, Tick
from orchestrator.media.switcher import Composed, Switcher
from orchestrator.planning.cues import AudioSource, Cue, Slate, VideoKind, VideoSource

FPS = 30
SETTINGS = MediaSettings(width=640, height=360, fps=FPS, preroll_s=1.0)
CARD = Slate("Mayor Jane Doe", "Mayor, Lyon")


class Alerts:
    def __init__(self) -> None:
        self.raised: list[tuple[str, str, str | None]] = []

    def alert(self, level: str, message: str, *, session: str | None = None, destination: str | None = None) -> None:
        self.raised.append((level, message, session))


class SwitchableBooth:
    """An interpreter's channel the test mutes and unmutes (a watched input)."""

    watched = True

    def __init__(self, hz: float) -> None:
        self.speaking = True
        self._tone = Tone(hz)

    def read(self, samples: int) -> Audio:
        out = self._tone.read(samples)
        return out if self.speaking else silence(samples)

    def close(self) -> None:
        pass


class Live(LiveSources):
    """One remote speaker fed by the test through a real `LiveFeed` on the test's clock, and
    booths the test controls."""

    def __init__(self, settings: MediaSettings, now: list[float]) -> None:
        self.feed = LiveFeed("remote mayor", now=lambda: now[0], gap_s=settings.live_timeout_s)
        self.booths: dict[str, SwitchableBooth] = {}

    def video(self, source: VideoSource, settings: MediaSettings, fitter: Fitter) -> LiveRuntime | None:
        caption = LowerThird(settings.width, settings.height, CARD.title, CARD.subtitle)
        return LiveRuntime(self.feed, fitter, settings.live_timeout_s, settings.live_return_s, caption)

    def booth(self, source: AudioSource, language: str, fallback: AudioInput) -> AudioInput:
        assert source.booth_id is not None
        return self.booths.setdefault(source.booth_id, SwitchableBooth(1000))


class LiveRig:
    def __init__(self, cue: Cue, settings: MediaSettings = SETTINGS) -> None:
        self.now = [W0]
        self.live = Live(settings, self.now)
        self.events: list[RunEvent] = []
        self.alerts = Alerts()
        self.receipts: list[CueApplied] = []
        self.settings = settings
        self.switcher = Switcher(
            programme(cue),
            ManualClock(T),
            settings,
            preroll=InlineExecutor(),
            on_cue=self.receipts.append,
            live=self.live,
            publish=self.events.append,
            notifier=self.alerts,
        )
        self.switcher.arm(cue)
        self.frames: list[Composed] = []
        self.sending = True
        self.voice_hz = 300.0
        self._green = VideoFrame.from_ndarray(solid_yuv(320, 180, GREEN), format="yuv420p")
        self._n_audio = 0

    def _send(self) -> None:
        """What the speaker's peer delivers during one frame: a picture, and 1/30 s of voice."""
        self.live.feed.put_video(self._green)
        t = np.arange(self._n_audio, self._n_audio + 1600) / 48_000
        self._n_audio += 1600
        wave = (0.3 * np.sin(2 * np.pi * self.voice_hz * t) * 32767).astype(np.int16)
        frame = AudioFrame.from_ndarray(np.stack([wave, wave]).T.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, self._n_audio, Fraction(1, 48_000)
        self.live.feed.put_audio(frame)

    def step(self) -> Composed:
        n = len(self.frames)
        wall = W0 + n / FPS
        self.now[0] = wall
        if self.sending:
            self._send()
        out = self.switcher.frame(Tick(n, wall, ManualClock(T).to_event(wall), SETTINGS.samples_per_frame))
        self.frames.append(out)
        return out

    def run_to(self, n: int) -> list[Composed]:
        while len(self.frames) <= n:
            self.step()
        return self.frames

    def fallbacks(self) -> list[FallbackChanged]:
        return [e for e in self.events if isinstance(e, FallbackChanged)]

    def routes(self) -> list[RouteChanged]:
        return [e for e in self.events if isinstance(e, RouteChanged)]


@pytest.fixture
def rigs() -> Iterator[list[LiveRig]]:
    made: list[LiveRig] = []
    yield made
    for r in made:
        r.switcher.close()


def remote_cue(backup: Path | None = None, **video: object) -> Cue:
    source = VideoSource(
        VideoKind.REMOTE,
        slate=CARD,
        speaker_id="mayor",
        backup=VideoSource(VideoKind.CLIP, clip_path=str(backup)) if backup else None,
    )
    return Cue("c1", T, "seg-c1", "talk", replace(source, **video), {"ko": floor(), "en": tone(1000)}, "ko")


def test_the_speaker_is_on_air_on_the_cue_frame_scaled_with_a_lower_third(rigs: list[LiveRig]) -> None:
    rigs.append(r := LiveRig(remote_cue()))
    frames = r.run_to(3)
    assert r.receipts[0].frame_index == 0 and r.receipts[0].fallback is None
    picture = frames[0].video
    assert (picture.width, picture.height) == (640, 360)  # the 320x180 camera, scaled to the rendition
    assert is_colour(centre(picture), GREEN)
    band = picture.to_ndarray(format="rgb24")[300:340, 60:200].reshape(-1, 3).mean(axis=0)
    assert not is_colour((float(band[0]), float(band[1]), float(band[2])), GREEN)  # the caption covers it
    ko = np.concatenate([f.sounds["ko"][0] for f in r.run_to(30)[10:30]])
    assert dominant_hz(ko) == pytest.approx(300, abs=5)  # the speaker's voice is the Korean floor
    assert r.switcher.floor_speaker == "mayor"


def test_a_drop_shows_the_backup_at_its_offset_within_300_ms_and_the_speaker_returns_after_2_s(
    rigs: list[LiveRig], blue_then_red: Path
) -> None:
    rigs.append(r := LiveRig(remote_cue(blue_then_red)))
    r.run_to(29)
    r.sending = False  # the peer stops sending at frame 30, no goodbye
    frames = r.run_to(60)
    first_fallback = next(n for n in range(30, 61) if not is_colour(centre(frames[n].video), GREEN))
    # The last picture came with frame 29; 0.3 s later (9 frames) it is too old.
    assert first_fallback - 30 <= 10
    assert is_colour(centre(frames[first_fallback].video), RED)  # backup at ~1.3 s: past its blue second
    (lost,) = r.fallbacks()
    assert lost.active and lost.person == "mayor" and lost.shown == "backup" and "no picture for" in (lost.reason or "")
    r.sending = True
    frames = r.run_to(200)
    back = next(n for n in range(61, 201) if is_colour(centre(frames[n].video), GREEN))
    assert 61 + 2 * FPS - 2 <= back <= 61 + 2 * FPS + 2  # stable for live_return_s (2 s), then cut back
    lost, returned = r.fallbacks()
    assert not returned.active and returned.frames == back - first_fallback


def test_return_to_live_can_be_turned_off_per_segment(rigs: list[LiveRig], blue_then_red: Path) -> None:
    rigs.append(r := LiveRig(remote_cue(blue_then_red, return_to_live=False)))
    r.run_to(9)
    r.sending = False
    r.run_to(30)
    r.sending = True
    frames = r.run_to(120)
    assert not any(is_colour(centre(f.video), GREEN) for f in frames[30:])
    assert [e.active for e in r.fallbacks()] == [True]


def test_a_shorter_timeout_and_return_time_are_honoured(rigs: list[LiveRig]) -> None:
    settings = SETTINGS.model_copy(update={"live_timeout_s": 0.1, "live_return_s": 0.5})
    rigs.append(r := LiveRig(remote_cue(), settings))
    r.run_to(29)
    r.sending = False
    frames = r.run_to(45)
    first = next(n for n in range(30, 46) if not is_colour(centre(frames[n].video), GREEN))
    assert first - 30 <= 4
    assert r.fallbacks()[0].shown == "slate"
    r.sending = True
    frames = r.run_to(80)
    back = next(n for n in range(46, 81) if is_colour(centre(frames[n].video), GREEN))
    assert 46 + 15 - 2 <= back <= 46 + 15 + 2


# -- routes ---------------------------------------------------------------------------------------


def test_each_language_follows_the_schedule_and_the_operator_overrides_it(rigs: list[LiveRig]) -> None:
    rigs.append(r := LiveRig(remote_cue()))
    frames = r.run_to(20)
    en = np.concatenate([f.sounds["en"][0] for f in frames[5:20]])
    assert dominant_hz(en) == pytest.approx(1000, abs=5)  # the booth interprets into English
    assert [(e.language, e.source, e.reason) for e in r.routes()] == [("en", "booth-1", "schedule")]
    r.switcher.route("en", "floor")
    frames = r.run_to(40)
    assert dominant_hz(np.concatenate([f.sounds["en"][0] for f in frames[25:40]])) == pytest.approx(300, abs=5)
    r.switcher.route("en", "auto")
    frames = r.run_to(60)
    assert dominant_hz(np.concatenate([f.sounds["en"][0] for f in frames[45:60]])) == pytest.approx(1000, abs=5)
    assert [(e.source, e.reason) for e in r.routes()[1:]] == [("floor", "operator"), ("booth-1", "schedule")]
    with pytest.raises(ValueError, match="neither auto, floor nor one of its booths"):
        r.switcher.route("en", "booth-9")
    with pytest.raises(ValueError, match="no 'fr' programme"):
        r.switcher.route("fr", "floor")


def test_the_floor_under_an_interpretation_is_muted_or_ducked(rigs: list[LiveRig]) -> None:
    rigs.append(muted := LiveRig(remote_cue()))
    rigs.append(ducked := LiveRig(remote_cue(), SETTINGS.model_copy(update={"floor_duck_db": -20.0})))
    for r in (muted, ducked):
        r.run_to(40)
    en_muted = np.concatenate([f.sounds["en"][0] for f in muted.frames[10:40]])
    en_ducked = np.concatenate([f.sounds["en"][0] for f in ducked.frames[10:40]])
    floor_part = en_ducked - en_muted  # the same booth tone in both: what is left is the floor
    ko = np.concatenate([f.sounds["ko"][0] for f in ducked.frames[10:40]])
    assert rms(floor_part) == pytest.approx(rms(ko) * 0.1, rel=0.05)  # −20 dB
    assert dominant_hz(floor_part) == pytest.approx(300, abs=5)


def test_a_silent_booth_raises_the_alarm_within_2_s_applies_its_policy_and_recovers(rigs: list[LiveRig]) -> None:
    settings = SETTINGS.model_copy(update={"silence_policy_s": 3.0})
    cue = remote_cue()
    cue = replace(cue, audio={"ko": floor(), "en": replace(tone(1000), on_silence="floor")})
    rigs.append(r := LiveRig(cue, settings))
    r.run_to(29)
    r.live.booths["booth-1"].speaking = False  # the interpreter stops at frame 30 while the mayor speaks
    r.run_to(29 + 2 * FPS)
    (alarm,) = [e for e in r.routes() if e.silent]
    assert alarm.language == "en" and alarm.source == "booth-1" and alarm.reason == "silence"
    ((level, message, session),) = r.alerts.raised
    assert level == "warning" and session == "s1" and "booth booth-1 (en) is silent" in message
    frames = r.run_to(30 + 4 * FPS)
    policy = [e for e in r.routes() if e.source == "floor" and e.reason == "silence"]
    assert len(policy) == 1
    en = np.concatenate([f.sounds["en"][0] for f in frames[-20:]])
    assert dominant_hz(en) == pytest.approx(300, abs=5)  # the floor, as the booth's policy says
    r.live.booths["booth-1"].speaking = True
    frames = r.run_to(30 + 6 * FPS)
    assert r.routes()[-1].reason == "recovered" and not r.routes()[-1].silent
    assert dominant_hz(np.concatenate([f.sounds["en"][0] for f in frames[-20:]])) == pytest.approx(1000, abs=5)


def test_no_alarm_while_nobody_speaks_on_the_floor(rigs: list[LiveRig]) -> None:
    rigs.append(r := LiveRig(remote_cue()))
    r.voice_hz = 0.0  # the speaker's line carries digital silence
    r.live.booths.setdefault("booth-1", SwitchableBooth(1000)).speaking = False
    r.run_to(5 * FPS)
    assert r.alerts.raised == [] and not any(e.silent for e in r.routes())


def test_a_scheduled_silence_feed_is_not_watched() -> None:
    from orchestrator.media.audio import Silence

    assert not Silence().watched and Tone(440).watched
