import json
from pathlib import Path

import pytest

from orchestrator.cli import main
from tests.conftest import DATA, ROOT


def test_validate_ok_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DATA / "two-sessions.yaml")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "ok" in out[0] and "2 sessions" in out[0]


def test_validate_broken_file_exits_2_with_every_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (DATA / "two-sessions.yaml").read_text()
    text = text.replace("speaker: bowles}", "speaker: bowls}").replace("duration: 40m}", "duration: 70m}")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(SystemExit) as exit_:
        main(["validate", str(bad)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "2 problems" in err
    assert f"{bad}:40: sessions[0].rundown[2].speaker: unknown speaker 'bowls'" in err
    assert "sessions[1].rundown" in err and "longer than the session" in err


def test_validate_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["validate", "no/such.yaml"])
    assert exit_.value.code == 2
    assert "no/such.yaml" in capsys.readouterr().err


def test_plan_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(DATA / "two-sessions.yaml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    first = data["actions"][0]
    assert {"id", "kind", "session", "destination", "at"} <= set(first)
    assert any(a["destination"] is None for a in data["actions"])
    assert any(a["destination"] == "rec-ko" for a in data["actions"])


def test_plan_text_uses_the_event_time_zone(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(DATA / "two-sessions.yaml"), "--only", "climate"]) == 0
    out = capsys.readouterr().out
    assert "2020-06-03 11:00:00 KST" in out and "climate/go_live" in out and "dialogue" not in out


def test_plan_unknown_session_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(DATA / "two-sessions.yaml"), "--only", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_readme_names_the_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "scripts/test" in readme and "scripts/rehearse" in readme
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
