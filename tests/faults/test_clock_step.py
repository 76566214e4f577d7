"""A clock step (NTP correcting the system clock by ±2 s) in the middle of a real session: every
action runs once, every cue takes the programme once and in order, and the recording carries on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
import yaml

from orchestrator.clock import SystemClock
from orchestrator.engine.events import CueTaken, RunEvent
from orchestrator.outputs import FileOutputs
from orchestrator.planning.actions import ActionKind
from orchestrator.schedule.loader import parse_schedule_text
from orchestrator.system import SystemSettings, build_system

pytestmark = [pytest.mark.slow, pytest.mark.faults]


class SteppedWall:
    """time.time(), stepped by `step_s` at each of `at` (seconds from now)."""

    def __init__(self, steps: list[tuple[float, float]]) -> None:
        self._origin = time.time()
        self._steps = steps

    def __call__(self) -> float:
        real = time.time()
        return real + sum(step for after, step in self._steps if real - self._origin >= after)


@pytest.mark.parametrize("first_step", [2.0, -2.0])
async def test_a_clock_step_of_two_seconds(tmp_path: Path, first_step: float) -> None:
    start = datetime.now(UTC) + timedelta(seconds=3)
    doc = {
        "event": {"id": "clock-step", "name": {"en": "Clock step"}, "timezone": "UTC"},
        "destinations": [{"id": "rec-en", "kind": "file", "language": "en"}],
        "sessions": [
            {
                "id": "a",
                "title": {"en": "A"},
                "start": start.isoformat(),
                "end": (start + timedelta(seconds=12)).isoformat(),
                "floor_language": "en",
                "outputs": ["rec-en"],
                "rundown": [{"kind": "slate", "text": f"Part {i}", "duration": "4s"} for i in (1, 2, 3)],
            }
        ],
    }
    schedule = parse_schedule_text(yaml.safe_dump(doc), "clock-step.yaml")
    # stepped in the first part, stepped back in the second
    clock = SystemClock(SteppedWall([(5.0, first_step), (9.0, -first_step)]))
    settings = SystemSettings(journal_path=tmp_path / "j.sqlite", recordings_dir=tmp_path / "rec",
                              media_dir=tmp_path / "media")  # fmt: skip
    taken: list[CueTaken] = []

    def watch(event: RunEvent) -> None:
        if isinstance(event, CueTaken):
            taken.append(event)

    async with build_system(schedule, clock, FileOutputs(), settings) as system:
        system.subscribe(watch)
        snapshot = await system.run()
        await system.media.close()
        attempts = system.journal.attempts()
    assert {r.outcome for r in snapshot.results.values()} == {"ok"}
    cues = [a.id for a in snapshot.plan.actions if a.kind == ActionKind.CUE]
    assert [t.cue_id for t in taken] == cues  # each cue once, in order
    frames = [t.frame_index for t in taken]
    assert frames == sorted(frames)
    ran = [a.action for a in attempts]
    assert len(ran) == len(set(ran)) == len(snapshot.plan.actions)  # every action ran once
    with av.open(str(tmp_path / "rec" / "clock-step" / "a" / "rec-en.flv")) as f:
        decoded = sum(1 for _ in f.decode(video=0))
    assert decoded > 30 * 6  # the recording carried on through both steps
