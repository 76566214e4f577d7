"""The media plane's operator block: loudness by EBU R128 (BS.1770, the AGC's own measurement), and on a real programme
the thumbnail, the meters and taking an armed cue back."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image

from orchestrator.clock import SystemClock
from orchestrator.media.plane import AvMediaPlane, loudness
from orchestrator.media.settings import AUDIO_RATE, MediaSettings
from orchestrator.planning.cues import AudioKind, AudioSource, Cue, CueSheet, Slate, VideoKind, VideoSource


def tone(seconds: float, amplitude: float, hz: float = 997.0) -> np.ndarray:
    t = np.arange(round(seconds * AUDIO_RATE)) / AUDIO_RATE
    mono = (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([mono, mono])


def test_the_meter_reads_ebu_tech_3341s_calibration_tone() -> None:
    """EBU Tech 3341: a stereo 1 kHz sine at -23 dBFS reads -23.0 LUFS, momentary and short-term."""
    m = loudness("en", tone(3.2, 10 ** (-23 / 20)))
    assert m.momentary_lufs is not None and abs(m.momentary_lufs - -23.0) <= 0.1
    assert m.short_term_lufs is not None and abs(m.short_term_lufs - -23.0) <= 0.1
    one = loudness("en", np.stack([tone(3.2, 10 ** (-23 / 20))[0], np.zeros(round(3.2 * AUDIO_RATE), np.float32)]))
    assert one.short_term_lufs is not None and abs(one.short_term_lufs - -26.0) <= 0.1  # one channel: 3 dB less


def test_loudness_of_a_tone_silence_and_too_little() -> None:
    m = loudness("en", tone(3.2, 0.1))  # -20 dBFS peak in both channels
    assert m.language == "en" and m.peak_dbfs == -20.0
    assert m.momentary_lufs is not None and abs(m.momentary_lufs - -20.0) < 0.5
    assert m.short_term_lufs is not None and abs(m.short_term_lufs - -20.0) < 0.5
    quieter = loudness("en", tone(3.2, 0.01))
    assert quieter.short_term_lufs is not None and abs(quieter.short_term_lufs - -40.0) < 0.5
    short = loudness("ko", tone(1.0, 0.1))  # a second heard: momentary yes, short-term not yet
    assert short.momentary_lufs is not None and short.short_term_lufs is None
    silent = loudness("ko", np.zeros((2, 3 * AUDIO_RATE), dtype=np.float32))
    assert (silent.momentary_lufs, silent.short_term_lufs, silent.peak_dbfs) == (None, None, None)


async def test_thumbnail_meters_and_withdraw_on_a_real_programme() -> None:
    clock = SystemClock()
    now = clock.now()
    sheet = CueSheet(
        "s1",
        "Monitors",
        now,
        now + timedelta(minutes=5),
        ("ko", "en"),
        Slate("Monitors", note="Please stand by", countdown_to=now + timedelta(minutes=5)),
    )
    plane = AvMediaPlane(clock, MediaSettings())
    try:
        assert await plane.prepare(sheet) == []
        assert plane.thumbnail("s1") is None and plane.meters("s1") == []  # not started: nothing yet
        await plane.start("s1")
        later = Cue(
            "s1/cue/later",
            datetime.now(UTC) + timedelta(seconds=30),
            "later",
            "later",
            VideoSource(VideoKind.SLATE, slate=Slate("Later")),
            {"ko": AudioSource(AudioKind.FLOOR), "en": AudioSource(AudioKind.FLOOR)},
        )
        plane.arm("s1", later)
        assert plane.withdraw("s1", later.id) is True
        assert plane.withdraw("s1", later.id) is False  # taken back once
        jpeg = None
        for _ in range(60):
            jpeg = plane.thumbnail("s1")
            if jpeg is not None:
                break
            await asyncio.sleep(0.05)
        assert jpeg is not None
        with Image.open(io.BytesIO(jpeg)) as img:
            assert (img.format, img.size) == ("JPEG", (320, 180))
        assert plane.thumbnail("s1") is jpeg or plane.thumbnail("s1") != b""  # cached until a new picture
        await asyncio.sleep(0.5)
        meters = plane.meters("s1")
        assert [m.language for m in meters] == ["en", "ko"]
        assert all(m.momentary_lufs is None for m in meters)  # the slate is silent
        assert plane.current_cue("s1") is None  # nothing taken yet: the stand-by slate
        # the preview of what a cue will show: its slate; a clip that cannot be read has none
        card = plane.preview(later)
        assert card is not None and plane.preview(later) is card  # drawn once per cue
        with Image.open(io.BytesIO(card)) as img:
            assert (img.format, img.size) == ("JPEG", (320, 180))
        missing = Cue(
            "s1/cue/clip",
            later.at,
            "clip",
            "clip",
            VideoSource(VideoKind.CLIP, clip_path="/nowhere/x.mp4"),
            later.audio,
        )
        assert plane.preview(missing) is None
        assert plane.fallback_cue("s1", "x", clock.now()) is None
    finally:
        await plane.close()
