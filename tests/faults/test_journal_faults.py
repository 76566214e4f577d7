"""A journal whose disk is full or turned read-only: the run goes on, the operators are told,
nothing is lost.

The faults are SQLite's own: the connection's `max_page_count` held at the database's size makes
every write that needs a page fail with SQLITE_FULL ("database or disk is full"), as a full disk
does; `query_only` makes every write fail as on a disk remounted read-only. What the disk refuses waits in memory, in order, still answers the runner's questions, and
is written once there is room again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from orchestrator.engine.control import Control
from orchestrator.engine.events import AlertRaised, RunEvent
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.runner import Runner, RunnerSettings
from orchestrator.planning.actions import ActionKind
from orchestrator.planning.plan import plan
from orchestrator.rehearsal import rehearsal_clock
from orchestrator.schedule.model import Schedule
from orchestrator.system import _journal_alerts, _journal_trouble
from tests.engine.doubles import RecordingPlatform
from tests.web.control_doubles import OperatorMediaDouble


def fill(journal: SqliteJournal) -> None:
    """The disk is full from now on (for this connection): the database cannot grow by a page."""
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    journal._db.execute(f"PRAGMA max_page_count = {pages}")


def read_only(journal: SqliteJournal, on: bool = True) -> None:
    """The disk turned read-only (as ext4 does after I/O errors, errors=remount-ro), then back."""
    journal._db.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")


def make_room(journal: SqliteJournal) -> None:
    journal._db.execute("PRAGMA max_page_count = 1073741823")


def test_refused_writes_wait_in_order_answer_questions_and_land_later(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    heard: list[tuple[str | None, int]] = []
    journal.watch(lambda problem, waiting: heard.append((problem, waiting)))
    journal.begin("s/prepare", "2020-06-01T00:00:00+00:00")
    journal.record("s/prepare", kind="prepare_media", session="s", destination=None, scheduled="2020-06-01T00:00:00+00:00",
                   executed="2020-06-01T00:00:00+00:00", error_ms=1.0, outcome="ok")  # fmt: skip
    fill(journal)
    for i in range(200):  # enough to need pages the disk does not have
        journal.record_alert(level="info", message=f"alert {i} " + "x" * 400, at="2020-06-01T00:00:01+00:00")
    journal.begin("s/cue", "2020-06-01T00:00:02+00:00")
    journal.record("s/cue", kind="cue", session="s", destination=None, scheduled="2020-06-01T00:00:02+00:00",
                   executed="2020-06-01T00:00:02+00:00", error_ms=3.0, outcome="ok", detail={"applied": "on_frame"})  # fmt: skip
    journal.remember("youtube/s/broadcast", "b-123")
    journal.forget("youtube/old")
    assert journal.waiting > 0
    assert heard == [("database or disk is full", heard[0][1])]  # told once, not per write
    # what waits still answers the runner and the adapters
    assert journal.done("s/cue") and journal.outcome("s/cue") == "ok"
    assert journal.detail("s/cue") == {"applied": "on_frame"}
    assert journal.recall("youtube/s/broadcast") == "b-123"
    assert not journal.flush()  # still full
    make_room(journal)
    assert journal.flush() and journal.waiting == 0
    assert heard[-1] == (None, 0)
    journal.close()

    again = SqliteJournal(tmp_path / "j.sqlite")
    assert [a.id for a in again.actions()] == ["s/prepare", "s/cue"]
    assert again.detail("s/cue") == {"applied": "on_frame"}
    assert again.recall("youtube/s/broadcast") == "b-123"
    messages = [a.message.split(" ")[1] for a in again.alerts()]
    assert messages == [str(i) for i in range(200)]  # every one, in order
    assert [(a.action, a.outcome) for a in again.attempts()] == [("s/prepare", "ok"), ("s/cue", "ok")]
    again.close()


async def test_a_run_goes_on_with_a_read_only_journal_and_loses_nothing(two_sessions: Schedule, tmp_path: Path) -> None:
    the_plan = plan(two_sessions, only={"climate"})
    clock = rehearsal_clock(the_plan, 600.0, start_in_s=0.3, gap_s=0.3)
    journal = SqliteJournal(tmp_path / "j.sqlite")
    media = OperatorMediaDouble(clock)
    runner = Runner(
        two_sessions,
        the_plan,
        clock=clock,
        media=media,
        platforms={d.id: RecordingPlatform() for d in two_sessions.destinations},
        journal=journal,
        settings=RunnerSettings(cue_arm_lead_s=0.05),
    )
    runner.bus.subscribe(_journal_alerts(journal))
    journal.watch(_journal_trouble(runner.bus, journal.path))
    control = Control(runner, media, journal, runner.bus, clock)
    events: list[RunEvent] = []
    runner.bus.subscribe(events.append)
    cues = [a.id for a in the_plan.for_session("climate") if a.kind == ActionKind.CUE]
    task = asyncio.create_task(runner.run())
    deadline = time.monotonic() + 20
    while runner.snapshot().results.get(cues[1]) is None or runner.snapshot().state("climate").value != "live":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    read_only(journal)
    # a mid-session operator command and the changeovers go on while nothing can be written
    outcome = await control.extend("ana", "climate", 60)
    assert outcome.command == "extend"
    while runner.snapshot().results.get(cues[2]) is None:
        assert time.monotonic() < deadline and not task.done()
        await asyncio.sleep(0.01)
    assert journal.waiting > 0
    read_only(journal, False)
    snapshot = await asyncio.wait_for(task, 30)
    assert journal.flush()
    assert all(r.outcome == "ok" for r in snapshot.results.values())
    alerts = [e for e in events if isinstance(e, AlertRaised)]
    trouble = [
        a
        for a in alerts
        if a.level == "error" and "cannot be written (attempt to write a readonly database)" in a.message
    ]
    assert len(trouble) == 1 and "the run goes on" in trouble[0].message
    assert any(a.level == "info" and "is written again" in a.message for a in alerts)
    journal.close()

    again = SqliteJournal(tmp_path / "j.sqlite")
    assert {a.id for a in the_plan.actions} == {a.id for a in again.actions() if a.outcome == "ok"}
    assert [o.command for o in again.overrides()] == ["extend"]
    assert any("cannot be written" in a.message for a in again.alerts())  # the alert itself was kept
    assert again.interrupted() == []
    again.close()
