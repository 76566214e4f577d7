"""The runner on a compressed clock (1 event hour ≈ 1 wall second) with recording doubles."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.clock import CompressedClock
from orchestrator.engine.events import AlertRaised
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.runner import Runner, RunnerSettings
from orchestrator.planning.plan import plan
from orchestrator.planning.state import SessionState
from orchestrator.rehearsal import busy_windows, rehearsal_clock
from orchestrator.schedule.model import Schedule
from tests.engine.doubles import RecordingMediaPlane, RecordingPlatform

SPEED = 3600.0


def make_runner(schedule: Schedule, journal: SqliteJournal, platform: RecordingPlatform, start_in_s: float = 0.3):
    p = plan(schedule)
    clock = rehearsal_clock(p, SPEED, start_in_s=start_in_s, gap_s=0.2)
    programme = RecordingMediaPlane(clock)
    alerts: list[AlertRaised] = []
    runner = Runner(
        schedule,
        p,
        clock=clock,
        media=programme,
        platforms={d.id: platform for d in schedule.destinations},
        journal=journal,
        settings=RunnerSettings(cue_arm_lead_s=0.05),
    )
    runner.bus.subscribe(lambda e: alerts.append(e) if isinstance(e, AlertRaised) else None)
    return runner, programme, alerts, clock


async def test_runs_the_whole_plan_in_order(two_sessions: Schedule, tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    platform = RecordingPlatform()
    runner, programme, _, _clock = make_runner(two_sessions, journal, platform)
    snapshot = await runner.run()
    results = snapshot.results
    assert {r.outcome for r in results.values()} == {"ok"}
    assert len(results) == len(runner.plan.actions)
    assert all(s.state == SessionState.ENDED for s in snapshot.sessions.values())
    # observers saw every cue take effect on its frame
    assert all(r.detail.get("applied") == "on_frame" for a, r in results.items() if "/cue/" in a)
    calls = [(w, t) for w, t, _ in programme.calls]
    # the programme starts before an output is attached, outputs detach before it stops
    assert calls.index(("start", "climate")) < calls.index(("attach", "climate/rec-ko"))
    assert calls.index(("detach", "climate/rec-ko")) < calls.index(("stop", "climate"))
    # the handover: climate's output is detached before dialogue's is attached
    assert calls.index(("detach", "climate/rec-en")) < calls.index(("attach", "dialogue/rec-en"))
    # every action ran close to its time; cues were armed ahead and applied on time
    for r in results.values():
        assert r.error_ms is not None
    cue_rows = [r for r in journal.actions() if r.kind == "cue"]
    assert len(cue_rows) == 8 and all(r.detail.get("applied") == "on_frame" for r in cue_rows)
    # the journal has the whole story of each session
    assert [s for s, _ in journal.states()["dialogue"]] == ["preparing", "standby", "live", "ended"]


async def test_a_failing_destination_does_not_disturb_the_others(two_sessions: Schedule, tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    platform = RecordingPlatform(fail_prepare_for={"rec-en"})
    runner, programme, alerts, _ = make_runner(two_sessions, journal, platform)
    snapshot = await runner.run()
    results = snapshot.results
    failed = sorted(a for a, r in results.items() if r.outcome == "failed")
    assert failed == [
        "climate/rec-en/prepare",
        "climate/rec-en/standby",
        "dialogue/rec-en/prepare",
        "dialogue/rec-en/standby",
    ]
    assert "not prepared" in results["climate/rec-en/standby"].detail["error"]
    assert all(s.state == SessionState.ENDED for s in snapshot.sessions.values())
    assert ("attach", "climate/rec-ko") in [(w, t) for w, t, _ in programme.calls]
    # the error names the destination and never shows the key
    messages = " ".join(a.message for a in alerts)
    assert "rec-en" in messages and "SECRET" not in messages


async def test_restart_skips_what_the_journal_says_is_done(two_sessions: Schedule, tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = SqliteJournal(path)
    platform = RecordingPlatform()
    runner, _, _, _ = make_runner(two_sessions, journal, platform)
    await runner.run()
    journal.close()
    prepares = [c for c in platform.calls if c[0] == "prepare"]
    # a second runner on the same journal: nothing is done twice
    journal2 = SqliteJournal(path)
    platform2 = RecordingPlatform()
    runner2, programme2, _, _ = make_runner(two_sessions, journal2, platform2)
    results = (await runner2.run()).results
    assert platform2.calls == [] and programme2.calls == []
    assert all(r.detail.get("from_journal") for r in results.values())
    assert len(prepares) == 4


async def test_missed_actions_policy(two_sessions: Schedule, tmp_path: Path) -> None:
    """Starting late: a session already over only gets its end actions; one under way catches up,
    and of its past cues only the latest one runs."""
    journal = SqliteJournal(tmp_path / "j.sqlite")
    platform = RecordingPlatform()
    p = plan(two_sessions)
    # move "now" to 35 event minutes into the dialogue session (its remote segment began at 10)
    target = p.cue_sheets["dialogue"].start + timedelta(minutes=35)
    offset = CompressedClock(busy_windows(p), speed=SPEED, wall_start=0.0, gap_s=0.2).to_wall(target)
    late_clock = CompressedClock(busy_windows(p), speed=SPEED, wall_start=time.time() - offset, gap_s=0.2)
    programme = RecordingMediaPlane(late_clock)
    runner = Runner(
        two_sessions,
        p,
        clock=late_clock,
        media=programme,
        platforms={d.id: platform for d in two_sessions.destinations},
        journal=journal,
        settings=RunnerSettings(cue_arm_lead_s=0.05),
    )
    snapshot = await runner.run()
    results = snapshot.results
    assert results["climate/prepare"].outcome == "skipped"
    assert results["climate/rec-ko/end"].outcome == "ok"  # the end still runs: close what may be open
    assert snapshot.state("climate") == SessionState.CANCELLED  # it never aired
    assert results["dialogue/go_live"].outcome == "ok"
    assert results["dialogue/cue/01-studio"].outcome == "skipped"
    assert "superseded" in results["dialogue/cue/01-studio"].detail["why"]
    assert results["dialogue/cue/02-remote"].outcome == "ok"
    assert snapshot.state("dialogue") == SessionState.ENDED


def test_journal_survives_reopen(tmp_path: Path) -> None:
    j = SqliteJournal(tmp_path / "j.sqlite")
    j.remember("yt-ko/broadcast/climate", "abc123")
    j.record(
        "a/1", kind="prepare", session="a", destination=None, scheduled="t", executed="t", error_ms=1.0, outcome="ok"
    )
    j.close()
    j2 = SqliteJournal(tmp_path / "j.sqlite")
    assert j2.recall("yt-ko/broadcast/climate") == "abc123"
    assert j2.done("a/1") and not j2.done("a/2")


@pytest.mark.parametrize("speed", [0])
def test_clock_speed_must_be_positive(two_sessions: Schedule, speed: float) -> None:
    with pytest.raises(ValueError):
        rehearsal_clock(plan(two_sessions), speed)


async def test_restart_mid_session_asks_the_platform_again_for_the_ingest(
    two_sessions: Schedule, tmp_path: Path
) -> None:
    """The journal says 'prepared' but the ingest was only in memory: the runner asks the (idempotent)
    adapter again with the same action id instead of failing the output."""
    journal = SqliteJournal(tmp_path / "j.sqlite")
    p = plan(two_sessions, only={"climate"})
    for a in p.actions:
        if a.id.endswith("/prepare"):
            journal.record(
                a.id,
                kind="prepare",
                session=a.session,
                destination=a.destination,
                scheduled=a.at.isoformat(),
                executed=a.at.isoformat(),
                error_ms=0.0,
                outcome="ok",
            )
    platform = RecordingPlatform()
    clock = rehearsal_clock(p, SPEED, start_in_s=0.3, gap_s=0.2)
    runner = Runner(
        two_sessions,
        p,
        clock=clock,
        media=RecordingMediaPlane(clock),
        platforms={d.id: platform for d in two_sessions.destinations},
        journal=journal,
        settings=RunnerSettings(cue_arm_lead_s=0.05),
    )
    results = (await runner.run()).results
    assert results["climate/rec-ko/standby"].outcome == "ok"
    assert ("prepare", "climate/rec-ko/prepare") in platform.calls


def test_srt_keys_travel_as_the_stream_id() -> None:
    from pydantic import SecretStr

    from orchestrator.engine.ports import IngestTarget

    assert (
        IngestTarget("srt://10.0.0.1:9000", SecretStr("k1")).publish_url().get_secret_value()
        == "srt://10.0.0.1:9000?streamid=k1"
    )
    assert IngestTarget("rtmp://h/live/", SecretStr("k1")).publish_url().get_secret_value() == "rtmp://h/live/k1"
