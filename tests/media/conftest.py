from __future__ import annotations

import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.frame import VideoFrame
from media_clips import make_clip
from media_helpers import BLUE, GREEN, RED


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def red_clip(media_dir: Path) -> Path:
    # 25 fps, 320x240, 44.1 kHz mono: every conversion the programme makes is exercised.
    return make_clip(media_dir / "red.mp4", rgb=RED, seconds=6, tone_hz=300)


@pytest.fixture(scope="session")
def blue_clip(media_dir: Path) -> Path:
    return make_clip(
        media_dir / "blue.mp4", rgb=BLUE, seconds=6, tone_hz=700, fps=30, size=(640, 360), sample_rate=48_000
    )


@pytest.fixture(scope="session")
def short_clip(media_dir: Path) -> Path:
    return make_clip(media_dir / "green-short.mp4", rgb=GREEN, seconds=1.0, tone_hz=500)


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Every test stops what it started: no programme or output thread outlives it."""
    before = set(threading.enumerate())
    yield
    left = [t.name for t in threading.enumerate() if t not in before and t.name.startswith(("programme", "output"))]
    assert not left, f"threads left running: {left}"


@pytest.fixture(scope="session")
def blue_then_red(media_dir: Path) -> Path:
    """A backup recording whose picture tells its clip time: blue for 1 s, then red for 2 s.

    Every picture is a keyframe: a `ClipReader` opened at an offset shows first the picture it
    decodes first after seeking, the keyframe's, which here is the one at the offset."""
    path = media_dir / "blue-then-red.mp4"
    if path.exists():
        return path
    fps, (w, h) = 25, (320, 180)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.options = {"preset": "ultrafast", "g": "1"}
        for i in range(3 * fps):
            picture = np.full((h, w, 3), BLUE if i < fps else RED, dtype=np.uint8)
            f = VideoFrame.from_ndarray(picture, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            out.mux(v.encode(f))
        out.mux(v.encode(None))
    return path
