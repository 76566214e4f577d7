#!/usr/bin/env python3
"""Generate demo media for the pre-recorded clips of one or more schedules.

    python scripts/make_demo_media.py schedules/cac-2020.yaml --media-dir media

Writes, under the media folder, an mp4 for every clip that is missing (or is a demo clip of the wrong
length); files already there with the declared duration are kept, so running it twice is cheap.
Exit status: 0 on success, 2 if a schedule does not load.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    from orchestrator.schedule.loader import ScheduleError, load_schedule
    from orchestrator.standins.demo_media import ensure_demo_clips
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from orchestrator.schedule.loader import ScheduleError, load_schedule
    from orchestrator.standins.demo_media import ensure_demo_clips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schedules", nargs="+", type=Path, help="schedule files (YAML)")
    parser.add_argument("--media-dir", type=Path, default=Path("media"), help="where clips live (default: media)")
    parser.add_argument("--jobs", type=int, default=None, help="encoder processes (default: CPU count)")
    parser.add_argument("--log-format", choices=("console", "json"), default="console")
    args = parser.parse_args(argv)
    try:
        from orchestrator.logconfig import configure_logging
    except ImportError:  # logging set-up not there: structlog's defaults
        pass
    else:
        configure_logging(args.log_format, "info")

    loaded = []
    for path in args.schedules:
        try:
            loaded.append((path, load_schedule(path)))
        except ScheduleError as exc:
            print(exc, file=sys.stderr)
            return 2

    total = 0
    for path, schedule in loaded:
        t0 = time.perf_counter()
        created = ensure_demo_clips(schedule, args.media_dir, jobs=args.jobs)
        took = time.perf_counter() - t0
        total += len(created)
        print(
            f"{path}: {len(created)} of {len(schedule.clips)} clips created under {args.media_dir} "
            f"in {took:.1f} s ({len(schedule.clips) - len(created)} already there)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
