"""Shared parts of the media benchmarks: test media made with ffmpeg, an nginx-rtmp sink, and
programme runs in child processes so each one's CPU time is its own.

Run as `python scripts/bench/benchlib.py child '<json>'` it is such a child (the benchmarks do this)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

HERE = Path(__file__).resolve()


def make_clip(path: Path, seconds: float, width: int = 1280, height: int = 720, fps: int = 30, hz: int = 440) -> Path:
    """A moving test picture (ffmpeg's testsrc2) with a sine at 44.1 kHz: real encoding work, and a
    resample on the way in. Cached by name."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={hz}:sample_rate=44100:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            str(fps * 2),
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
    )
    return path


def make_colour_clip(path: Path, rgb: str, seconds: float) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c={rgb}:size=320x240:rate=25:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=300:sample_rate=44100:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
    )
    return path


def ffmpeg_cpu(clip: Path, url: str, bitrate: int, preset: str) -> float:
    """CPU seconds ffmpeg spends encoding `clip` to `url` with our ingest settings, read at its
    native rate (`-re`) like the programme runs."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-re",
            "-i",
            str(clip),
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-tune",
            "zerolatency",
            "-g",
            "60",
            "-bf",
            "0",
            "-sc_threshold",
            "0",
            "-b:v",
            str(bitrate),
            "-maxrate",
            str(bitrate),
            "-bufsize",
            str(2 * bitrate),
            "-r",
            "30",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-ar",
            "48000",
            "-ac",
            "2",
            "-f",
            "flv",
            url,
        ],
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@dataclass
class Run:
    """One programme run, described in plain values so it can cross into a child process."""

    clip: str
    seconds: float
    languages: list[str]
    outputs: list[tuple[str, str]]  # (language, rtmp url or file path)
    width: int = 1280
    height: int = 720
    bitrate: int = 3_000_000
    preset: str = "veryfast"
    pacing: Literal["realtime", "asap"] = (
        "realtime"  # what live outputs run at; CPU per media second is what we compare
    )


def run_in_child(run: Run) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(HERE), "child", json.dumps(asdict(run))], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def _child(run: Run) -> dict[str, Any]:
    from orchestrator.clock import SystemClock
    from orchestrator.engine.ports import IngestTarget, OutputSpec
    from orchestrator.logconfig import configure_logging
    from orchestrator.media import AvMediaPlane, MediaSettings
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

    configure_logging("console", "warning")
    now = datetime.now(UTC)
    audio = {
        lang: AudioSource(AudioKind.FLOOR)
        if i == 0
        else AudioSource(AudioKind.INTERPRETATION, booth_id="b", feed=InterpretationFeed("tone", tone_hz=1000))
        for i, lang in enumerate(run.languages)
    }
    # The clip comes on half a second in (armed ahead, as the runner does), so the run measures
    # clip → encode → outputs almost throughout.
    cue = Cue(
        "clip", now + timedelta(seconds=0.5), "seg", "clip", VideoSource(VideoKind.CLIP, clip_path=run.clip), audio
    )
    prog = CueSheet("bench", "bench", now, now + timedelta(hours=1), tuple(run.languages), Slate("bench"), (cue,))
    settings = MediaSettings(
        width=run.width, height=run.height, video_bitrate=run.bitrate, preset=run.preset, pacing=run.pacing
    )
    media = AvMediaPlane(SystemClock(), settings)
    await media.prepare(prog)
    media.arm("bench", cue)
    for i, (lang, url) in enumerate(run.outputs):
        kind = "rtmp" if url.startswith("rtmp") else "file"
        await media.attach_output(OutputSpec(f"out{i}", "bench", lang, kind, IngestTarget(url)))
    frames = int(run.seconds * settings.fps)
    cpu0, wall0 = time.process_time(), time.monotonic()
    await media.start("bench")
    pipeline = media.programme("bench")
    while pipeline.stats.frames < frames and pipeline.error is None:
        await asyncio.sleep(0.02)
    reports = await media.stop("bench")
    # Network outputs publish from their own processes; their CPU is part of the cost.
    cpu = time.process_time() - cpu0 + pipeline.stats.publisher_cpu_s
    wall = time.monotonic() - wall0
    return {
        "cpu_s": cpu,
        "publisher_cpu_s": pipeline.stats.publisher_cpu_s,
        "wall_s": wall,
        "frames": pipeline.stats.frames,
        "late_frames": pipeline.stats.late_frames,
        "max_late_s": pipeline.stats.max_late_s,
        "busy_s": pipeline.stats.busy_s,
        "error": pipeline.error,
        "output_frames": [r.frames for r in reports],
        "output_errors": [e for r in reports for e in r.errors],
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        result = asyncio.run(_child(Run(**json.loads(sys.argv[2]))))
        print(json.dumps(result))
        return
    raise SystemExit("benchlib is run by the benchmarks: child '<json>'")


if __name__ == "__main__":
    main()
