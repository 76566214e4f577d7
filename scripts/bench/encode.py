"""Benchmark `encode`: what the programme pipeline costs against ffmpeg doing the same encode.

1. A 720p30 clip (moving test picture, 44.1 kHz tone) → the pipeline → one RTMP destination,
   against `ffmpeg` encoding the same clip with the same settings to the same server.
   Target: CPU ratio ≤ 1.2.
2. The same programme to three destinations against one. Target: ratio ≤ 1.05 (encode once, mux many).

Each run is a separate process; CPU time is user + system of that process and of its publisher
processes. The machine is shared, so every case runs `--repeat` times, interleaved, and the least
CPU time of each counts (what the work costs without someone else's cache misses). Last line: JSON
with `bench`, `cpu_ratio_vs_ffmpeg`, `cpu_ratio_fanout3_vs_1`.

    python scripts/bench/encode.py [--seconds 60] [--repeat 2] [--preset veryfast] [--bitrate 3000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from benchlib import Run, ffmpeg_cpu, make_clip, run_in_child

from orchestrator.standins.nginx import RtmpServer


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--bitrate", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-encode-"))
    clip = make_clip(work / f"clip-{args.seconds:g}s-720p.mp4", args.seconds + 2)
    async with RtmpServer() as server:

        def run(outputs: int) -> dict[str, Any]:
            targets = [("ko", f"{server.url}/pipeline-{outputs}-{i}") for i in range(outputs)]
            return run_in_child(Run(str(clip), args.seconds, ["ko"], targets, bitrate=args.bitrate, preset=args.preset))

        # The clip is longer than the run by 2 s; ffmpeg encodes the first `seconds` only.
        trimmed = work / "trimmed.mp4"
        await asyncio.to_thread(
            __import__("subprocess").run,
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(clip),
                "-t",
                f"{args.seconds}",
                "-c",
                "copy",
                str(trimmed),
            ],
            check=True,
        )
        ffmpegs, ones, threes = [], [], []
        for _ in range(args.repeat):
            ffmpegs.append(
                await asyncio.to_thread(ffmpeg_cpu, trimmed, f"{server.url}/ffmpeg", args.bitrate, args.preset)
            )
            ones.append(await asyncio.to_thread(run, 1))
            threes.append(await asyncio.to_thread(run, 3))

    for name, r in [*(("pipeline → 1", r) for r in ones), *(("pipeline → 3", r) for r in threes)]:
        if r["error"] or r["output_errors"]:
            raise SystemExit(f"{name} failed: {r['error'] or r['output_errors']}")
    ffmpeg = min(ffmpegs)
    one = min(ones, key=lambda r: r["cpu_s"])
    three = min(threes, key=lambda r: r["cpu_s"])
    print(
        "runs (CPU s): ffmpeg "
        + ", ".join(f"{x:.2f}" for x in ffmpegs)
        + "; pipeline → 1 "
        + ", ".join(f"{r['cpu_s']:.2f}" for r in ones)
        + "; pipeline → 3 "
        + ", ".join(f"{r['cpu_s']:.2f}" for r in threes)
    )
    media_s = args.seconds
    print(f"clip: {media_s:g} s of 720p30, preset {args.preset}, {args.bitrate / 1e6:g} Mbps")
    print(f"ffmpeg → 1 RTMP:      {ffmpeg:6.2f} CPU s  ({ffmpeg / media_s:.3f} per media s)")
    print(
        f"pipeline → 1 RTMP:    {one['cpu_s']:6.2f} CPU s  ({one['cpu_s'] / media_s:.3f} per media s, {one['frames']} frames)"
    )
    print(
        f"pipeline → 3 RTMP:    {three['cpu_s']:6.2f} CPU s  ({three['cpu_s'] / media_s:.3f} per media s, {three['frames']} frames)"
    )
    print(
        f"publisher processes:  {one['publisher_cpu_s']:.2f} CPU s for 1 destination, {three['publisher_cpu_s']:.2f} for 3"
    )
    print(
        json.dumps(
            {
                "bench": "encode",
                "seconds": media_s,
                "repeat": args.repeat,
                "cpu_s_ffmpeg": round(ffmpeg, 3),
                "cpu_s_pipeline_1": round(one["cpu_s"], 3),
                "cpu_s_pipeline_3": round(three["cpu_s"], 3),
                "cpu_ratio_vs_ffmpeg": round(one["cpu_s"] / ffmpeg, 3),
                "cpu_ratio_fanout3_vs_1": round(three["cpu_s"] / one["cpu_s"], 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
