"""Building programmes and reading recordings back, shared by the media tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

from orchestrator.clock import CompressedClock, Window
from orchestrator.planning.cues import (
    AudioKind,
    AudioSource,
    Cue,
    CueSheet,
    InterpretationFeed,
    Slate,
    VideoKind,
    VideoSource,
)

T = datetime(2020, 6, 2, 13, 0, tzinfo=UTC)  # the session goes on air (event time)
RED = (220, 20, 20)
BLUE = (20, 40, 220)
GREEN = (20, 200, 40)


def compressed_clock(speed: float, lead_s: float = 0.0) -> CompressedClock:
    """A rehearsal clock whose event time T−lead happens about now."""
    start = T - timedelta(seconds=lead_s * speed)
    return CompressedClock([Window(start, T + timedelta(hours=2))], speed=speed, wall_start=time.time())


def standby() -> Slate:
    return Slate("개회식 Opening Ceremony", "Seoul", "Please stand by", countdown_to=T)


def programme(*cues: Cue, languages: tuple[str, ...] = ("ko", "en"), session_id: str = "s1") -> CueSheet:
    return CueSheet(session_id, "Opening", T, T + timedelta(hours=1), languages, standby(), tuple(cues))


def floor() -> AudioSource:
    return AudioSource(AudioKind.FLOOR)


def tone(hz: float, booth: str = "booth-1") -> AudioSource:
    return AudioSource(AudioKind.INTERPRETATION, booth_id=booth, feed=InterpretationFeed("tone", tone_hz=hz))


def clip_cue(cue_id: str, at: datetime, path: Path, audio: dict[str, AudioSource], spoken: str = "ko") -> Cue:
    return Cue(cue_id, at, f"seg-{cue_id}", cue_id, VideoSource(VideoKind.CLIP, clip_path=str(path)), audio, spoken)


def slate_cue(cue_id: str, at: datetime, title: str = "Break") -> Cue:
    return Cue(
        cue_id,
        at,
        f"seg-{cue_id}",
        cue_id,
        VideoSource(VideoKind.SLATE, slate=Slate(title, note="Back soon")),
        {"ko": floor(), "en": floor()},
    )


@dataclass
class Decoded:
    colours: list[tuple[float, float, float]]  # mean RGB of the centre of every frame
    keyframes: list[int]
    audio_t0: float  # time of the first decoded audio sample
    audio: np.ndarray  # mono (left channel), 48 kHz


def decode(path: Path) -> Decoded:
    colours: list[tuple[float, float, float]] = []
    keyframes: list[int] = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            img = f.to_ndarray(format="rgb24")
            h, w = img.shape[:2]
            # The centre: clips of another aspect ratio are pillar-boxed.
            rgb = img[h // 4 : 3 * h // 4 : 4, w // 4 : 3 * w // 4 : 4].reshape(-1, 3).mean(axis=0)
            colours.append((float(rgb[0]), float(rgb[1]), float(rgb[2])))
            if f.key_frame:
                keyframes.append(i)
    chunks = []
    t0 = 0.0
    with av.open(str(path)) as c:
        for j, f in enumerate(c.decode(audio=0)):
            if j == 0:
                t0 = float(f.time or 0.0)
            chunks.append(f.to_ndarray()[0])
    return Decoded(colours, keyframes, t0, np.concatenate(chunks) if chunks else np.zeros(0))


def is_colour(rgb: tuple[float, float, float], want: tuple[int, int, int], tol: float = 40) -> bool:
    return all(abs(a - b) < tol for a, b in zip(rgb, want, strict=False))


def audio_window(d: Decoded, start_s: float, end_s: float) -> np.ndarray:
    a = int((start_s - d.audio_t0) * 48_000)
    b = int((end_s - d.audio_t0) * 48_000)
    return d.audio[max(a, 0) : b]
