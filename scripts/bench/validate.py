"""Benchmark `validate`: how long and how much memory loading and checking a schedule of 10,000
sessions takes, against the old way measured in the same run.

A schedule of `--sessions` back-to-back sessions (each with a five-segment rundown, two outputs and
a booth; speakers, clips and destinations shared) is written to a temporary file. Each way of
loading runs in its own child process, so its peak resident memory is its own:

- new: `orchestrator.schedule.loader.load_schedule` (one libyaml parse, measured, then built);
- baseline: the loader before issue 10 — the text composed by pure-Python PyYAML for the line map
  and the duplicate-key walk, parsed again by `yaml.safe_load`, then the same pydantic model and
  the same whole-document checks.

Both must accept the file. Last line: JSON with `sessions`, `bytes`, `seconds`, `peak_mb`,
`baseline_seconds`, `baseline_peak_mb`, `ratio` (baseline seconds / new seconds) and `memory_ratio`.

    python scripts/bench/validate.py [--sessions 10000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

HERE = Path(__file__).resolve()


def make_schedule(sessions: int) -> str:
    """A valid schedule: sessions of 30 minutes one after the other (no clash of outputs or people)."""
    speakers = 200
    lines = [
        "event:",
        "  id: bench",
        "  name: {en: Benchmark summit, ko: 벤치마크 정상회의}",
        "  timezone: Asia/Seoul",
        "speakers:",
    ]
    lines += [
        f"  - {{id: sp{i}, name: Speaker {i}, city: Seoul, languages: [{'ko' if i % 2 else 'en'}], appearance: studio}}"
        for i in range(speakers)
    ]
    lines += [
        "interpreters:",
        "  - {id: kim, name: Kim Ji-young, languages: [ko, en]}",
        "  - {id: lee, name: Lee Min-ho, languages: [en, ko]}",
        "booths:",
        "  - {id: ko-en, languages: [ko, en], interpreters: [kim, lee]}",
        "clips:",
    ]
    lines += [f"  - {{id: clip{i}, path: bench/clip{i}.mp4, duration: 5m, language: en}}" for i in range(100)]
    lines += [
        "destinations:",
        "  - {id: yt-ko, kind: youtube, language: ko, channel: Seoul KO, credentials: seoul-ko}",
        "  - {id: rec-en, kind: file, language: en}",
        "sessions:",
    ]
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    kst = "+09:00"
    for n in range(sessions):
        s = (start + timedelta(minutes=30 * n)).astimezone(UTC) + timedelta(hours=9)
        e = s + timedelta(minutes=30)
        lines += [
            f"  - id: s{n}",
            f"    title: {{en: Session {n}, ko: 세션 {n}}}",
            f"    start: {s:%Y-%m-%dT%H:%M:%S}{kst}",
            f"    end: {e:%Y-%m-%dT%H:%M:%S}{kst}",
            "    floor_language: ko",
            "    outputs: [yt-ko, rec-en]",
            "    booths: [ko-en]",
            "    rundown:",
            "      - {kind: slate, text: Opening, duration: 1m}",
            f"      - {{kind: studio, speaker: sp{(2 * n) % speakers}, duration: 8m}}",
            f"      - {{kind: clip, clip: clip{n % 100}}}",
            f"      - {{kind: studio, speaker: sp{(2 * n + 1) % speakers}, duration: 8m}}",
            "      - {kind: break, duration: 3m}",
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The two ways, each run in a child


def _old_way(path: Path) -> Any:
    """The loader as it was: compose (pure Python) for lines and duplicate keys, parse again, validate."""
    import yaml

    from orchestrator.schedule.checks import check_schedule
    from orchestrator.schedule.model import Schedule

    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    data = yaml.load(text, Loader=yaml.SafeLoader)

    def line_map(node: yaml.Node, prefix: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
        lines = {prefix: node.start_mark.line + 1}
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                lines.update(line_map(v, (*prefix, k.value)))
                lines[(*prefix, k.value)] = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines.update(line_map(item, (*prefix, i)))
        return lines

    def duplicates(node: yaml.Node) -> int:
        found = 0
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                found += k.value in seen
                seen.add(k.value)
                found += duplicates(v)
        elif isinstance(node, yaml.SequenceNode):
            found += sum(duplicates(item) for item in node.value)
        return found

    line_map(root)
    assert duplicates(root) == 0
    schedule = Schedule.model_validate(data)
    assert not [p for p in check_schedule(schedule) if p.severity == "error"]
    return schedule


def _new_way(path: Path) -> Any:
    from orchestrator.schedule.loader import load_schedule

    return load_schedule(path)


def child(way: str, path: str) -> None:
    run = {"new": _new_way, "baseline": _old_way}[way]
    t0 = time.perf_counter()
    schedule = run(Path(path))
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"seconds": round(seconds, 3), "peak_mb": round(peak_kb / 1024, 1), "sessions": len(schedule.sessions)}
        )
    )


def measure(way: str, path: Path, repeat: int) -> dict[str, float]:
    """The best of `repeat` runs (time and memory of the same, fastest run)."""
    best: dict[str, float] | None = None
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, str(HERE), "child", way, str(path)], capture_output=True, text=True, check=True
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each way; the fastest counts")
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(make_schedule(args.sessions), encoding="utf-8")
        size = path.stat().st_size
        new = measure("new", path, args.repeat)
        old = measure("baseline", path, args.repeat)
    assert new["sessions"] == old["sessions"] == args.sessions
    print(f"new:      {new['seconds']:.2f} s, peak {new['peak_mb']:.0f} MB")
    print(f"baseline: {old['seconds']:.2f} s, peak {old['peak_mb']:.0f} MB")
    print(
        json.dumps(
            {
                "bench": "validate",
                "sessions": args.sessions,
                "bytes": size,
                "seconds": new["seconds"],
                "peak_mb": new["peak_mb"],
                "baseline_seconds": old["seconds"],
                "baseline_peak_mb": old["peak_mb"],
                "ratio": round(old["seconds"] / new["seconds"], 2),
                "memory_ratio": round(old["peak_mb"] / new["peak_mb"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
