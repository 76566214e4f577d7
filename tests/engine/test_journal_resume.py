"""The runner and its journal: a failed action is retried after a restart (never marked done), and
live edits (`Runner.reload`) change only what has not begun."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from orchestrator.engine.events import RunEvent, SessionStateChanged
from orchestrator.engine.journal import SqliteJournal
from orchestrator.planning.plan import plan
from orchestrator.planning.state import SessionState
from orchestrator.schedule.loader import parse_schedule_text
from orchestrator.schedule.model import Schedule
from tests.conftest import DATA
from tests.engine.doubles import RecordingPlatform
from tests.engine.test_runner import make_runner


async def test_failed_prepares_are_retried_after_a_restart(two_sessions: Schedule, tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = SqliteJournal(path)
    runner, _, _, _ = make_runner(two_sessions, journal, RecordingPlatform(fail_prepare_for={"rec-en"}))
    first = await runner.run()
    assert first.results["climate/rec-en/prepare"].outcome == "failed"
    journal.close()

    journal = SqliteJournal(path)  # restarted with the fault mended (a good secrets file)
    platform = RecordingPlatform()
    runner, _, _, _ = make_runner(two_sessions, journal, platform)
    second = await runner.run()
    retried = sorted(a for a, r in second.results.items() if not r.from_journal)
    assert retried == ["climate/rec-en/prepare", "climate/rec-en/standby", "dialogue/rec-en/prepare",
                       "dialogue/rec-en/standby"]  # fmt: skip
    assert sorted(c[1] for c in platform.calls if c[0] == "prepare") == [
        "climate/rec-en/prepare",
        "dialogue/rec-en/prepare",
    ]
    assert all(journal.done(a.id) for a in runner.plan.actions)
    # the history keeps the failure and the retry
    assert [t.outcome for t in journal.attempts("climate/rec-en/prepare")] == ["failed", "ok"]


def _edited(**changes: object) -> Schedule:
    doc = yaml.safe_load((DATA / "two-sessions.yaml").read_text())
    dialogue = doc["sessions"][1]
    if changes.get("split_remote"):
        dialogue["rundown"][1]["duration"] = "30m"
        dialogue["rundown"].append({"kind": "slate", "text": "Questions", "duration": "10m"})
    if changes.get("move_climate"):
        doc["sessions"][0]["start"] = "2020-06-03T09:55:00+09:00"
    return parse_schedule_text(yaml.safe_dump(doc, allow_unicode=True), "edited.yaml")


async def test_reload_mid_run_adds_a_cue_and_never_touches_what_ran(two_sessions: Schedule, tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    platform = RecordingPlatform()
    runner, programme, _, _ = make_runner(two_sessions, journal, platform, start_in_s=0.5)
    climate_live = asyncio.Event()

    def watch(event: RunEvent) -> None:
        if isinstance(event, SessionStateChanged) and event.session == "climate" and event.state == SessionState.LIVE:
            climate_live.set()

    runner.bus.subscribe(watch)
    task = asyncio.ensure_future(runner.run())
    await asyncio.wait_for(climate_live.wait(), 30)

    # an edit of a session on air that has begun is refused as a whole
    refused = await runner.reload(plan(_edited(move_climate=True, split_remote=True)))
    assert not refused.applied and any("climate/go_live" in r for r in refused.refused)
    assert not any(a.id.endswith("/cue/03-slate") or "questions" in a.label.lower() for a in runner.plan.actions)

    # an edit of what is still to come is applied
    new_plan = plan(_edited(split_remote=True))
    result = await runner.reload(new_plan)
    assert result.applied and not result.refused, result.refused
    assert len(result.diff.added) == 1 and result.diff.added[0].kind.value == "cue"
    assert [c.new.id for c in result.diff.changed] == []  # the remote cue keeps its time; the end is the same
    final = await asyncio.wait_for(task, 60)
    added = result.diff.added[0].id
    assert final.results[added].outcome == "ok" and final.results[added].detail.get("applied") == "on_frame"
    assert ("arm", added) in [(w, t) for w, t, _ in programme.calls]
    ids = [r.id for r in journal.actions()]
    assert len(ids) == len(set(ids)) == len(new_plan.actions)


async def test_reload_refuses_a_destination_the_run_was_not_wired_for(two_sessions: Schedule, tmp_path: Path) -> None:
    runner, _, _, _ = make_runner(two_sessions, SqliteJournal(tmp_path / "j.sqlite"), RecordingPlatform())
    doc = yaml.safe_load((DATA / "two-sessions.yaml").read_text())
    doc["destinations"].append({"id": "rec-ko2", "kind": "file", "language": "ko"})
    doc["sessions"][1]["outputs"].append("rec-ko2")
    edited = parse_schedule_text(yaml.safe_dump(doc, allow_unicode=True), "edited.yaml")
    result = runner.check_reload(plan(edited), edited)
    assert any("rec-ko2" in r and "restart" in r for r in result.refused)
    assert "+ dialogue/rec-ko2/prepare" in " ".join(result.diff.lines())


async def test_killed_after_preparing_the_media_prepares_it_again_before_stand_by(
    two_sessions: Schedule, tmp_path: Path
) -> None:
    """The journal says prepared, but the preparation lived in the killed process's memory."""
    journal = SqliteJournal(tmp_path / "j.sqlite")
    for sid in ("climate", "dialogue"):
        journal.begin(f"{sid}/prepare", "2020-06-03T00:30:00+00:00")
        journal.record(f"{sid}/prepare", kind="prepare_media", session=sid, destination=None,
                       scheduled="2020-06-03T00:30:00+00:00", executed="2020-06-03T00:30:00+00:00", error_ms=0.0,
                       outcome="ok")  # fmt: skip
    runner, programme, _, _ = make_runner(two_sessions, journal, RecordingPlatform())
    snapshot = await runner.run()
    assert {r.outcome for r in snapshot.results.values()} == {"ok"}
    calls = [(w, t) for w, t, _ in programme.calls]
    for sid in ("climate", "dialogue"):
        assert calls.index(("prepare", sid)) < calls.index(("start", sid))
