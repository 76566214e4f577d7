"""The programme end to end on files: two language programmes, clips, slates, tones, cuts on the
frame, read back with PyAV."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from media_clips import dominant_hz, rms
from media_helpers import (
    BLUE,
    RED,
    T,
    audio_window,
    clip_cue,
    compressed_clock,
    decode,
    floor,
    is_colour,
    programme,
    slate_cue,
    tone,
)

from orchestrator.clock import Clock
from orchestrator.engine.ports import CueApplied, IngestTarget, OutputSpec
from orchestrator.media import AvMediaPlane, MediaSettings, UnknownSession, probe
from orchestrator.media.programme import LiveSources
from orchestrator.planning.cues import Cue, VideoKind, VideoSource

FPS = 30


def file_output(tmp: Path, dest: str, lang: str, session: str = "s1") -> OutputSpec:
    return OutputSpec(dest, session, lang, "file", IngestTarget(str(tmp / "out" / f"{dest}.flv")))


async def run_until(media: AvMediaPlane, session: str, frames: int) -> None:
    """Wait until the session's programme has made `frames` frames (however long that takes on
    a busy machine); fails if the programme fails or stops first."""
    pipeline = media.programme(session)
    while pipeline.stats.frames < frames:
        assert pipeline.error is None, pipeline.error
        assert pipeline.running, f"the programme stopped after {pipeline.stats.frames} of {frames} frames"
        await asyncio.sleep(0.02)


def first_frame_at_or_after(clock: Clock, t0: float, at) -> int:  # type: ignore[no-untyped-def]
    """The frame index the switcher must cut on, computed from the clock alone."""
    n = 0
    while clock.to_event(t0 + n / FPS) < at:
        n += 1
    return n


async def test_two_language_programmes_cut_on_the_frame(tmp_path: Path, red_clip: Path, blue_clip: Path) -> None:
    # A rehearsal at 60×: T happens one wall second after the start; segments last 2–2.5 wall s.
    clock = compressed_clock(speed=60, lead_s=1.0)
    c1 = clip_cue("c1", T, red_clip, {"ko": floor(), "en": tone(1000)}, spoken="ko")
    c2 = clip_cue("c2", T + timedelta(seconds=150), blue_clip, {"ko": tone(1500), "en": floor()}, spoken="en")
    c3 = slate_cue("c3", T + timedelta(seconds=270))
    media = AvMediaPlane(clock, MediaSettings(pacing="asap"))
    assert await media.prepare(programme(c1, c2, c3)) == []
    for cue in (c1, c2, c3):
        media.arm("s1", cue)
    await media.attach_output(file_output(tmp_path, "ko-file", "ko"))
    await media.attach_output(file_output(tmp_path, "en-file", "en"))
    await media.start("s1")
    t0 = media.programme("s1").t0
    cut3 = first_frame_at_or_after(clock, t0, c3.at)
    await run_until(media, "s1", cut3 + 45)
    reports = await media.stop("s1")
    await media.close()

    applied = {a.cue_id: a for a in media.applied_cues()}
    assert set(applied) == {"c1", "c2", "c3"}
    cuts = {cue.id: first_frame_at_or_after(clock, t0, cue.at) for cue in (c1, c2, c3)}
    for cue in (c1, c2, c3):
        a: CueApplied = applied[cue.id]
        assert a.frame_index == cuts[cue.id], cue.id
        assert a.applied >= cue.at > clock.to_event(a.applied_wall - 1 / FPS)
        assert a.fallback is None

    assert all(not r.errors for r in reports), reports
    for dest in ("ko-file", "en-file"):
        info = probe(str(tmp_path / "out" / f"{dest}.flv"))
        assert (info["video_codec"], info["audio_codec"]) == ("h264", "aac")
        assert (info["width"], info["height"]) == (640, 360)
        assert info["fps"] == pytest.approx(30, abs=0.05)
        assert set(info["keyframe_intervals"]) == {60}  # a keyframe every 2 s, and nothing else
        assert info["monotonic"]
        assert (info["audio_sample_rate"], info["audio_channels"], info["audio_profile"]) == (48_000, 2, "LC")

    ko = decode(tmp_path / "out" / "ko-file.flv")
    en = decode(tmp_path / "out" / "en-file.flv")
    assert ko.colours[0:3] == en.colours[0:3]  # one picture for both languages
    for d in (ko, en):
        assert not is_colour(d.colours[cuts["c1"] - 1], RED) and is_colour(d.colours[cuts["c1"]], RED)
        assert is_colour(d.colours[cuts["c2"] - 1], RED) and is_colour(d.colours[cuts["c2"]], BLUE)
        assert is_colour(d.colours[cuts["c3"] - 1], BLUE) and not is_colour(d.colours[cuts["c3"]], BLUE)

    def segment(d, a: str, b: str):  # type: ignore[no-untyped-def]
        return audio_window(d, (cuts[a] + 10) / FPS, (cuts[b] - 10) / FPS)

    # Korean speaker: the Korean programme carries the floor (the clip's 300 Hz), English the booth.
    assert dominant_hz(segment(ko, "c1", "c2")) == pytest.approx(300, abs=5)
    assert dominant_hz(segment(en, "c1", "c2")) == pytest.approx(1000, abs=5)
    # English speaker: the other way round.
    assert dominant_hz(segment(en, "c2", "c3")) == pytest.approx(700, abs=5)
    assert dominant_hz(segment(ko, "c2", "c3")) == pytest.approx(1500, abs=5)
    # Before the first cue the stand-by slate is silent.
    assert rms(audio_window(ko, 0.2, (cuts["c1"] - 5) / FPS)) < 1e-3


async def test_clip_ending_early_falls_back_to_standby(tmp_path: Path, short_clip: Path) -> None:
    clock = compressed_clock(speed=60, lead_s=0.5)
    cue = clip_cue("c1", T, short_clip, {"ko": floor(), "en": tone(1000)})
    media = AvMediaPlane(clock, MediaSettings(pacing="asap"))
    await media.prepare(programme(cue))
    media.arm("s1", cue)
    await media.attach_output(file_output(tmp_path, "ko-file", "ko"))
    await media.start("s1")
    t0 = media.programme("s1").t0
    cut = first_frame_at_or_after(clock, t0, cue.at)
    await run_until(media, "s1", cut + 60)
    fallbacks = media.fallbacks("s1")
    await media.stop("s1")

    assert len(fallbacks) == 1 and "ended" in fallbacks[0] and "Please stand by" not in fallbacks[0]
    d = decode(tmp_path / "out" / "ko-file.flv")
    green = (20, 200, 40)
    assert is_colour(d.colours[cut], green) and is_colour(d.colours[cut + 29], green)
    # The clip has 25 pictures a second for one second: 30 programme frames, then the slate.
    assert not is_colour(d.colours[cut + 30], green)
    assert d.colours[cut + 31] == pytest.approx(d.colours[5], abs=6)  # the stand-by slate again
    info = probe(str(tmp_path / "out" / "ko-file.flv"))
    assert info["monotonic"] and set(info["keyframe_intervals"]) == {60}


async def test_output_attached_later_starts_on_a_keyframe(tmp_path: Path) -> None:
    media = AvMediaPlane(compressed_clock(speed=60), MediaSettings(pacing="asap"))
    await media.prepare(programme())
    await media.attach_output(file_output(tmp_path, "early", "en"))
    await media.start("s1")
    await run_until(media, "s1", 75)  # mid-GOP
    await media.attach_output(file_output(tmp_path, "late", "ko"))
    await run_until(media, "s1", 300)
    reports = {r.destination_id: r for r in await media.stop("s1")}

    early = probe(str(tmp_path / "out" / "early.flv"))
    late = probe(str(tmp_path / "out" / "late.flv"))
    assert late["video_frames"] == reports["late"].frames < early["video_frames"] == reports["early"].frames
    assert early["keyframe_interval"] == 60  # one shorter GOP for the joining output, never a longer one
    assert late["keyframe_interval"] == 60 and late["monotonic"] and early["monotonic"]
    d = decode(tmp_path / "out" / "late.flv")
    assert d.keyframes[0] == 0  # decodable from its very first frame
    assert late["duration_s"] == pytest.approx(late["video_frames"] / 30, abs=0.1)  # starts near 0


async def test_detach_closes_the_file_and_reports(tmp_path: Path) -> None:
    media = AvMediaPlane(compressed_clock(speed=60), MediaSettings(pacing="asap"))
    await media.prepare(programme())
    await media.attach_output(file_output(tmp_path, "a", "ko"))
    await media.attach_output(file_output(tmp_path, "b", "ko"))
    await media.start("s1")
    await run_until(media, "s1", 90)
    report = await media.detach_output("s1", "a")
    await run_until(media, "s1", report.frames + 60)
    (b,) = await media.stop("s1")
    assert report.errors == [] and report.frames >= 90 and report.bytes > 0
    assert probe(str(tmp_path / "out" / "a.flv"))["video_frames"] == report.frames
    assert b.frames > report.frames


async def test_prepare_names_missing_and_broken_clips(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    media = AvMediaPlane(compressed_clock(speed=60), MediaSettings(pacing="asap"))
    problems = await media.prepare(
        programme(clip_cue("c1", T, tmp_path / "missing.mp4", {}), clip_cue("c2", T + timedelta(minutes=5), broken, {}))
    )
    assert len(problems) == 2
    assert "seg-c1" in problems[0] and "missing.mp4" in problems[0] and "does not exist" in problems[0]
    assert "seg-c2" in problems[1] and "broken.mp4" in problems[1]
    with pytest.raises(UnknownSession, match="nope"):
        media.arm("nope", clip_cue("c1", T, broken, {}))


async def test_missing_clip_at_cue_time_shows_standby_and_says_so(tmp_path: Path) -> None:
    clock = compressed_clock(speed=60, lead_s=0.3)
    cue = clip_cue("c1", T, tmp_path / "missing.mp4", {"ko": floor(), "en": floor()})
    media = AvMediaPlane(clock, MediaSettings(pacing="asap"))
    await media.prepare(programme(cue))
    media.arm("s1", cue)
    await media.attach_output(file_output(tmp_path, "ko-file", "ko"))
    await media.start("s1")
    await run_until(media, "s1", first_frame_at_or_after(clock, media.programme("s1").t0, cue.at) + 10)
    await media.stop("s1")
    (applied,) = media.applied_cues()
    assert (
        applied.fallback is not None and "missing.mp4" in applied.fallback and "Please stand by" not in applied.fallback
    )
    assert "Opening Ceremony" in applied.fallback  # the stand-by slate is what was shown


async def test_realtime_pacing_writes_every_frame_to_every_output(tmp_path: Path) -> None:
    # How closely it keeps 30 frames a wall second, and how free it leaves the event loop, are
    # timings: scripts/bench/pacing.py. Here: what realtime pacing guarantees whatever the load.
    media = AvMediaPlane(compressed_clock(speed=1), MediaSettings(pacing="realtime"))
    await media.prepare(programme())
    await media.attach_output(file_output(tmp_path, "ko-file", "ko"))
    await media.attach_output(file_output(tmp_path, "en-file", "en"))
    await media.start("s1")
    await run_until(media, "s1", 45)
    pipeline = media.programme("s1")
    reports = await media.stop("s1")
    assert pipeline.error is None and all(not r.errors for r in reports), reports
    for r in reports:
        info = probe(str(tmp_path / "out" / f"{r.destination_id}.flv"))
        assert info["video_frames"] == r.frames == pipeline.stats.frames and info["monotonic"]
        assert set(info["keyframe_intervals"]) <= {60} and info["fps"] == pytest.approx(30, abs=0.05)


async def test_cues_due_on_the_same_frame_apply_the_newest(tmp_path: Path, red_clip: Path, blue_clip: Path) -> None:
    clock = compressed_clock(speed=60, lead_s=0.3)
    early = clip_cue("early", T, red_clip, {"ko": floor(), "en": floor()})
    late = clip_cue(
        "late", T + timedelta(milliseconds=100), blue_clip, {"ko": floor(), "en": floor()}
    )  # 60× clock: same frame
    media = AvMediaPlane(clock, MediaSettings(pacing="asap"))
    await media.prepare(programme(early, late))
    media.arm("s1", early)
    media.arm("s1", late)
    await media.attach_output(file_output(tmp_path, "ko-file", "ko"))
    await media.start("s1")
    await run_until(media, "s1", first_frame_at_or_after(clock, media.programme("s1").t0, late.at) + 5)
    await media.stop("s1")
    receipts = {a.cue_id: a for a in media.applied_cues()}
    assert receipts["early"].frame_index == receipts["late"].frame_index
    assert receipts["early"].fallback == "superseded by cue late due on the same frame"
    assert receipts["late"].fallback is None
    d = decode(tmp_path / "out" / "ko-file.flv")
    assert is_colour(d.colours[receipts["late"].frame_index], BLUE)


class _Exploding:
    """A live source whose feed raises: a bug in a source must not stop the programme."""

    name = "exploding feed"
    failure = None

    def render(self, tick):  # type: ignore[no-untyped-def]
        raise RuntimeError("decoder exploded")

    def close(self) -> None:
        pass


class _ExplodingSources(LiveSources):
    def video(self, source, settings, fitter):  # type: ignore[no-untyped-def]
        return _Exploding()


async def test_a_source_that_raises_shows_standby_and_the_stream_goes_on(tmp_path: Path) -> None:
    clock = compressed_clock(speed=60, lead_s=0.3)
    cue = Cue(
        "c1", T, "seg-remote", "remote", VideoSource(VideoKind.REMOTE, speaker_id="x"), {"ko": floor(), "en": tone(800)}
    )
    media = AvMediaPlane(clock, MediaSettings(pacing="asap"), live=_ExplodingSources())
    await media.prepare(programme(cue))
    media.arm("s1", cue)
    await media.attach_output(file_output(tmp_path, "en-file", "en"))
    await media.start("s1")
    cut = first_frame_at_or_after(clock, media.programme("s1").t0, cue.at)
    await run_until(media, "s1", cut + 60)
    fallbacks = media.fallbacks("s1")
    pipeline = media.programme("s1")
    await media.stop("s1")
    assert pipeline.error is None
    assert len(fallbacks) == 1 and "decoder exploded" in fallbacks[0] and "Opening Ceremony" in fallbacks[0]
    info = probe(str(tmp_path / "out" / "en-file.flv"))
    assert info["video_frames"] == pipeline.stats.frames and info["monotonic"]


async def test_a_fade_dissolves_from_the_outgoing_source(tmp_path: Path, red_clip: Path, blue_clip: Path) -> None:
    """A cue with a fade starts dissolving on its frame and shows the new source alone after it."""
    from dataclasses import replace

    clock = compressed_clock(speed=60, lead_s=0.5)
    c1 = clip_cue("c1", T, red_clip, {"ko": floor()})
    c2 = replace(clip_cue("c2", T + timedelta(seconds=60), blue_clip, {"ko": floor()}), fade_s=0.5)  # 15 frames
    media = AvMediaPlane(clock, MediaSettings(pacing="asap"))
    await media.prepare(programme(c1, c2))
    for cue in (c1, c2):
        media.arm("s1", cue)
    await media.attach_output(file_output(tmp_path, "ko-file", "ko"))
    await media.start("s1")
    t0 = media.programme("s1").t0
    cut = first_frame_at_or_after(clock, t0, c2.at)
    await run_until(media, "s1", cut + 30)
    await media.stop("s1")
    assert {a.cue_id: a.frame_index for a in media.applied_cues()}["c2"] == cut

    d = decode(tmp_path / "out" / "ko-file.flv")
    assert is_colour(d.colours[cut - 1], RED)
    middle = d.colours[cut + 7]  # half way: neither red nor blue, some of each
    assert not is_colour(middle, RED) and not is_colour(middle, BLUE)
    assert middle[0] > 40 and middle[2] > 40
    reds = [d.colours[cut + k][0] for k in range(15)]
    assert reds == sorted(reds, reverse=True)  # red drains steadily
    assert is_colour(d.colours[cut + 15], BLUE) and is_colour(d.colours[cut + 25], BLUE)
