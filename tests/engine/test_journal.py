"""The journal: what counts as done, attempts kept across retries, overrides and alerts, durability."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestrator.engine.journal import SqliteJournal


def _record(j: SqliteJournal, action: str, outcome: str, **detail: object) -> None:
    j.record(action, kind="prepare_broadcast", session="s", destination="d", scheduled="2026-01-01T10:00:00+00:00",
             executed="2026-01-01T10:00:01+00:00", error_ms=1.0, outcome=outcome, detail=detail)  # fmt: skip


def test_only_a_final_outcome_is_done(tmp_path: Path) -> None:
    j = SqliteJournal(tmp_path / "j.sqlite")
    _record(j, "s/d/prepare", "failed", error="secrets file missing")
    _record(j, "s/d/go_live", "skipped", why="missed")
    _record(j, "s/d/standby", "ok")
    assert not j.done("s/d/prepare")  # retried after a restart
    assert j.done("s/d/go_live") and j.done("s/d/standby")
    assert not j.done("s/d/end")
    assert j.outcome("s/d/prepare") == "failed" and j.outcome("s/d/end") is None


def test_attempts_survive_a_retry_and_show_what_a_kill_cut_short(tmp_path: Path) -> None:
    j = SqliteJournal(tmp_path / "j.sqlite")
    j.begin("s/d/prepare", "2026-01-01T10:00:00+00:00")
    _record(j, "s/d/prepare", "failed", error="HTTP 500")
    j.begin("s/d/prepare", "2026-01-01T10:05:00+00:00")  # the restart retries it …
    j.begin("s/d/go_live", "2026-01-01T10:30:00+00:00")  # … and dies during go_live
    j.close()
    j = SqliteJournal(tmp_path / "j.sqlite")
    assert [i.action for i in j.interrupted()] == ["s/d/prepare", "s/d/go_live"]
    _record(j, "s/d/prepare", "ok")
    tries = j.attempts("s/d/prepare")
    assert [(t.outcome, t.error) for t in tries] == [("failed", "HTTP 500"), ("ok", None)]
    assert [i.action for i in j.interrupted()] == ["s/d/go_live"]
    assert j.done("s/d/prepare")


def test_overrides_and_alerts_are_kept_in_order(tmp_path: Path) -> None:
    j = SqliteJournal(tmp_path / "j.sqlite")
    seq = j.record_override(who="ana", command="extend", args={"minutes": 5, "note": "질문"},
                            at="2026-01-01T10:00:00+00:00", outcome="ok", session="s")  # fmt: skip
    j.record_override(who="bo", command="skip", args={}, at="2026-01-01T10:01:00+00:00", outcome="refused",
                      detail="nothing to skip")  # fmt: skip
    j.record_alert(level="error", message="s/d/prepare failed: HTTP 500", at="2026-01-01T10:02:00+00:00",
                   session="s", destination="d")  # fmt: skip
    j.close()
    j = SqliteJournal(tmp_path / "j.sqlite")
    overrides = j.overrides()
    assert seq == overrides[0].seq and overrides[0].args == {"minutes": 5, "note": "질문"}
    assert [(o.who, o.command, o.outcome) for o in overrides] == [("ana", "extend", "ok"), ("bo", "skip", "refused")]
    assert [(a.level, a.destination) for a in j.alerts()] == [("error", "d")]


def test_wal_and_full_sync(tmp_path: Path) -> None:
    j = SqliteJournal(tmp_path / "j.sqlite")
    assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    _record(j, "s/d/prepare", "ok")
    # another connection (another process after a kill) sees the row at once: it was committed
    other = sqlite3.connect(tmp_path / "j.sqlite")
    assert other.execute("SELECT outcome FROM actions").fetchall() == [("ok",)]
    other.close()
