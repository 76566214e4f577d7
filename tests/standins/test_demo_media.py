"""Demo media for the pre-recorded clips: exact durations read back with PyAV, idempotent, cheap."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
import structlog
from structlog.testing import capture_logs

from orchestrator.schedule.loader import parse_schedule_text
from orchestrator.schedule.model import Schedule
from orchestrator.standins.demo_media import (
    DEMO_FORMAT,
    DEMO_TAG,
    CardInfo,
    ensure_demo_clips,
    render_card,
    write_demo_clip,
)

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "tests" / "data" / "two-sessions.yaml").read_text(encoding="utf-8")


def tiny(bowles: str = "4s", diamond: str = "2.5s") -> Schedule:
    """The two-session example with clips of a few seconds."""
    text = BASE.replace(
        "path: test-two/bowles-talk.mp4, duration: 20m", f"path: test-two/bowles-talk.mp4, duration: {bowles}"
    )
    text = text.replace(
        "path: test-two/diamond-backup.mp4, duration: 40m", f"path: test-two/diamond-backup.mp4, duration: {diamond}"
    )
    return parse_schedule_text(text, "tiny.yaml")


def durations(path: Path) -> tuple[float, float, float]:
    """(container, video stream, audio stream) durations in seconds."""
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        return c.duration / av.time_base, float(v.duration * v.time_base), float(a.duration * a.time_base)


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        chunks = [f.to_ndarray()[0] for f in c.decode(audio=0)]
        return np.concatenate(chunks), c.streams.audio[0].rate


def f0(signal: np.ndarray, rate: int) -> float:
    """Median fundamental (Hz) over the voiced 40 ms windows, by autocorrelation."""
    n = int(0.04 * rate)
    lo, hi = rate // 400, rate // 70
    found = []
    for start in range(0, len(signal) - n, n):
        w = signal[start : start + n].astype(np.float64)
        if np.sqrt(np.mean(w**2)) < 0.05:
            continue
        w = w - w.mean()
        ac = np.correlate(w, w, "full")[n - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        found.append(rate / lag)
    assert found, "no voiced window"
    return float(np.median(found))


@pytest.fixture
def logs() -> Iterator[list[dict]]:
    """Every structlog event, whatever level the suite's logging set-up lets through."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with capture_logs() as captured:
            yield captured
    finally:
        structlog.configure(**saved)


# ---------------------------------------------------------------------------------------------


def test_creates_every_clip_with_the_declared_duration(tmp_path: Path, logs: list[dict]) -> None:
    schedule = tiny()
    created = ensure_demo_clips(schedule, tmp_path, jobs=1)
    assert sorted(created) == sorted([tmp_path / "test-two/bowles-talk.mp4", tmp_path / "test-two/diamond-backup.mp4"])
    for path in created:
        clip = next(c for c in schedule.clips if (tmp_path / c.path) == path)
        declared = clip.duration.total_seconds()
        container, video, audio = durations(path)
        assert container == pytest.approx(declared, abs=1e-3)
        assert video == pytest.approx(declared, abs=1e-3)
        assert audio == pytest.approx(declared, abs=1e-3)
    assert [e["event"] for e in logs] == ["demo_clip_created", "demo_clip_created"]
    assert {e["clip"] for e in logs} == {"bowles-talk", "diamond-backup"}
    assert not list(tmp_path.rglob("*.partial"))


def test_the_format_is_not_the_programme_format(tmp_path: Path) -> None:
    (path,) = [p for p in ensure_demo_clips(tiny(), tmp_path, jobs=1) if p.name == "bowles-talk.mp4"]
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.width, v.height) == ("h264", 320, 180)
        assert v.average_rate == 15
        assert v.frames == 4 * 15
        assert (a.codec_context.name, a.rate, a.layout.name) == ("aac", 44100, "mono")
        assert c.metadata.get("comment") == DEMO_TAG
        assert a.language == "eng"


def test_a_second_run_creates_nothing(tmp_path: Path, logs: list[dict]) -> None:
    schedule = tiny()
    first = ensure_demo_clips(schedule, tmp_path, jobs=1)
    assert len(logs) == 2
    stamps = {p: p.stat().st_mtime_ns for p in first}
    assert ensure_demo_clips(schedule, tmp_path, jobs=1) == []
    assert len(logs) == 2
    assert {p: p.stat().st_mtime_ns for p in first} == stamps


def test_a_demo_clip_of_the_wrong_length_is_made_again(tmp_path: Path) -> None:
    ensure_demo_clips(tiny(), tmp_path, jobs=1)
    created = ensure_demo_clips(tiny(bowles="6s"), tmp_path, jobs=1)
    assert created == [tmp_path / "test-two/bowles-talk.mp4"]
    assert durations(created[0])[0] == pytest.approx(6.0, abs=1e-3)


def test_an_unreadable_file_is_replaced(tmp_path: Path) -> None:
    broken = tmp_path / "test-two/bowles-talk.mp4"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a video")
    created = ensure_demo_clips(tiny(), tmp_path, jobs=1)
    assert broken in created
    assert durations(broken)[0] == pytest.approx(4.0, abs=1e-3)


def test_real_media_of_another_length_is_left_alone(tmp_path: Path, logs: list[dict]) -> None:
    """Someone put the real recording there: never overwrite it, say so."""
    real = tmp_path / "test-two/bowles-talk.mp4"
    real.parent.mkdir(parents=True)
    with av.open(str(real), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        for i in range(25):
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    before = real.read_bytes()
    created = ensure_demo_clips(tiny(), tmp_path, jobs=1)
    assert real not in created
    assert real.read_bytes() == before
    assert any(e["event"] == "demo_clip_kept_foreign_file" and e["clip"] == "bowles-talk" for e in logs)


def test_paths_may_not_leave_the_media_folder(tmp_path: Path) -> None:
    text = BASE.replace("path: test-two/bowles-talk.mp4", "path: ../outside.mp4")
    with pytest.raises(ValueError, match="outside the media folder"):
        ensure_demo_clips(parse_schedule_text(text, "t.yaml"), tmp_path / "media", jobs=1)


def test_several_processes(tmp_path: Path) -> None:
    created = ensure_demo_clips(tiny(bowles="3s", diamond="2s"), tmp_path, jobs=2)
    assert len(created) == 2
    assert sorted(round(durations(p)[0], 3) for p in created) == [2.0, 3.0]


# ---------------------------------------------------------------------------------------------
# The file itself: reused frames and packets decode to what a full encode would show


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "long.mp4"
    card = CardInfo("long", "A long talk", "en", "Samuel Bowles", None, "Economist", "Santa Fe, United States")
    write_demo_clip(path, card, 21.3)
    return path


def test_long_clip_duration_and_every_frame_decodes(long_clip: Path) -> None:
    assert durations(long_clip) == pytest.approx((21.3, 21.3, 21.3), abs=1e-3)
    with av.open(str(long_clip)) as c:
        frames = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    assert len(frames) == 320  # ceil(21.3 × 15)
    fps = DEMO_FORMAT.fps
    for sec in (0, 1, 2, 9, 20):
        first = frames[sec * fps]
        for j in range(1, min(fps, len(frames) - sec * fps)):
            assert np.array_equal(frames[sec * fps + j], first), (sec, j)  # static within the second
    # from one second to the next only the timecode (bottom band) changes
    a, b = frames[9 * fps].astype(int), frames[10 * fps].astype(int)
    changed = np.argwhere(np.abs(a - b) > 24)
    assert len(changed) > 0
    assert changed[:, 0].min() >= 180 * 0.7


def test_long_clip_audio_is_continuous(long_clip: Path) -> None:
    with av.open(str(long_clip)) as c:
        pts = [p.pts for p in c.demux(audio=0) if p.pts is not None]
    assert all(b - a == 1024 for a, b in pairwise(pts))
    signal, rate = decode_audio(long_clip)
    n = round(21.3 * rate)
    assert n <= len(signal) < n + 1024
    # no clicks where reused packets meet: no jump much larger than the voice's own steepest slope
    jumps = np.abs(np.diff(signal))
    assert jumps.max() < 4 * np.quantile(jumps, 0.9999) + 0.05
    assert 0.2 < np.abs(signal).max() <= 1.0


def test_korean_and_english_sound_different(tmp_path: Path) -> None:
    pitches = {}
    for lang in ("ko", "en"):
        path = tmp_path / f"{lang}.mp4"
        write_demo_clip(path, CardInfo(lang, "Talk", lang, "Speaker"), 5.0)
        pitches[lang] = f0(*decode_audio(path))
    assert 180 < pitches["ko"] < 260
    assert 90 < pitches["en"] < 150
    assert pitches["ko"] > 1.4 * pitches["en"]


def test_the_card_shows_korean(tmp_path: Path) -> None:
    card = CardInfo(
        "park", "서울형 그린뉴딜", "ko", "Park Won-soon", "박원순", "Mayor", "Seoul, Korea", "CAC 글로벌 서밋 2020"
    )
    image, painter = render_card(card, 600.0)
    assert image.size == (DEMO_FORMAT.width, DEMO_FORMAT.height)
    other, _ = render_card(
        CardInfo("park", "서울형 그린뉴딜", "ko", "Park Won-soon", "오세훈", "Mayor", "Seoul, Korea"), 600.0
    )
    # different Hangul names draw different pixels (no tofu boxes)
    assert not np.array_equal(np.asarray(image), np.asarray(other))
    f1, f2 = painter.frame(61).to_ndarray(format="rgb24"), painter.frame(62).to_ndarray(format="rgb24")
    assert not np.array_equal(f1, f2)


# ---------------------------------------------------------------------------------------------
# The command


def test_the_script(tmp_path: Path) -> None:
    text = BASE.replace("duration: 20m, language: en", "duration: 2s, language: en").replace(
        "duration: 40m, language: en", "duration: 1s, language: en"
    )
    schedule = tmp_path / "tiny.yaml"
    schedule.write_text(text, encoding="utf-8")
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "make_demo_media.py"),
        str(schedule),
        "--media-dir",
        str(tmp_path / "m"),
        "--jobs",
        "1",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert "2 of 2 clips created" in run.stdout
    assert (tmp_path / "m/test-two/bowles-talk.mp4").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert "0 of 2 clips created" in again.stdout

    schedule.write_text(text.replace("timezone: Asia/Seoul", "timezone: Asia/Seul"), encoding="utf-8")
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert f"{schedule}:5: event.timezone" in bad.stderr
