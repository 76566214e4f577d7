"""The media plane's parts on plain values: slates, sound routing and fades, cue queue, scaling,
clip decoding from an offset, probing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from av.video.frame import VideoFrame
from media_clips import dominant_hz, make_clip
from media_helpers import RED, T, clip_cue, is_colour, tone

from orchestrator.media import probe
from orchestrator.media.audio import FADE_SAMPLES, LanguageMix, Silence, Tone, crossfade, feed_input
from orchestrator.media.clip import ClipReader, check_clip
from orchestrator.media.frames import AudioBuffer, Fitter, solid_yuv
from orchestrator.media.settings import MediaSettings
from orchestrator.media.slate import BACKGROUND, SlateRenderer, countdown_text
from orchestrator.media.switcher import CueQueue
from orchestrator.planning.cues import AudioKind, AudioSource, InterpretationFeed, Slate


def test_countdown_rounds_up_and_stops_at_zero() -> None:
    assert countdown_text(T, T - timedelta(seconds=0.2)) == "00:01"
    assert countdown_text(T, T - timedelta(minutes=9, seconds=59, milliseconds=1)) == "10:00"
    assert countdown_text(T, T - timedelta(hours=1, seconds=5)) == "1:00:05"
    assert countdown_text(T, T + timedelta(seconds=3)) == "00:00"


def test_slate_draws_korean_and_redraws_only_the_countdown() -> None:
    r = SlateRenderer(640, 360)
    slate = Slate("개회식 Opening", "서울 Seoul", "Please stand by", countdown_to=T)
    a = r.frame(slate, T - timedelta(seconds=65)).to_ndarray(format="rgb24").astype(int)
    again = r.frame(slate, T - timedelta(seconds=64.5))
    assert again is r.frame(slate, T - timedelta(seconds=64.2))  # same text: the cached frame
    b = r.frame(slate, T - timedelta(seconds=5)).to_ndarray(format="rgb24").astype(int)
    changed = np.argwhere(np.abs(a - b).sum(axis=2) > 30)[:, 0]
    assert changed.size and changed.min() >= int(360 * 0.68) - 2 and changed.max() < int(360 * 0.86) + 2
    title_rows = a[60:110]
    assert (np.abs(title_rows - BACKGROUND).sum(axis=2) > 200).sum() > 500  # the title is drawn
    # Hangul really rendered: a Korean-only title differs from an empty one.
    ko = r.frame(Slate("개회식"), T).to_ndarray(format="rgb24").astype(int)
    empty = r.frame(Slate(""), T).to_ndarray(format="rgb24").astype(int)
    assert np.abs(ko - empty).sum() > 10_000


def test_tone_is_continuous_across_reads() -> None:
    t = Tone(1000)
    joined = np.concatenate([t.read(1600), t.read(1600), t.read(333)], axis=1)
    ref = Tone(1000).read(3533)
    np.testing.assert_allclose(joined, ref, atol=1e-6)
    assert dominant_hz(joined[0]) == pytest.approx(1000, abs=15)


def test_a_switch_between_inputs_has_no_click() -> None:
    mix = LanguageMix("en")
    # 310 Hz ends the first frame a third of a cycle in, far from a zero crossing.
    mix.route(tone(310), lambda src, lang: feed_input(src.feed, "test"))
    before = mix.mix(1600, np.zeros((2, 1600), np.float32), None)
    mix.route(tone(1500, booth="booth-2"), lambda src, lang: feed_input(src.feed, "test"))
    after = mix.mix(1600, np.zeros((2, 1600), np.float32), None)
    signal = np.concatenate([before[0], after[0]])
    # A 1500 Hz tone at 0.2 moves at most 0.04 per sample; a hard cut would jump up to 0.4.
    assert np.abs(np.diff(signal)).max() < 0.05
    assert dominant_hz(after[0][FADE_SAMPLES:]) == pytest.approx(1500, abs=30)


def test_floor_follows_the_picture_with_a_fade() -> None:
    mix = LanguageMix("ko")
    old = np.full((2, 1600), 0.5, np.float32)
    new = np.full((2, 1600), -0.5, np.float32)
    out = mix.mix(1600, new, old)  # the picture changed on this frame
    assert out[0, 0] == pytest.approx(0.5) and out[0, FADE_SAMPLES] == pytest.approx(-0.5)
    assert np.abs(np.diff(out[0])).max() < 1.1 / FADE_SAMPLES
    assert mix.mix(1600, new, None)[0, 0] == pytest.approx(-0.5)


def test_crossfade_is_identity_when_nothing_changes() -> None:
    x = Tone(440).read(1600)
    np.testing.assert_allclose(crossfade(x, x), x, atol=1e-6)


def test_same_route_again_keeps_the_input_running() -> None:
    mix = LanguageMix("en")
    made: list[AudioSource] = []

    def factory(src: AudioSource, lang: str) -> Tone:
        made.append(src)
        return Tone(src.feed.tone_hz if src.feed else 0)

    mix.route(tone(1000), factory)
    mix.route(tone(1000), factory)
    assert len(made) == 1


def test_feeds_that_cannot_play_are_silence(tmp_path: Path) -> None:
    assert isinstance(feed_input(InterpretationFeed("clip", clip_path=str(tmp_path / "none.wav")), "x"), Silence)
    assert isinstance(feed_input(None, "x"), Silence)
    assert isinstance(feed_input(InterpretationFeed("tone", tone_hz=440), "x"), Tone)
    assert AudioSource(AudioKind.SILENCE).feed is None


def test_cue_queue_takes_cues_once_in_time_order(tmp_path: Path) -> None:
    q = CueQueue()
    a = clip_cue("a", T, tmp_path / "a.mp4", {})
    b = clip_cue("b", T + timedelta(seconds=1), tmp_path / "b.mp4", {})
    b_moved = clip_cue("b", T + timedelta(seconds=2), tmp_path / "b.mp4", {})
    assert q.arm(b) and q.arm(a) and q.arm(b_moved)  # re-arming replaces
    assert q.due(T - timedelta(milliseconds=1)) == []
    assert [c.id for c in q.upcoming(T + timedelta(seconds=5))] == ["a", "b"]
    assert q.due(T + timedelta(seconds=1)) == [a]  # b moved to T+2
    assert q.due(T + timedelta(seconds=3)) == [b_moved]
    assert not q.arm(a)  # taken cues are never replayed


def test_fitter_letterboxes_other_aspect_ratios() -> None:
    fit = Fitter(640, 360)
    src = VideoFrame.from_ndarray(np.full((240, 320, 3), RED, np.uint8), format="rgb24")
    out = fit.fit(src)
    assert (out.width, out.height, out.format.name) == (640, 360, "yuv420p")
    rgb = out.to_ndarray(format="rgb24")
    assert rgb[:, :70].max() < 30 and rgb[:, -70:].max() < 30  # black pillars
    assert is_colour(tuple(rgb[180, 320].astype(float)), RED)
    same = VideoFrame.from_ndarray(solid_yuv(1280, 720, (0, 0, 255)), format="yuv420p")
    assert fit.fit(same).width == 640


def test_audio_buffer_pads_with_silence() -> None:
    buf = AudioBuffer()
    buf.push(np.ones((2, 1000), np.float32))
    buf.push(np.ones((2, 500), np.float32) * 2)
    first = buf.pop(1200)
    assert first[0, 999] == 1 and first[0, 1000] == 2 and len(buf) == 300
    rest = buf.pop(400)
    assert rest[0, 299] == 2 and rest[0, 300] == 0 and len(buf) == 0


def test_clip_reader_starts_at_the_offset(tmp_path: Path) -> None:
    # 4 s of red at 25 fps with a 300 Hz tone at 44.1 kHz.
    path = tmp_path / "two.mp4"
    make_clip(path, rgb=RED, seconds=4, tone_hz=300)
    reader = ClipReader(str(path), Fitter(640, 360), offset_s=2.5)
    try:
        frame = reader.video_at(2.5)
        assert frame is not None and (frame.width, frame.height) == (640, 360)
        sound = reader.read_audio(48_000)
        assert dominant_hz(sound[0]) == pytest.approx(300, abs=5)
        assert not reader.video_ended(3.9, 1 / 30)
        assert reader.video_at(10.0) is not None and reader.video_ended(10.0, 1 / 30)
        # 1.5 s were left after the offset: one second read, then half a second, then silence.
        rest = reader.read_audio(48_000)
        assert np.abs(rest[0, :20_000]).max() > 0.1 and np.abs(rest[0, 30_000:]).max() < 1e-3
    finally:
        reader.close()


def test_check_clip_accepts_audio_only_files(tmp_path: Path) -> None:
    path = tmp_path / "speech.mp4"
    make_clip(path, rgb=RED, seconds=1, tone_hz=200)
    assert check_clip(str(path)) is None
    assert "does not exist" in (check_clip(str(tmp_path / "x.mp4")) or "")


def test_probe_describes_a_file(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "p.mp4", rgb=RED, seconds=2, tone_hz=440, fps=25, size=(320, 240))
    info = probe(str(path))
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert (info["width"], info["height"], info["fps"]) == (320, 240, 25)
    assert info["audio_sample_rate"] == 44_100 and info["audio_channels"] == 1
    assert info["duration_s"] == pytest.approx(2, abs=0.1)
    assert info["video_frames"] == 50 and info["keyframes"] >= 1


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMIT_MEDIA_WIDTH", "1280")
    monkeypatch.setenv("SUMMIT_MEDIA_HEIGHT", "720")
    monkeypatch.setenv("SUMMIT_MEDIA_PRESET", "ultrafast")
    s = MediaSettings()
    assert (s.width, s.height, s.preset, s.fps) == (1280, 720, "ultrafast", 30)


def test_settings_refuse_odd_renditions() -> None:
    with pytest.raises(ValueError, match="even"):
        MediaSettings(width=641)
    with pytest.raises(ValueError, match="fps"):
        MediaSettings(fps=29)
    s = MediaSettings(width=1280, height=720)
    assert (s.gop, s.samples_per_frame) == (60, 1600)
