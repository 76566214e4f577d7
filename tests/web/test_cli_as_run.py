"""`summit as-run`: the journal of a run as CSV or JSON, from a run directory, a state directory or
the file itself; clear errors otherwise."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.engine.journal import SqliteJournal


def write_journal(path: Path) -> None:
    j = SqliteJournal(path)
    j.record(
        "s1/go_live",
        kind="on_air",
        session="s1",
        destination=None,
        scheduled="2021-09-01T01:00:00+00:00",
        executed="2021-09-01T01:00:00.050000+00:00",
        error_ms=50.0,
        outcome="ok",
    )
    j.record_override(
        who="ana", command="hold", args={}, at="2021-09-01T01:05:00+00:00", outcome="ok", session="s1", detail="held"
    )
    j.record_alert(
        level="error",
        message="yt-en: rtmp://a.example/live2/sk-LIVE-abcdef123456 refused",
        at="2021-09-01T01:03:00+00:00",
    )
    j.close()


def test_csv_from_a_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_journal(tmp_path / "journal.sqlite")
    assert main(["as-run", str(tmp_path), "--format", "csv", "--timezone", "Asia/Seoul"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["who"], r["what"], r["at"]) for r in rows] == [
        ("automatic", "on_air", "2021-09-01T10:00:00.050+09:00"),
        ("system", "alert:error", "2021-09-01T10:03:00.000+09:00"),
        ("ana", "hold", "2021-09-01T10:05:00.000+09:00"),
    ]
    assert "sk-LIVE-abcdef123456" not in rows[1]["detail"] and "****3456" in rows[1]["detail"]


def test_json_from_a_state_directory_to_a_file(tmp_path: Path) -> None:
    write_journal(tmp_path / "my-event.sqlite")
    out = tmp_path / "as-run.json"
    assert main(["as-run", str(tmp_path), "--format", "json", "-o", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [r["id"] for r in doc["rows"]] == ["s1/go_live", "alert/1", "override/1"]
    assert doc["rows"][0]["late_ms"] == 50.0


def test_errors_name_what_was_looked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["as-run", str(tmp_path / "missing")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["as-run", str(tmp_path)]) == 2
    assert "no journal here" in capsys.readouterr().err
    write_journal(tmp_path / "a.sqlite")
    write_journal(tmp_path / "b.sqlite")
    assert main(["as-run", str(tmp_path)]) == 2
    assert "choose one with --event" in capsys.readouterr().err
    assert main(["as-run", str(tmp_path), "--event", "b"]) == 0
    capsys.readouterr()
    (tmp_path / "junk.txt").write_text("not sqlite")
    assert main(["as-run", str(tmp_path / "junk.txt")]) == 2
    err = capsys.readouterr().err
    assert "junk.txt" in err and "Traceback" not in err
    assert main(["as-run", str(tmp_path), "--event", "a", "--timezone", "Mars/Base"]) == 2
    assert "unknown time zone" in capsys.readouterr().err
