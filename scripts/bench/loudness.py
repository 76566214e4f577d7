"""Benchmark `loudness`: is every destination at its loudness target, whatever the voices?

A session of three segments: a loud Korean speaker (about −12 LUFS), a quiet English speaker
(20 dB quieter), the loud one again; the booth interprets Korean→English loudly and English→Korean
quietly, so each language programme jumps by 20 dB at every change. Voice-like sound (harmonics
on a wandering pitch, in syllables and pauses). Four destinations: YouTube and Facebook (−14 LUFS), and a broadcaster's
satellite feed in each language (−23 LUFS) — two targets for the same language, two loudness
chains. The programme runs as fast as the CPU allows into files; each file is measured with
FFmpeg's `ebur128` (integrated loudness, true peak).

Last line: JSON with `bench`, `max_abs_lu_off_target` (target ≤ 1), `max_true_peak_dbtp` (≤ −1),
`per_destination`.

    python scripts/bench/loudness.py [--segment-s 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.clock import CompressedClock, Window
from orchestrator.engine.ports import IngestTarget, OutputSpec
from orchestrator.logconfig import configure_logging
from orchestrator.media import AvMediaPlane, MediaSettings
from orchestrator.media.probe import measure_loudness
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

T = datetime(2026, 6, 2, 13, 0, tzinfo=UTC)
DESTINATIONS = {  # id: (language, target LUFS)
    "youtube-ko": ("ko", -14.0),
    "facebook-en": ("en", -14.0),
    "satellite-ko": ("ko", -23.0),
    "satellite-en": ("en", -23.0),
}


def speech(path: Path, seconds: float, gain_db: float, colour: str, pitch: float) -> Path:
    """A voice-like sound: a harmonic series on a wandering pitch, in 0.3 s syllables with pauses,
    at `gain_db` (0 dB ≈ −12 LUFS, peaks ≈ −4 dBFS), with a small picture."""
    f0 = f"({pitch}*(1+0.08*sin(2*PI*0.7*t)))"
    voice = "+".join(f"{a}*sin({k}*2*PI*{f0}*t)" for k, a in ((1, 0.3), (2, 0.2), (3, 0.12), (5, 0.06)))
    syllables = "if(lt(mod(t\\,0.45)\\,0.3)\\,1\\,0.02)"
    expr = f"({voice})*{syllables}*pow(10\\,{gain_db}/20)"
    picture = ["-f", "lavfi", "-i", f"color=c={colour}:size=320x180:rate=30:duration={seconds}"]
    sound = ["-f", "lavfi", "-i", f"aevalsrc={expr}:s=48000:d={seconds}"]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac", "-b:a", "128k"]
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", *picture, *sound, *codecs, "-shortest", str(path)], check=True
    )
    return path


def cue_sheet(media: Path, segment_s: float) -> CueSheet:
    loud_ko = speech(media / "speaker-ko.mp4", segment_s, 0, "red", 140)
    quiet_en = speech(media / "speaker-en.mp4", segment_s, -20, "blue", 210)
    into_en = speech(media / "interp-en.mp4", segment_s, 0, "black", 180)  # a loud interpreter
    into_ko = speech(media / "interp-ko.mp4", segment_s, -20, "black", 230)  # and a quiet one

    def booth(path: Path, spoken: str) -> AudioSource:
        feed = InterpretationFeed("clip", clip_path=str(path))
        return AudioSource(AudioKind.INTERPRETATION, booth_id="booth-ko-en", from_language=spoken, feed=feed)

    floor = AudioSource(AudioKind.FLOOR)
    cues = []
    for i, (clip, spoken) in enumerate(((loud_ko, "ko"), (quiet_en, "en"), (loud_ko, "ko"))):
        audio = (
            {"ko": floor, "en": booth(into_en, "ko")} if spoken == "ko" else {"ko": booth(into_ko, "en"), "en": floor}
        )
        at = T + timedelta(seconds=i * segment_s)
        video = VideoSource(VideoKind.CLIP, clip_path=str(clip))
        cues.append(Cue(f"c{i}", at, f"seg-{i}", f"segment {i}", video, audio, spoken))
    end = T + timedelta(seconds=3 * segment_s)
    return CueSheet("s1", "Loudness", T, end, ("ko", "en"), Slate("Loudness", note="Stand by"), tuple(cues))


async def run(segment_s: float, workdir: Path) -> dict[str, object]:
    sheet = cue_sheet(workdir, segment_s)
    lead = 1.0
    clock = CompressedClock(
        [Window(T - timedelta(seconds=lead), T + timedelta(hours=1))], speed=1, wall_start=time.time()
    )
    targets = {d: target for d, (_, target) in DESTINATIONS.items()}
    media = AvMediaPlane(clock, MediaSettings(pacing="asap"), loudness=targets)
    await media.prepare(sheet)
    for cue in sheet.cues:
        media.arm("s1", cue)
    for dest, (lang, _) in DESTINATIONS.items():
        await media.attach_output(OutputSpec(dest, "s1", lang, "file", IngestTarget(str(workdir / f"{dest}.flv"))))
    await media.start("s1")
    frames = int((lead + 3 * segment_s) * 30)
    programme = media.programme("s1")
    began = time.monotonic()
    while programme.stats.frames < frames:
        if programme.error:
            raise SystemExit(programme.error)
        await asyncio.sleep(0.05)
    await media.stop("s1")
    await media.close()
    per: dict[str, dict[str, float]] = {}
    for dest, (_, target) in DESTINATIONS.items():
        measured = measure_loudness(str(workdir / f"{dest}.flv"))
        per[dest] = {
            "target_lufs": target,
            "integrated_lufs": measured.integrated_lufs,
            "lu_off_target": round(measured.integrated_lufs - target, 2),
            "true_peak_dbtp": measured.true_peak_dbtp,
        }
    return {
        "bench": "loudness",
        "segment_s": segment_s,
        "render_s": round(time.monotonic() - began, 1),
        "max_abs_lu_off_target": max(abs(p["lu_off_target"]) for p in per.values()),
        "max_true_peak_dbtp": max(p["true_peak_dbtp"] for p in per.values()),
        "per_destination": per,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segment-s", type=float, default=20.0, help="length of each of the three segments")
    args = parser.parse_args()
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory(prefix="bench-loudness-") as tmp:
        result = asyncio.run(run(args.segment_s, Path(tmp)))
    for dest, p in result["per_destination"].items():  # type: ignore[union-attr]
        print(
            f"{dest:14} {p['integrated_lufs']:6.1f} LUFS (target {p['target_lufs']:.0f}), peak {p['true_peak_dbtp']:.1f} dBTP"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
