"""What the control room did survives a restart: a second process on the same journal (and the same
clock) takes up the holds, extends, routes, takes and acknowledgements of the one that died, the
alerts keep their numbers, and a cue handed to the programme just before the death is not lost.

The processes here are a real runner and control room with the engine's recording doubles for
media and platforms; the first is stopped dead (its task cancelled, its armed cues dropped, its
journal closed) as a kill would. tests/faults/test_override_replay_kill.py does it with SIGKILL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.clock import Clock
from orchestrator.engine.control import Control, ControlError, replayed_plan
from orchestrator.engine.events import AlertRaised, OverrideApplied, RunEvent
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.runner import Runner, RunnerSettings
from orchestrator.planning.actions import ActionKind
from orchestrator.planning.plan import Plan, plan
from orchestrator.planning.state import SessionState
from orchestrator.rehearsal import rehearsal_clock
from orchestrator.schedule.model import Schedule
from orchestrator.system import _journal_alerts
from tests.engine.doubles import RecordingPlatform
from tests.web.control_doubles import OperatorMediaDouble

pytestmark = pytest.mark.slow

SPEED = 400.0  # climate's hour in 9 wall seconds: room for a death and a restart between two cues


class Process:
    """One orchestrator process on the shared journal file and clock, wired as build_system does."""

    def __init__(self, schedule: Schedule, first_plan: Plan, clock: Clock, path: Path, lead_s: float = 0.05) -> None:
        self.clock = clock
        self.journal = SqliteJournal(path)
        overrides = self.journal.overrides()
        self.plan = replayed_plan(first_plan, overrides, self.journal.actions())
        self.media = OperatorMediaDouble(clock)
        self.runner = Runner(
            schedule,
            self.plan,
            clock=clock,
            media=self.media,
            platforms={d.id: RecordingPlatform() for d in schedule.destinations},
            journal=self.journal,
            settings=RunnerSettings(cue_arm_lead_s=lead_s),
        )
        self.runner.bus.subscribe(_journal_alerts(self.journal))
        self.control = Control(self.runner, self.media, self.journal, self.runner.bus, clock)
        self.control.restore(overrides, self.journal.alerts())
        self.events: list[RunEvent] = []
        self.runner.bus.subscribe(self.events.append)
        self.task: asyncio.Task[object] = asyncio.create_task(self.runner.run())

    async def until(self, what: Callable[[], bool], timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not what():
            assert not self.task.done(), "the run ended first"
            assert time.monotonic() < deadline, "the run did not get there in time"
            await asyncio.sleep(0.01)

    def outcome(self, action_id: str) -> str | None:
        r = self.runner.snapshot().results.get(action_id)
        return None if r is None else ("taken" if r.detail.get("applied") == "on_frame" else r.outcome)

    async def die(self) -> None:
        """As a kill: nothing more runs, nothing more is written."""
        self.task.cancel()
        for handle in self.media.armed.values():
            handle.cancel()
        for hold in self.control._holds.values():  # its timers die with it
            hold.close()
        await asyncio.gather(self.task, return_exceptions=True)
        self.journal.close()

    async def finish(self) -> None:
        await asyncio.wait_for(self.task, 30)
        self.journal.close()


def climate(schedule: Schedule) -> tuple[Plan, Clock, list[str]]:
    the_plan = plan(schedule, only={"climate"})
    clock = rehearsal_clock(the_plan, SPEED, start_in_s=0.3, gap_s=0.3)
    cues = [a.id for a in the_plan.for_session("climate") if a.kind == ActionKind.CUE]
    return the_plan, clock, cues


async def sleep_past(clock: Clock, the_plan: Plan, action_id: str, extra_s: float = 0.2) -> None:
    await asyncio.sleep(max(0.0, clock.to_wall(the_plan.action(action_id).at) - time.time()) + extra_s)


async def test_a_hold_survives_the_death_of_its_process(two_sessions: Schedule, tmp_path: Path) -> None:
    first_plan, clock, (first, mayor, clip, brk, closing) = climate(two_sessions)
    one = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite")
    await one.until(lambda: one.outcome(mayor) == "taken")
    await one.control.hold("ana", "climate")
    await one.die()
    await sleep_past(clock, first_plan, brk)  # the clip's and the break's times pass while nobody runs

    two = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite")
    await two.until(lambda: two.runner.running and two.media.current.get("climate") is not None)
    assert two.control.held() == {"climate"} and two.runner.snapshot().held == {"climate"}
    # the programme is back on what was on air when it was held, not on what fell due since
    assert two.media.current["climate"].id == mayor
    await asyncio.sleep(0.3)
    # the missed clip is superseded by the break (the policy for missed cues), which the hold keeps back
    assert [two.outcome(i) for i in (clip, brk)] == ["skipped", None]
    notes = [e.message for e in two.events if isinstance(e, AlertRaised) and not e.restored]
    assert any("kept as the operators left them: hold on climate (by ana)" in n for n in notes)
    restored = [(e.who, e.command, e.restored) for e in two.events if isinstance(e, OverrideApplied)]
    assert restored == [("ana", "hold", True)]
    with pytest.raises(ControlError, match="already held"):
        await two.control.hold("bo", "climate")

    await two.control.resume("bo", "climate")
    await two.finish()
    # of the cues that fell due while held only the latest took the programme, then the session ended
    assert [two.outcome(i) for i in (clip, brk, closing)] == ["skipped", "taken", "taken"]
    assert two.runner.snapshot().state("climate") == SessionState.ENDED
    journal = SqliteJournal(tmp_path / "j.sqlite")
    assert [(o.who, o.command, o.outcome) for o in journal.overrides()] == [
        ("ana", "hold", "ok"),
        ("bo", "hold", "refused"),
        ("bo", "resume", "ok"),
    ]
    assert {a.id for a in first_plan.actions} <= {a.id for a in journal.actions() if a.outcome in ("ok", "skipped")}
    journal.close()
    assert first


async def test_an_extend_survives_and_the_session_ends_late(two_sessions: Schedule, tmp_path: Path) -> None:
    first_plan, clock, (_first, mayor, _clip, brk, _closing) = climate(two_sessions)
    planned_end = first_plan.action("climate/end").at
    one = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite")
    await one.until(lambda: one.outcome(mayor) == "taken")
    await one.control.extend("ana", "climate", 600)
    await one.control.extend("ana", "climate", -120)
    await one.die()

    two = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite")
    moved = timedelta(seconds=480)
    assert two.plan.action("climate/end").at == planned_end + moved
    assert two.plan.action(brk).at == first_plan.action(brk).at + moved
    assert two.plan.action(mayor).at == first_plan.action(mayor).at  # it had run: it stays where it was
    assert two.plan.cue_sheets["climate"].end == first_plan.cue_sheets["climate"].end + moved
    await two.finish()
    results = two.runner.snapshot().results
    ended = results["climate/end"].executed
    assert ended is not None and ended >= planned_end + moved
    assert all(r.outcome == "ok" for r in results.values() if not r.from_journal)


async def test_routes_takes_and_acknowledgements_survive(two_sessions: Schedule, tmp_path: Path) -> None:
    first_plan, clock, (_first, mayor, _clip, _brk, _closing) = climate(two_sessions)
    one = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite")
    await one.until(lambda: one.outcome(mayor) == "taken")
    await one.control.hold("ana", "climate")  # the rundown stays still: the take stays on
    await one.control.take("ana", "climate", "slate", title="Technical difficulties", subtitle="잠시만 기다려 주세요")
    await one.control.route("ana", "climate", "en", "floor")
    one.runner.bus.alert("warning", "rec-en is slow")
    one.runner.bus.alert("error", "the studio feed stutters")
    await asyncio.sleep(0.05)
    await one.control.acknowledge("bo", 2)
    await one.die()

    two = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite")
    await two.until(lambda: getattr(two.media.current.get("climate"), "label", "") == "slate Technical difficulties")
    assert two.media.routes == [("climate", "en", "floor")]
    alerts = two.runner.snapshot().alerts
    assert [a.message for a in alerts[:2]] == ["rec-en is slow", "the studio feed stutters"]
    assert all(a.restored for a in alerts[:2]) and not any(a.restored for a in alerts[2:])
    with pytest.raises(ControlError, match="acknowledged by bo already"):
        await two.control.acknowledge("ana", 2)
    await two.control.acknowledge("ana", 1)
    await two.control.resume("ana", "climate")
    await two.finish()
    journal = SqliteJournal(tmp_path / "j.sqlite")
    messages = [a.message for a in journal.alerts()]
    assert messages.count("rec-en is slow") == 1  # a restored alert is not journalled twice
    journal.close()


async def test_a_take_a_later_segment_replaced_is_not_taken_again(two_sessions: Schedule, tmp_path: Path) -> None:
    first_plan, clock, (_first, mayor, clip, _brk, _closing) = climate(two_sessions)
    one = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite")
    await one.until(lambda: one.outcome(mayor) == "taken")
    await one.control.take("ana", "climate", "standby")
    await one.die()
    await sleep_past(clock, first_plan, clip)

    two = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite")
    await two.until(lambda: two.outcome(clip) == "taken")
    await asyncio.sleep(0.2)
    assert two.media.current["climate"].id == clip
    assert not [c for _w, c, _ in two.media.calls if "/take/" in str(c)]
    await two.finish()


async def test_a_cue_handed_over_ahead_and_killed_before_its_frame_is_not_lost(
    two_sessions: Schedule, tmp_path: Path
) -> None:
    first_plan, clock, (_first, mayor, clip, _brk, _closing) = climate(two_sessions)
    # the first process hands cues over 1.2 s ahead: it dies with the clip armed and not yet on
    one = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite", lead_s=1.2)
    await one.until(lambda: one.outcome(mayor) == "taken" and one.outcome(clip) == "ok")
    assert time.time() < clock.to_wall(first_plan.action(clip).at) - 0.3
    await one.die()

    two = Process(two_sessions, first_plan, clock, tmp_path / "j.sqlite")
    await two.until(lambda: two.outcome(clip) == "taken")
    journal_detail = two.journal.detail(clip)
    assert journal_detail is not None and journal_detail["applied"] == "on_frame"
    await two.finish()
