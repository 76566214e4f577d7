from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
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
