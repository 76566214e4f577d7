"""`summit journal` shows the participants' text channel, and never hands a terminal the control
characters a participant typed (an escape sequence is shown, not obeyed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.engine.journal import SqliteJournal


def test_the_text_channel_is_shown_and_control_characters_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = SqliteJournal(tmp_path / "ev.sqlite")
    journal.record_message(
        at="2020-06-01T01:00:00+00:00", origin="operator", text="You are on in 30 s", person="diamond"
    )
    journal.record_message(
        at="2020-06-01T01:00:05+00:00",
        origin="participant",
        sender="diamond",
        text="ok\x1b[2J\x1b]0;pwned\x07\nfake line",
        person="diamond",
    )
    journal.record_alert(level="warning", message="booth ko-en silent\x1b[31m", at="2020-06-01T01:00:06+00:00")
    journal.close()
    assert main(["journal", str(tmp_path / "ev.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "text channel:" in out
    assert "[diamond] operator: You are on in 30 s" in out
    assert "[diamond] diamond: ok\\x1b[2J\\x1b]0;pwned\\x07\\nfake line" in out
    assert "\x1b" not in out and "\x07" not in out and "\nfake line" not in out
    assert main(["journal", str(tmp_path / "ev.sqlite"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [m["origin"] for m in doc["messages"]] == ["operator", "participant"]
