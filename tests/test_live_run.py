"""`summit run` on the system clock, killed with SIGKILL in the middle of a session and started
again: the journal makes the second process resume the session instead of starting over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
import yaml

from orchestrator.engine.journal import SqliteJournal

pytestmark = pytest.mark.slow


def _schedule(tmp_path: Path, start: datetime) -> Path:
    def at(s: float) -> str:
        return (start + timedelta(seconds=s)).isoformat()

    doc = {
        "event": {"id": "live-test", "name": {"en": "Live test"}, "timezone": "Asia/Seoul"},
        "speakers": [{"id": "host", "name": "Host", "languages": ["ko"], "appearance": "studio"}],
        "interpreters": [{"id": "i1", "name": "Interpreter A", "languages": ["ko", "en"]}],
        "booths": [{"id": "ko-en", "languages": ["ko", "en"], "interpreters": ["i1"]}],
        "destinations": [
            {"id": "rec-ko", "kind": "file", "language": "ko"},
            {"id": "rec-en", "kind": "file", "language": "en"},
        ],
        "sessions": [
            {
                "id": "opening",
                "title": {"en": "Opening", "ko": "개회"},
                "start": at(0),
                "end": at(16),
                "floor_language": "ko",
                "outputs": ["rec-ko", "rec-en"],
                "booths": ["ko-en"],
                "rundown": [
                    {"kind": "slate", "text": "Welcome", "duration": "4s"},
                    {"kind": "studio", "speaker": "host", "duration": "12s"},
                ],
            }
        ],
    }
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def _run(tmp_path: Path, schedule: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "orchestrator.cli", "--log-format", "json", "run", str(schedule),
            "--state-dir", str(tmp_path / "state"), "--recordings-dir", str(tmp_path / "rec"), "--media-dir", str(tmp_path / "media")]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(tmp_path / "log.jsonl", "a"), text=True)


def test_killed_mid_session_and_resumed(tmp_path: Path) -> None:
    start = datetime.now(UTC) + timedelta(seconds=6)
    schedule = _schedule(tmp_path, start)
    first = _run(tmp_path, schedule)
    # kill -9 in the middle of the studio segment
    time.sleep(max(0.0, (start + timedelta(seconds=8) - datetime.now(UTC)).total_seconds()))
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    journal = SqliteJournal(tmp_path / "state" / "live-test.sqlite")
    done = {r.id for r in journal.actions()}
    journal.close()
    assert "opening/go_live" in done and "opening/end" not in done

    second = _run(tmp_path, schedule)
    out, _ = second.communicate(timeout=60)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["failed"] == 0 and result["sessions"] == {"opening": "ended"}
    log = (tmp_path / "log.jsonl").read_text()
    assert "session_resumed" in log
    # the first part was not overwritten; the rest went to a second part
    folder = tmp_path / "rec" / "live-test" / "opening"
    assert (folder / "rec-ko.flv").exists() and (folder / "rec-ko.part2.flv").exists()
    # what was recorded before the kill is on disk and plays (packets are flushed as they come)
    with av.open(str(folder / "rec-ko.flv")) as f:
        assert sum(1 for _ in f.decode(video=0)) > 60
    with av.open(str(folder / "rec-ko.part2.flv")) as f:
        assert f.streams.video[0].codec_context.name == "h264"
        frames = sum(1 for _ in f.decode(video=0))
    assert frames > 30  # the resumed part carries the rest of the session
    # the journal holds every action exactly once
    journal = SqliteJournal(tmp_path / "state" / "live-test.sqlite")
    ids = [r.id for r in journal.actions()]
    assert len(ids) == len(set(ids)) and "opening/end" in ids


def test_run_again_after_the_end_does_nothing(tmp_path: Path) -> None:
    start = datetime.now(UTC) + timedelta(seconds=3)
    schedule = _schedule(tmp_path, start)
    out, _ = _run(tmp_path, schedule).communicate(timeout=60)
    assert json.loads(out.strip().splitlines()[-1])["failed"] == 0
    before = sorted(p.name for p in (tmp_path / "rec").rglob("*.flv"))
    out, _ = _run(tmp_path, schedule).communicate(timeout=60)
    assert json.loads(out.strip().splitlines()[-1])["sessions"] == {"opening": "ended"}
    assert sorted(p.name for p in (tmp_path / "rec").rglob("*.flv")) == before
