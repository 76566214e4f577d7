"""Live edits on a real `summit run`: `summit reload` shows the diff, applies an edit of what is to
come, refuses one that would disturb what is on air; `summit journal` shows the result."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from orchestrator.cli import main
from orchestrator.engine.journal import SqliteJournal

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def _doc(start: datetime, *, questions: bool = False, moved: bool = False) -> dict[str, object]:
    def at(s: float) -> str:
        return (start + timedelta(seconds=s)).isoformat()

    rundown: list[dict[str, object]] = [
        {"kind": "slate", "text": "Welcome", "duration": "4s"},
        {"kind": "slate", "text": "Talk", "duration": "12s" if not questions else "6s"},
    ]
    if questions:
        rundown.append({"kind": "slate", "text": "Questions", "duration": "6s"})
    return {
        "event": {"id": "reload-test", "name": {"en": "Reload"}, "timezone": "UTC"},
        "destinations": [{"id": "rec-en", "kind": "file", "language": "en"}],
        "sessions": [
            {
                "id": "a",
                "title": {"en": "A"},
                "start": at(1 if moved else 0),
                "end": at(17 if moved else 16),
                "floor_language": "en",
                "outputs": ["rec-en"],
                "rundown": rundown,
            }
        ],
    }


def test_reload_a_running_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = datetime.now(UTC) + timedelta(seconds=7)
    schedule = tmp_path / "event.yaml"
    schedule.write_text(yaml.safe_dump(_doc(start)))
    state = tmp_path / "state"
    args = [sys.executable, "-m", "orchestrator.cli", "--log-format", "json", "run", str(schedule), "--state-dir",
            str(state), "--recordings-dir", str(tmp_path / "rec"), "--media-dir", str(tmp_path / "media")]  # fmt: skip
    with (tmp_path / "log.jsonl").open("w") as log:
        run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (state / "reload-test.control").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(max(0.0, (start + timedelta(seconds=2) - datetime.now(UTC)).total_seconds()))  # on air

        # moving the start of a session on air is refused, and nothing changes
        moved = tmp_path / "moved.yaml"
        moved.write_text(yaml.safe_dump(_doc(start, moved=True, questions=True)))
        assert main(["reload", str(moved), "--state-dir", str(state)]) == 2
        out = capsys.readouterr()
        assert "refused: a/go_live has already run" in out.err and "NOT applied" in out.out

        # a dry run shows the diff and changes nothing
        edited = tmp_path / "edited.yaml"
        edited.write_text(yaml.safe_dump(_doc(start, questions=True)))
        assert main(["reload", str(edited), "--state-dir", str(state), "--dry-run"]) == 0
        out = capsys.readouterr()
        assert "+ a/cue/03-slate" in out.out and "not applied" in out.out

        # splitting the talk to make room for questions is applied
        assert main(["reload", str(edited), "--state-dir", str(state)]) == 0
        out = capsys.readouterr()
        assert "+ a/cue/03-slate" in out.out and "applied" in out.out

        # an invalid schedule is never sent
        bad = tmp_path / "bad.yaml"
        bad.write_text("event: {id: reload-test}\n")
        with pytest.raises(SystemExit) as exited:
            main(["reload", str(bad), "--state-dir", str(state)])
        assert exited.value.code == 2
        capsys.readouterr()
        result = json.loads(run.communicate(timeout=60)[0].strip().splitlines()[-1])
    finally:
        run.kill()
    assert result["failed"] == 0 and result["ok"] == result["actions"]
    journal = SqliteJournal(state / "reload-test.sqlite")
    added = next(r for r in journal.actions() if r.id == "a/cue/03-slate")
    assert added.outcome == "ok" and added.detail.get("applied") == "on_frame"
    assert any("plan reloaded" in a.message for a in journal.alerts())
    journal.close()
    assert not (state / "reload-test.control").exists()  # removed when the run ended

    assert main(["journal", str(state)]) == 0
    table = capsys.readouterr().out
    assert "a/cue/03-slate" in table and "plan reloaded" in table and "session states:" in table
    assert main(["journal", str(state / "reload-test.sqlite"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {a["id"] for a in doc["actions"]} >= {"a/go_live", "a/cue/03-slate"} and doc["interrupted"] == []
    # a journal that is not there is a clear error
    assert main(["journal", str(tmp_path / "nowhere")]) == 2
    assert "no such journal" in capsys.readouterr().err
