"""Benchmark `recovery`: `summit run` killed with SIGKILL at random moments, started again each time.

Rounds of the kill drill (tests/faults/killdrill.py: a two-session event of 32 s with a YouTube
destination on the local emulator and a generic RTMP destination, both into a local nginx-rtmp),
each with `--per-round` kills at random moments (at least 4 s apart, from the preparation to the
second session's last seconds) until `--kills` kills are done. Per kill: seconds from the restart
until every output is back on the RTMP server. Per round: duplicates (a second broadcast, an action
done twice, a recreated broadcast), actions missing from the journal, attempts left open.

Targets: `restart_to_air_s_max` ≤ 3, `duplicates` 0, `incomplete` 0, `action_failures` 0. A kill in
the last seconds of the last session may leave nothing to come back to (`not_back`).

Last line: JSON with `bench`, `kills`, `rounds`, `restart_to_air_s_p50`, `restart_to_air_s_max`,
`not_back`, `duplicates`, `incomplete`, `failed_runs`, `action_failures` (in any process),
`orphan_publish_s_max` (how long a killed process's publishes linger on the server), `by_phase`, `wall_s`,
`load_avg` (the machine's 1-minute load average at the start and at the end: on a shared machine
the figures depend on it). A publish counts as back only if it began after the restart.

    python scripts/bench/recovery.py [--kills 20] [--per-round 5] [--seed 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for tests.faults

from tests.faults.killdrill import KillDrill, kill_points


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def bench(kills: int, per_round: int, seed: int, keep: Path | None) -> dict[str, Any]:
    rng = random.Random(seed)
    load_before = os.getloadavg()[0]
    wall = time.monotonic()
    restarts: list[float] = []
    not_back = duplicates = incomplete = failed_runs = failures = rounds = 0
    by_phase: dict[str, list[float]] = {}
    orphans: list[float] = []
    done = 0
    while done < kills:
        n = min(per_round, kills - done)
        points = kill_points(rng, n)
        root = Path(tempfile.mkdtemp(prefix=f"recovery-{rounds}-", dir=keep)) if keep else None
        with tempfile.TemporaryDirectory(prefix="summit-recovery-") as tmp:
            folder = root or Path(tmp)
            async with KillDrill(folder) as drill:
                result = await drill.run(points)
        rounds += 1
        done += n
        for k in result.kills:
            if k.restart_to_air_s is None:
                not_back += 1
            else:
                restarts.append(k.restart_to_air_s)
                by_phase.setdefault(k.phase, []).append(k.restart_to_air_s)
            print(f"round {rounds}: killed at {k.at_s:+.1f} s ({k.phase}): back on air in {k.restart_to_air_s} s "
                  f"(the killed process's publishes lingered {k.orphans_s} s)", flush=True)  # fmt: skip
            if k.orphans_s is not None:
                orphans.append(k.orphans_s)
        duplicates += result.duplicates
        incomplete += len(result.incomplete)
        failures += len(result.failures)
        for failure in result.failures:
            print(f"round {rounds}: failed: {failure}", flush=True)
        failed_runs += int(result.exit_code != 0 or result.summary.get("failed", 1) != 0)
        for note in result.duplicate_notes:
            print(f"round {rounds}: duplicate: {note}", flush=True)
    return {
        "bench": "recovery",
        "kills": done,
        "rounds": rounds,
        "restart_to_air_s_p50": round(_percentile(restarts, 0.5), 3) if restarts else None,
        "restart_to_air_s_max": round(max(restarts), 3) if restarts else None,
        "not_back": not_back,
        "duplicates": duplicates,
        "incomplete": incomplete,
        "failed_runs": failed_runs,
        "action_failures": failures,
        "orphan_publish_s_max": round(max(orphans), 3) if orphans else None,
        "by_phase": {p: round(max(v), 3) for p, v in sorted(by_phase.items())},
        "wall_s": round(time.monotonic() - wall, 1),
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep each round's folder (journal, logs) under DIR")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    try:
        kill_points(random.Random(0), args.per_round)
    except ValueError as err:
        raise SystemExit(f"--per-round {args.per_round}: {err}") from None
    print(json.dumps(asyncio.run(bench(args.kills, args.per_round, args.seed, args.keep))))


if __name__ == "__main__":
    main()
