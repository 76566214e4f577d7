"""`summit links`: everyone's link from the secret in the environment or the secrets file; a clear
refusal without one; revocation kept in the journal; the secret never printed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.links import LinkSigner
from orchestrator.schedule.loader import load_schedule
from tests.conftest import DATA

SCHEDULE = str(DATA / "two-sessions.yaml")
SECRET = "cli-test-link-secret-0123456789"


def test_links_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUMMIT_LINK_SECRET", SECRET)
    assert main(["links", SCHEDULE, "--base-url", "https://summit.example.org/", "--json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert [(r["person"], r["role"]) for r in rows] == [
        ("diamond", "speaker"),
        ("kim", "interpreter"),
        ("lee", "interpreter"),
    ]
    assert SECRET not in out
    signer = LinkSigner(SECRET, load_schedule(SCHEDULE).event.id)
    for row in rows:
        assert row["url"].startswith("https://summit.example.org/join/")
        token = row["url"].rsplit("/", 1)[1]
        claims = signer.verify(token, datetime.fromisoformat(row["expires"]) - timedelta(hours=1))
        assert claims.person == row["person"] and claims.role == row["role"]


def test_links_from_the_secrets_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SUMMIT_LINK_SECRET", raising=False)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"link_secret: {SECRET}\n")
    assert main(["links", SCHEDULE, "--link-secret-file", str(secrets)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("diamond") and "http://127.0.0.1:8765/join/" in lines[0]


def test_links_refuse_clearly_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("SUMMIT_LINK_SECRET", raising=False)
    monkeypatch.delenv("SUMMIT_SECRETS_FILE", raising=False)
    assert main(["links", SCHEDULE]) == 2
    err = capsys.readouterr().err
    assert "no link secret" in err and "SUMMIT_LINK_SECRET" in err and "Traceback" not in err
    empty = tmp_path / "s.yaml"
    empty.write_text("other: 1\n")
    assert main(["links", SCHEDULE, "--link-secret-file", str(empty)]) == 2
    assert "has no link_secret" in capsys.readouterr().err
    monkeypatch.setenv("SUMMIT_LINK_SECRET", "short")
    assert main(["links", SCHEDULE]) == 2
    assert "at least 16 bytes" in capsys.readouterr().err


def test_revoke_changes_the_persons_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUMMIT_LINK_SECRET", SECRET)
    journal = tmp_path / "journal.sqlite"
    assert main(["links", SCHEDULE, "--json", "--journal", str(journal)]) == 0
    before = {r["person"]: r["url"] for r in json.loads(capsys.readouterr().out)}
    assert main(["links", SCHEDULE, "--json", "--journal", str(journal), "--revoke", "diamond"]) == 0
    after = {r["person"]: r["url"] for r in json.loads(capsys.readouterr().out)}
    assert after["diamond"] != before["diamond"] and after["kim"] == before["kim"]
    assert main(["links", SCHEDULE, "--revoke", "diamond"]) == 2
    assert "--journal" in capsys.readouterr().err
    assert main(["links", SCHEDULE, "--journal", str(journal), "--revoke", "nobody"]) == 2
    assert "'nobody' has no link" in capsys.readouterr().err


def test_live_settings_take_the_ice_servers_from_the_secrets_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.linksecret import LinkSecretError, live_participant_settings
    from orchestrator.participants.ice import rtc_configuration

    monkeypatch.delenv("SUMMIT_LINK_SECRET", raising=False)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(
        f"link_secret: {SECRET}\n"
        "ice_servers:\n"
        "  - {urls: 'stun:stun.example.org:3478'}\n"
        "  - {urls: ['turns:turn.example.org:443?transport=tcp'], username: guest, credential: turn-pass}\n"
    )
    settings = live_participant_settings(secrets)
    assert settings is not None and len(settings.ice_servers) == 2
    assert "turn-pass" not in repr(settings)  # the TURN credential is a secret
    config = rtc_configuration(settings.ice_servers)
    assert config.iceServers[1].credential == "turn-pass" and config.iceServers[0].urls == [
        "stun:stun.example.org:3478"
    ]
    secrets.write_text(f"link_secret: {SECRET}\nice_servers: [{{urls: 'http://nope'}}]\n")
    with pytest.raises(LinkSecretError, match=r"ice_servers\[0\]"):
        live_participant_settings(secrets)
    assert live_participant_settings(tmp_path / "missing.yaml") is None
