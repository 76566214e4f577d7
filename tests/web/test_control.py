"""The control room's commands against a real runner on a compressed clock (the media and the
platforms are the engine's recording doubles): each checked against the run's state, applied,
journalled and announced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.engine.control import Control, ControlError, as_run, as_run_csv
from orchestrator.engine.events import OverrideApplied, PlanChanged, RunEvent
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.runner import Runner, RunnerSettings
from orchestrator.planning.actions import ActionKind
from orchestrator.planning.plan import plan
from orchestrator.planning.state import SessionState
from orchestrator.rehearsal import rehearsal_clock
from orchestrator.schedule.model import Schedule
from tests.engine.doubles import RecordingPlatform
from tests.web.control_doubles import OperatorMediaDouble

SPEED = 1200.0  # climate's hour on air in 3 wall seconds


class Room:
    def __init__(self, schedule: Schedule, tmp_path: Path, only: set[str] | None = None) -> None:
        self.plan = plan(schedule, only=only)
        self.clock = rehearsal_clock(self.plan, SPEED, start_in_s=0.3, gap_s=0.3)
        self.media = OperatorMediaDouble(self.clock)
        self.journal = SqliteJournal(tmp_path / "j.sqlite")
        self.runner = Runner(
            schedule,
            self.plan,
            clock=self.clock,
            media=self.media,
            platforms={d.id: RecordingPlatform() for d in schedule.destinations},
            journal=self.journal,
            settings=RunnerSettings(cue_arm_lead_s=0.05),
        )
        self.control = Control(self.runner, self.media, self.journal, self.runner.bus, self.clock)
        self.events: list[RunEvent] = []
        self.runner.bus.subscribe(self.events.append)
        self.task: asyncio.Task[object] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.runner.run())

    async def until(self, what: Callable[[], bool], timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not what():
            assert time.monotonic() < deadline, "the run did not get there in time"
            await asyncio.sleep(0.01)

    def state(self, sid: str) -> SessionState:
        return self.runner.snapshot().state(sid)

    def outcome(self, action_id: str) -> str | None:
        r = self.runner.snapshot().results.get(action_id)
        return None if r is None else ("taken" if r.detail.get("applied") == "on_frame" else r.outcome)

    def cues(self, sid: str) -> list[str]:
        return [a.id for a in self.plan.for_session(sid) if a.kind == ActionKind.CUE]

    async def finish(self, close: bool = True) -> None:
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)
        if close:
            self.journal.close()


async def test_refusals_name_the_reason_and_are_journalled(two_sessions: Schedule, tmp_path: Path) -> None:
    room = Room(two_sessions, tmp_path)
    c = room.control
    with pytest.raises(ControlError, match="the run is not under way") as early:
        await c.hold("ana", "climate")
    assert early.value.status == 409
    room.start()
    await room.until(lambda: room.runner.running)
    refusals = [
        (c.hold("ana", "nope"), 404, "no session 'nope'"),
        (c.hold("ana", "climate"), 409, "its programme is not running"),
        (c.resume("ana", "climate"), 409, "not held"),
        (c.extend("ana", "climate", 300), 409, "only a session on air"),
        (c.take("ana", "climate", "standby"), 409, "programme is not running"),
        (c.restart_output("ana", "climate", "nowhere"), 404, "no destination 'nowhere'"),
        (c.restart_output("ana", "climate", "rec-ko"), 409, "is not taking"),
        (c.acknowledge("ana", 1), 404, "no alert number 1"),
    ]
    for call, status, words in refusals:
        with pytest.raises(ControlError) as caught:
            await call
        assert caught.value.status == status and words in caught.value.message
    assert room.task is not None
    room.task.cancel()
    records = room.journal.overrides()
    assert [(r.who, r.command, r.outcome) for r in records][:4] == [
        ("ana", "hold", "refused"),
        ("ana", "hold", "refused"),
        ("ana", "hold", "refused"),
        ("ana", "resume", "refused"),
    ]
    assert "no session 'nope'" in (records[1].detail or "")
    assert not [e for e in room.events if isinstance(e, OverrideApplied)]  # nothing refused is announced


async def test_hold_stops_the_changeovers_and_resume_shows_what_is_due(two_sessions: Schedule, tmp_path: Path) -> None:
    room = Room(two_sessions, tmp_path, only={"climate"})
    first, mayor, clip, brk, closing = room.cues("climate")
    room.start()
    await room.until(lambda: room.outcome(first) == "taken" and room.state("climate") == SessionState.LIVE)
    done = await room.control.hold("ana", "climate")
    mayor_before = room.outcome(mayor)  # due 0.1 s after the first: it may have been taken already
    assert done.command == "hold" and room.runner.snapshot().held == {"climate"}
    with pytest.raises(ControlError, match="already held"):
        await room.control.hold("ana", "climate")
    # past the time of the next two cues and the session's end: nothing moved, the programme stays
    end_wall = room.clock.to_wall(room.plan.cue_sheets["climate"].end)
    await asyncio.sleep(max(0.0, end_wall - time.time()) + 0.3)
    assert [room.outcome(i) for i in (clip, brk, closing)] == [None, None, None]
    assert room.outcome(mayor) == mayor_before
    assert room.state("climate") == SessionState.OVERRUN and room.outcome("climate/end") is None
    assert ("stop", "climate") not in [(w, t) for w, t, _ in room.media.calls]
    await room.control.resume("bo", "climate")
    await room.finish()
    # of the cues that fell due while held only the latest took the programme; the session then ended
    assert [room.outcome(i) for i in (clip, brk, closing)] == ["skipped", "skipped", "taken"]
    assert room.outcome(mayor) == ("taken" if mayor_before == "taken" else "skipped")
    assert "passed while held by bo" in room.runner.snapshot().results[clip].detail["why"]
    assert room.state("climate") == SessionState.ENDED
    announced = [(e.who, e.command) for e in room.events if isinstance(e, OverrideApplied)]
    assert announced == [("ana", "hold"), ("bo", "resume")]
    journal = SqliteJournal(tmp_path / "j.sqlite")
    assert [(r.who, r.command, r.outcome) for r in journal.overrides()] == [
        ("ana", "hold", "ok"),
        ("ana", "hold", "refused"),
        ("bo", "resume", "ok"),
    ]
    rows = as_run(journal)
    whats = [(r.who, r.what) for r in rows]
    assert ("ana", "hold") in whats and ("automatic", "stop_programme") in whats
    assert (
        as_run_csv(rows).splitlines()[0]
        == "at,who,what,id,session,destination,scheduled,executed,outcome,late_ms,detail"
    )


async def test_extend_moves_the_end_and_every_later_action(two_sessions: Schedule, tmp_path: Path) -> None:
    room = Room(two_sessions, tmp_path, only={"climate"})
    first, _mayor, _clip, brk, _closing = room.cues("climate")
    planned_end = room.plan.cue_sheets["climate"].end
    planned_break = room.plan.action(brk).at
    room.start()
    await room.until(lambda: room.outcome(first) == "taken" and room.state("climate") == SessionState.LIVE)
    with pytest.raises(ControlError, match=r"(into|in) the past"):
        await room.control.extend("ana", "climate", -3 * 3600)
    await room.control.hold("ana", "climate")
    await room.control.extend("ana", "climate", 600)
    assert not set(room.media.withdrawn) & set(room.media.armed)  # what the hold took back stays back
    await room.control.resume("ana", "climate")
    changed = [e for e in room.events if isinstance(e, PlanChanged)]
    assert len(changed) == 1 and changed[0].plan.cue_sheets["climate"].end == planned_end.replace() + _minutes(10)
    await room.finish()
    results = room.runner.snapshot().results
    assert results["climate/end"].executed is not None and results["climate/end"].executed >= planned_end + _minutes(10)
    assert results[brk].executed is not None and results[brk].executed >= planned_break + _minutes(10)
    assert room.runner.plan.action("climate/end").at == planned_end + _minutes(10)
    assert all(r.outcome == "ok" for r in results.values())


async def test_take_skip_fallback_route_acknowledge_and_cancel(two_sessions: Schedule, tmp_path: Path) -> None:
    room = Room(two_sessions, tmp_path)
    first, mayor, clip, _brk, _closing = room.cues("climate")
    room.start()
    await room.until(lambda: room.outcome(first) == "taken" and room.state("climate") == SessionState.LIVE)
    c = room.control
    await c.hold("ana", "climate")  # keep the rundown still while the commands are checked
    taken = await c.take("ana", "climate", "standby")
    assert taken.detail == "took the stand-by slate"
    await room.until(lambda: room.media.current["climate"].label == "stand-by slate")
    with pytest.raises(ControlError) as no_segment:
        await c.take("ana", "climate", "segment", segment="nope")
    assert no_segment.value.status == 404 and "has no segment 'nope'" in no_segment.value.message
    with pytest.raises(ControlError, match="no live source"):
        await c.fallback("ana", "climate")  # a slate is on
    await c.take("ana", "climate", "segment", segment=room.plan.action(mayor).cue.segment_id)  # type: ignore[union-attr]
    await room.until(lambda: room.media.current["climate"].video.speaker_id == "mayor")
    fell = await c.fallback("ana", "climate")
    assert "mayor" in fell.detail
    skipped = await c.skip("ana", "climate")
    gone = [a for a in (mayor, clip) if room.outcome(a) == "skipped"]  # mayor's, unless it was taken before the hold
    assert len(gone) == 1 and room.plan.action(gone[0]).label in skipped.detail
    with pytest.raises(ControlError) as bad_lang:
        await c.route("ana", "climate", "fr", "floor")
    assert bad_lang.value.status == 422
    await c.route("ana", "climate", "en", "floor")
    assert room.media.routes == [("climate", "en", "floor")]
    await room.until(lambda: room.runner.attached("climate", "rec-ko"))
    restarted = await c.restart_output("ana", "climate", "rec-ko")
    assert restarted.detail.startswith("rec-ko restarted")
    calls = [(w, t) for w, t, _ in room.media.calls]
    assert calls.count(("attach", "climate/rec-ko")) == 2 and ("detach", "climate/rec-ko") in calls
    assert room.runner.attached("climate", "rec-ko")
    room.runner.bus.alert("warning", "rec-en is slow")
    await asyncio.sleep(0)
    await c.acknowledge("bo", 1)
    with pytest.raises(ControlError, match="acknowledged by bo already"):
        await c.acknowledge("ana", 1)
    cancelled = await c.cancel("ana", "dialogue")
    assert "cancelled" in cancelled.detail
    with pytest.raises(ControlError, match="only a session not yet on air"):
        await c.cancel("ana", "climate")
    await c.resume("ana", "climate")
    await room.finish()
    snap = room.runner.snapshot()
    assert snap.state("dialogue") == SessionState.CANCELLED and snap.state("climate") == SessionState.ENDED
    assert all(
        r.outcome == "skipped" for a, r in snap.results.items() if a.startswith("dialogue/") and a != "dialogue/end"
    )
    commands = [(o.who, o.command) for o in snap.overrides]
    assert commands == [
        ("ana", "hold"),
        ("ana", "take"),
        ("ana", "take"),
        ("ana", "fallback"),
        ("ana", "skip"),
        ("ana", "route"),
        ("ana", "restart_output"),
        ("bo", "acknowledge"),
        ("ana", "cancel"),
        ("ana", "resume"),
    ]


def _minutes(n: int):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(minutes=n)
