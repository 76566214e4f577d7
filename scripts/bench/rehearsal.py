"""Benchmark `rehearsal`: how late does the runner act, and do recordings last their sessions?

A rehearsal of tests/data/two-sessions.yaml (two one-hour sessions, Korean and English recorded to
files) at `--speed` (600×: an hour in 6 wall seconds). Every action's lateness is what the runner
journals (`error_ms`: wall time it started minus the wall time the clock gives its event time);
cues are applied on a frame, so theirs is the distance from the cue's time to its frame's time.
Each recording's length (media seconds) is compared with its session's programme span in wall
seconds (attach_output to end_broadcast on the rehearsal clock). Targets: every action within
1000 ms, cues within a frame or two, recordings within 1 s of their spans.

Last line: JSON with `bench`, `speed`, `actions`, `action_late_ms_max`, `action_late_ms_p95`,
`action_late_ms_mean`, `cue_late_ms_max`, `recording_short_s_max`, `wall_s`.

    python scripts/bench/rehearsal.py [--speed 600] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.logconfig import configure_logging
from orchestrator.rehearsal import RehearsalOptions, rehearse
from orchestrator.schedule.loader import load_schedule

ROOT = Path(__file__).resolve().parents[2]

SCHEDULE = ROOT / "tests" / "data" / "two-sessions.yaml"


def scheduled(actions: list[dict[str, Any]], kind: str, output: dict[str, Any]) -> datetime:
    """Event time of the `kind` action of `output`'s session and destination."""
    return next(
        datetime.fromisoformat(a["scheduled"])
        for a in actions
        if a["kind"] == kind and a["session"] == output["session"] and a["destination"] == output["destination"]
    )


async def one(speed: float, work: Path) -> dict[str, Any]:
    report = await rehearse(
        load_schedule(SCHEDULE),
        RehearsalOptions(speed=speed, run_dir=work / "run", media_dir=work / "media", progress=False, outputs="files"),
    )
    if report["summary"]["failed"] or report["summary"]["not_run"]:
        raise SystemExit(f"rehearsal failed: {report['summary']}")
    (work / "report.json").write_text(json.dumps(report, indent=1))
    return report


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", type=float, default=600.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    configure_logging("console", "warning")

    late: list[float] = []
    cue_late: list[float] = []
    short: list[float] = []
    wall = 0.0
    for i in range(args.repeat):
        report = await one(args.speed, Path(tempfile.mkdtemp(prefix=f"bench-rehearsal-{i}-")))
        wall += report["wall_seconds"]
        actions = report["actions"]
        late += [a["error_ms"] for a in actions]
        cue_late += [a["error_ms"] for a in actions if a["kind"] == "cue"]
        for o in report["outputs"]:
            # The output's span: from its attach to its end, at the rehearsal speed (the busy
            # window runs linearly, so this is the wall time it was scheduled to be fed for).
            span = scheduled(actions, "end_broadcast", o) - scheduled(actions, "attach_output", o)
            span_s = span.total_seconds() / args.speed
            short.append(span_s - (o["duration_s"] or 0.0))
        by_kind: dict[str, float] = {}
        for a in actions:
            by_kind[a["kind"]] = max(by_kind.get(a["kind"], float("-inf")), abs(a["error_ms"]))
        print(
            f"run {i}: {len(actions)} actions in {report['wall_seconds']} s; worst |late| ms by kind: "
            + ", ".join(f"{k} {v:.1f}" for k, v in sorted(by_kind.items()))
        )

    arr = np.abs(np.array(late))
    print(
        f"{len(late)} actions at {args.speed:g}×: |late| max {arr.max():.1f} ms, p95 {np.percentile(arr, 95):.1f} ms, "
        f"mean {arr.mean():.1f} ms; cues max {max(abs(x) for x in cue_late):.1f} ms; "
        f"recordings short of their span by at most {max(short):.2f} s"
    )
    print(
        json.dumps(
            {
                "bench": "rehearsal",
                "speed": args.speed,
                "actions": len(late),
                "action_late_ms_max": round(float(arr.max()), 1),
                "action_late_ms_p95": round(float(np.percentile(arr, 95)), 1),
                "action_late_ms_mean": round(float(arr.mean()), 1),
                "cue_late_ms_max": round(max(abs(x) for x in cue_late), 1),
                "recording_short_s_max": round(max(short), 2),
                "wall_s": round(wall, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
