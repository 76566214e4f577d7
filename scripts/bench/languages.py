"""Benchmark `languages`: Korean + English programmes against the Korean one alone.

1. CPU: a 720p30 clip through the pipeline with one language (Korean → one RTMP destination)
   against two (Korean and English, each to its own destination); the picture is encoded once,
   so the second language costs one AAC encode and one mux. Target: ratio ≤ 1.15.
2. Real time: both languages together, paced in wall time, for `--seconds` (default 300 = 5 min):
   `realtime_factor` = media seconds made / wall seconds spent making them (pacing waits excluded;
   ≥ 1.0 keeps up), `dropped_frames` = frames made later than one frame interval after their time
   plus frames an output did not get.

The CPU runs are repeated `--repeat` times, interleaved, and the least CPU time of each counts
(the machine is shared). Last line: JSON with `bench`, `cpu_ratio_ko_en_vs_ko`, `realtime_factor`,
`dropped_frames`.

    python scripts/bench/languages.py [--seconds 300] [--cpu-seconds 60] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from benchlib import Run, make_clip, run_in_child

from orchestrator.standins.nginx import RtmpServer


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the real-time run")
    parser.add_argument(
        "--cpu-seconds", type=float, default=None, help="length of the CPU runs (default: min(seconds, 60))"
    )
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    cpu_seconds = args.cpu_seconds or min(args.seconds, 60.0)

    work = Path(tempfile.mkdtemp(prefix="bench-languages-"))
    clip = make_clip(work / f"clip-{max(args.seconds, cpu_seconds):g}s-720p.mp4", max(args.seconds, cpu_seconds) + 2)
    async with RtmpServer() as server:
        kos, ko_ens = [], []
        for i in range(args.repeat):
            kos.append(
                await asyncio.to_thread(
                    run_in_child,
                    Run(str(clip), cpu_seconds, ["ko"], [("ko", f"{server.url}/ko-a{i}")], preset=args.preset),
                )
            )
            ko_ens.append(
                await asyncio.to_thread(
                    run_in_child,
                    Run(
                        str(clip),
                        cpu_seconds,
                        ["ko", "en"],
                        [("ko", f"{server.url}/ko-b{i}"), ("en", f"{server.url}/en-b{i}")],
                        preset=args.preset,
                    ),
                )
            )
        live = await asyncio.to_thread(
            run_in_child,
            Run(
                str(clip),
                args.seconds,
                ["ko", "en"],
                [("ko", f"{server.url}/ko-c"), ("en", f"{server.url}/en-c")],
                preset=args.preset,
                pacing="realtime",
            ),
        )
    for name, r in [*(("ko", r) for r in kos), *(("ko+en", r) for r in ko_ens), ("real time", live)]:
        if r["error"] or r["output_errors"]:
            raise SystemExit(f"{name} run failed: {r['error'] or r['output_errors']}")
    ko = min(kos, key=lambda r: r["cpu_s"])
    ko_en = min(ko_ens, key=lambda r: r["cpu_s"])
    print(
        "runs (CPU s): ko "
        + ", ".join(f"{r['cpu_s']:.2f}" for r in kos)
        + "; ko+en "
        + ", ".join(f"{r['cpu_s']:.2f}" for r in ko_ens)
    )

    cpu_ratio = ko_en["cpu_s"] / ko["cpu_s"]
    realtime_factor = (live["frames"] / 30) / live["busy_s"]
    missing = sum(max(0, live["frames"] - f) for f in live["output_frames"])
    dropped = live["late_frames"] + missing
    print(
        f"CPU, {cpu_seconds:g} s of 720p30: ko {ko['cpu_s']:.2f} s, ko+en {ko_en['cpu_s']:.2f} s → ratio {cpu_ratio:.3f}"
    )
    print(
        f"real time, ko+en for {args.seconds:g} s: {live['frames']} frames, busy {live['busy_s']:.1f} s "
        f"→ factor {realtime_factor:.2f}; late frames {live['late_frames']} (max {live['max_late_s'] * 1000:.0f} ms), "
        f"frames missing in outputs {missing}; CPU {live['cpu_s'] / args.seconds:.3f} per media s"
    )
    print(
        json.dumps(
            {
                "bench": "languages",
                "cpu_seconds": cpu_seconds,
                "realtime_seconds": args.seconds,
                "cpu_ratio_ko_en_vs_ko": round(cpu_ratio, 3),
                "realtime_factor": round(realtime_factor, 2),
                "dropped_frames": dropped,
                "late_frames": live["late_frames"],
                "max_late_ms": round(live["max_late_s"] * 1000, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
