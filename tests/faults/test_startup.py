"""`summit run` checks its configuration before anything starts and refuses with one list."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from orchestrator.app import AppSettings, preflight
from orchestrator.cli import main
from orchestrator.platforms.credentials import CredentialStore
from orchestrator.schedule.loader import load_schedule


def _schedule(tmp_path: Path) -> Path:
    start = datetime.now(UTC) + timedelta(hours=2)
    doc = {
        "event": {"id": "pre", "name": {"en": "Preflight"}, "timezone": "UTC"},
        "destinations": [
            {"id": "yt-en", "kind": "youtube", "language": "en", "channel": "Main", "credentials": "yt-main"},
            {"id": "cdn-en", "kind": "rtmp", "language": "en", "url": "rtmp://127.0.0.1:1/live", "key": "cdn"},
            {"id": "rec-en", "kind": "file", "language": "en"},
        ],
        "sessions": [
            {
                "id": "a",
                "title": {"en": "A"},
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=30)).isoformat(),
                "floor_language": "en",
                "outputs": ["yt-en", "cdn-en", "rec-en"],
                "rundown": [{"kind": "slate", "text": "Hello", "duration": "30m"}],
            }
        ],
    }
    path = tmp_path / "pre.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_missing_secrets_file_a_busy_port_and_missing_credentials_are_one_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = _schedule(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["run", str(schedule), "--state-dir", str(tmp_path / "state"), "--secrets",
                     str(tmp_path / "nope.yaml"), "--dashboard", str(port)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "summit run cannot start" in err and "Traceback" not in err
    assert f"secrets file {tmp_path / 'nope.yaml'}: not found" in err
    assert f"dashboard port {port}: already in use" in err
    # nothing was started: no journal
    assert not (tmp_path / "state" / "pre.sqlite").exists()


def test_missing_credentials_name_each_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SUMMIT_SECRETS_FILE",):
        monkeypatch.delenv(var, raising=False)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(yaml.safe_dump({"credentials": {"yt-main": {"client_id": "x"}}}))
    settings = AppSettings(state_dir=tmp_path / "state", recordings_dir=tmp_path / "rec", secrets_file=secrets)
    problems = preflight(load_schedule(_schedule(tmp_path)), settings, credentials=CredentialStore(secrets))
    text = "\n".join(problems)
    assert "destination 'yt-en'" in text and "client_secret" in text and "refresh_token" in text
    assert "destination 'cdn-en'" in text and "SUMMIT_CRED_CDN_KEY" in text
    assert "rec-en" not in text  # a file destination needs no credential


def test_a_binary_secrets_file_is_a_clear_problem(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_bytes(b"\xff\xfe\x00\x9c binary")
    settings = AppSettings(state_dir=tmp_path / "state", recordings_dir=tmp_path / "rec", secrets_file=secrets)
    problems = preflight(load_schedule(_schedule(tmp_path)), settings, credentials=CredentialStore(secrets))
    assert any(str(secrets) in p and ("not UTF-8" in p or "YAML or JSON" in p) for p in problems), problems


def test_a_good_configuration_passes(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(yaml.safe_dump({"yt-main": {"client_id": "c", "client_secret": "s", "refresh_token": "r"},
                                       "cdn": {"key": "k"}}))  # fmt: skip
    settings = AppSettings(state_dir=tmp_path / "state", recordings_dir=tmp_path / "rec", secrets_file=secrets)
    assert preflight(load_schedule(_schedule(tmp_path)), settings, credentials=CredentialStore(secrets)) == []


def test_reload_without_a_running_event_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schedule = _schedule(tmp_path)
    assert main(["reload", str(schedule), "--state-dir", str(tmp_path / "state")]) == 1
    assert "no run of event 'pre' is listening" in capsys.readouterr().err
    # a control file left by a killed run: the address does not answer
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "pre.control").write_text('{"url": "http://127.0.0.1:9", "token": "t"}')
    assert main(["reload", str(schedule), "--state-dir", str(tmp_path / "state")]) == 1
    err = capsys.readouterr().err
    assert "does not answer" in err and "Traceback" not in err and '"t"' not in err
