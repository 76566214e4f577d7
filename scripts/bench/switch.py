"""Benchmark `switch`: are cuts on the frame their cue names?

100 cues at random times (at least 4 frames apart), each cutting to a clip of another solid
colour, are armed ahead and played live (wall-clock pacing) to nginx-rtmp, which records what it
receives. The recording is decoded and for every cue the frame where its colour appears is
compared with the frame the cue's time names (the first frame whose time is at or after it).
Target: late by 0 frames, always.

Last line: JSON with `bench`, `cues`, `late_frames_max`, `late_frames_p99`.

    python scripts/bench/switch.py [--seconds 60] [--cues 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
from benchlib import make_colour_clip

from orchestrator.clock import SystemClock
from orchestrator.engine.ports import IngestTarget, OutputSpec
from orchestrator.logconfig import configure_logging
from orchestrator.media import AvMediaPlane, MediaSettings
from orchestrator.planning.cues import AudioKind, AudioSource, Cue, CueSheet, Slate, VideoKind, VideoSource
from orchestrator.standins.nginx import RtmpServer

COLOURS = {
    "red": (255, 0, 0),
    "lime": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "magenta": (255, 0, 255),
    "cyan": (0, 255, 255),
}
FPS = 30


def cue_times(n: int, seconds: float, rng: random.Random) -> list[float]:
    """`n` random offsets in [1, seconds − 0.5), at least 4 frames apart: uniform points in the
    span left over after the minimum gaps, each then pushed back by the gaps before it."""
    gap = 4 / FPS
    free = (seconds - 1.5) - (n - 1) * gap
    if free <= 0:
        raise SystemExit(f"{n} cues do not fit in {seconds:g} s")
    return [1.0 + t + i * gap for i, t in enumerate(sorted(rng.uniform(0, free) for _ in range(n)))]


def nearest_colour(rgb: np.ndarray) -> str:
    names = list(COLOURS)
    dist = [float(np.sum((rgb - np.array(COLOURS[c])) ** 2)) for c in names]
    best = int(np.argmin(dist))
    return names[best] if dist[best] < 60**2 * 3 else "other"


def decoded_colours(path: Path) -> list[str]:
    out = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            img = frame.to_ndarray(format="rgb24")
            h, w = img.shape[:2]
            out.append(
                nearest_colour(img[h // 3 : 2 * h // 3 : 4, w // 3 : 2 * w // 3 : 4].reshape(-1, 3).mean(axis=0))
            )
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cues", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    configure_logging("console", "warning")
    n_cues = min(args.cues, int((args.seconds - 1.5) * FPS / 4))  # a short run holds fewer cues
    rng = random.Random(args.seed)

    work = Path(tempfile.mkdtemp(prefix="bench-switch-"))
    clips = {name: make_colour_clip(work / f"{name}.mp4", name, 5) for name in COLOURS}
    clock = SystemClock()
    async with RtmpServer(record_dir=work / "recorded") as server:
        media = AvMediaPlane(clock, MediaSettings(width=640, height=360))
        now = datetime.now(UTC)
        offsets = cue_times(n_cues, args.seconds, rng)
        names = list(COLOURS)
        cues = []
        for i, offset in enumerate(offsets):
            colour = names[i % len(names)]
            cues.append(
                Cue(
                    f"cue-{i:03d}",
                    now + timedelta(seconds=offset),
                    f"seg-{i}",
                    colour,
                    VideoSource(VideoKind.CLIP, clip_path=str(clips[colour])),
                    {"ko": AudioSource(AudioKind.FLOOR)},
                )
            )
        prog = CueSheet(
            "switch", "switch", now, now + timedelta(seconds=args.seconds), ("ko",), Slate("Stand by"), tuple(cues)
        )
        problems = await media.prepare(prog)
        assert not problems, problems
        for cue in cues:
            media.arm("switch", cue)
        await media.attach_output(OutputSpec("nginx", "switch", "ko", "rtmp", IngestTarget(server.url + "/switch")))
        await media.start("switch")
        t0 = media.programme("switch").t0
        while time.time() < clock.to_wall(cues[-1].at) + 1.0:
            await asyncio.sleep(0.2)
        (report,) = await media.stop("switch")
        applied = {a.cue_id: a for a in media.applied_cues()}
    recording = max((work / "recorded").rglob("switch*.flv"))
    colours = decoded_colours(recording)

    late: list[int] = []
    mismatched_receipts = 0
    search_from = 0
    for cue in cues:
        # The frame the cue names: the first whose time is at or after the cue.
        expected = max(0, math.ceil((clock.to_wall(cue.at) - t0) * FPS - 1e-9))
        while expected > 0 and clock.to_event(t0 + (expected - 1) / FPS) >= cue.at:
            expected -= 1
        while clock.to_event(t0 + expected / FPS) < cue.at:
            expected += 1
        if applied[cue.id].frame_index != expected:
            mismatched_receipts += 1
        start = max(search_from, expected - 5)
        found = next((i for i in range(start, min(len(colours), expected + 60)) if colours[i] == cue.label), None)
        if found is None:
            late.append(999)  # never seen: counts as infinitely late
            continue
        late.append(found - expected)
        search_from = found + 1

    arr = np.array(late)
    print(
        f"{len(cues)} cues in {args.seconds:g} s, recording {len(colours)} frames ({recording.name}); output errors: {report.errors}"
    )
    print(
        f"late frames: max {arr.max()}, p99 {np.percentile(arr, 99):.0f}, early (negative) {int((arr < 0).sum())}, "
        f"distribution {dict(zip(np.unique(arr).tolist(), np.unique(arr, return_counts=True)[1].tolist(), strict=False))}; receipts off their frame: {mismatched_receipts}"
    )
    print(
        json.dumps(
            {
                "bench": "switch",
                "cues": len(cues),
                "late_frames_max": int(arr.max()),
                "late_frames_p99": float(np.percentile(arr, 99)),
                "early_cuts": int((arr < 0).sum()),
                "receipts_off_frame": mismatched_receipts,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
