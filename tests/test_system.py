"""The composition root with real media on a compressed clock: what an observer of the run sees,
in what order, and what the snapshot says at the end. Files are the outputs strategy here (the
emulated platforms are covered by tests/test_rehearsal.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.events import (
    ActionFinished,
    ActionStarted,
    CueTaken,
    OutputAttached,
    OutputDetached,
    OutputPrepared,
    RunEvent,
    RunFinished,
    RunStarted,
    SessionStateChanged,
)
from orchestrator.outputs import FileOutputs
from orchestrator.planning.actions import ActionKind
from orchestrator.planning.state import SessionState
from orchestrator.rehearsal import rehearsal_clock
from orchestrator.schedule.model import Schedule
from orchestrator.standins.demo_media import ensure_demo_clips
from orchestrator.system import SystemSettings, build_system, make_plan

pytestmark = pytest.mark.slow


async def test_an_observer_sees_the_whole_run_in_order(two_sessions: Schedule, tmp_path: Path) -> None:
    ensure_demo_clips(two_sessions, tmp_path / "media")
    settings = SystemSettings(
        journal_path=tmp_path / "journal.sqlite",
        recordings_dir=tmp_path / "recordings",
        media_dir=tmp_path / "media",
        only=frozenset({"climate"}),
    )
    the_plan = make_plan(two_sessions, settings)
    clock = rehearsal_clock(the_plan, 900, start_in_s=1.0, gap_s=0.5)
    events: list[RunEvent] = []
    async with build_system(two_sessions, clock, FileOutputs(), settings, the_plan=the_plan) as system:
        system.subscribe(events.append)
        snapshot = await system.run()
        recordings = await system.recordings(snapshot)

    assert isinstance(events[0], RunStarted) and events[0].plan is the_plan
    assert isinstance(events[-1], RunFinished)
    # every action started and finished once, in that order, ok
    started = [e.action.id for e in events if isinstance(e, ActionStarted)]
    finished = [e.result.action.id for e in events if isinstance(e, ActionFinished)]
    assert sorted(started) == sorted(finished) == sorted(a.id for a in the_plan.actions)
    position = {id(e): i for i, e in enumerate(events)}
    for e in events:
        if isinstance(e, ActionFinished):
            start = next(s for s in events if isinstance(s, ActionStarted) and s.action.id == e.result.action.id)
            assert position[id(start)] < position[id(e)] and e.result.outcome == "ok"
    # the session's states, in order
    states = [e.state for e in events if isinstance(e, SessionStateChanged) and e.session == "climate"]
    assert states == [SessionState.PREPARING, SessionState.STANDBY, SessionState.LIVE, SessionState.ENDED]
    # each output: prepared (a path, no secret), attached, detached with what it wrote
    for did in ("rec-ko", "rec-en"):
        kinds = [
            type(e)
            for e in events
            if isinstance(e, OutputPrepared | OutputAttached | OutputDetached) and e.destination == did
        ]
        assert kinds == [OutputPrepared, OutputAttached, OutputDetached]
        detached = next(e for e in events if isinstance(e, OutputDetached) and e.destination == did)
        assert detached.frames > 0 and detached.bytes > 0 and detached.errors == ()
        assert Path(recordings[("climate", did)]).stat().st_size > 0
    # every cue took the programme on a frame, reported as it happened, before the session ended
    cues = [a.id for a in the_plan.actions if a.kind == ActionKind.CUE]
    taken = [e for e in events if isinstance(e, CueTaken)]
    assert sorted(e.cue_id for e in taken) == sorted(cues)
    ended = next(
        i for i, e in enumerate(events) if isinstance(e, SessionStateChanged) and e.state == SessionState.ENDED
    )
    assert all(position[id(e)] < ended for e in taken)
    # the snapshot agrees with the events and is read-only
    assert snapshot.state("climate") == SessionState.ENDED
    assert snapshot.count("ok") == len(the_plan.actions) and not snapshot.pending()
    assert all(snapshot.results[c].detail["applied"] == "on_frame" for c in cues)
    with pytest.raises(TypeError):
        snapshot.results["x"] = snapshot.results[cues[0]]  # type: ignore[index]
