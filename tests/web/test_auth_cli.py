"""`summit users …` and `summit token …` on a real users file, and the access arguments of the
commands that serve."""

from __future__ import annotations

import io
import stat
import sys
from pathlib import Path

import aiohttp
import pytest

from orchestrator.cli import main
from orchestrator.schedule.model import Schedule
from orchestrator.web.app import serve_dashboard
from orchestrator.web.auth import Access, Role
from orchestrator.web.users import UserStore, read_users
from tests.web.helpers import Stage

DATA = Path(__file__).resolve().parent.parent / "data"


def summit(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))  # not a tty: the password is read from stdin
    return main(list(argv))


def test_add_list_remove_a_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users = str(tmp_path / "users.yaml")
    assert (
        summit(monkeypatch, "users", "add", "mina", "--role", "operator", "--users", users, stdin="s3cret-pass\n") == 0
    )
    path = Path(users)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "s3cret-pass" not in path.read_text()
    assert UserStore(path).check_password("mina", "s3cret-pass") is not None
    capsys.readouterr()
    monkeypatch.setenv("SUMMIT_USERS_FILE", users)  # the environment names the file as well
    assert summit(monkeypatch, "users", "list") == 0
    out = capsys.readouterr().out
    assert "mina" in out and "operator" in out and "argon2" not in out
    assert summit(monkeypatch, "users", "add", "mina", "--role", "admin", stdin="another-pass\n") == 2
    assert "exists" in capsys.readouterr().err
    assert summit(monkeypatch, "users", "add", "mina", "--role", "admin", "--replace", stdin="another-pass\n") == 0
    assert read_users(path).accounts["mina"].role is Role.ADMIN
    assert summit(monkeypatch, "users", "remove", "mina") == 0
    assert read_users(path).accounts == {}
    assert summit(monkeypatch, "users", "remove", "mina") == 2
    assert "no user 'mina'" in capsys.readouterr().err


def test_refusals_name_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SUMMIT_USERS_FILE", raising=False)
    assert summit(monkeypatch, "users", "list") == 2
    assert "pass --users PATH or set SUMMIT_USERS_FILE" in capsys.readouterr().err
    users = str(tmp_path / "users.yaml")
    assert summit(monkeypatch, "users", "add", "mina", "--role", "operator", "--users", users, stdin="short\n") == 2
    assert "at least 8 characters" in capsys.readouterr().err
    assert not Path(users).exists()
    with pytest.raises(SystemExit) as err:
        summit(monkeypatch, "users", "add", "mina", "--role", "boss", "--users", users, stdin="long-enough\n")
    assert err.value.code == 2 and "unknown role 'boss'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        summit(monkeypatch, "users", "add", "../etc", "--role", "viewer", "--users", users, stdin="long-enough\n")
    Path(users).write_text("users: {a: [\n")
    assert summit(monkeypatch, "users", "list", "--users", users) == 2
    assert f"{users}: not valid YAML" in capsys.readouterr().err


async def test_a_token_is_printed_once_stored_as_a_hash_and_revocable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], two_sessions: Schedule
) -> None:
    users = str(tmp_path / "users.json")
    assert summit(monkeypatch, "token", "create", "ci-bot", "--role", "viewer", "--users", users) == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert token.startswith("summit_") and "shown once" in captured.err and token not in captured.err
    assert token not in Path(users).read_text()
    assert summit(monkeypatch, "token", "create", "ci-bot", "--role", "viewer", "--users", users) == 2
    runner, url = await serve_dashboard(Stage(two_sessions).hub, access=Access.configure(Path(users)))
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(url + "/api/me", headers=headers) as r:
                assert r.status == 200 and (await r.json())["name"] == "ci-bot"
            assert summit(monkeypatch, "token", "revoke", "ci-bot", "--users", users) == 0
            async with http.get(url + "/api/me", headers=headers) as r:
                assert r.status == 401  # the running server re-read the file
    finally:
        await runner.cleanup()
    assert summit(monkeypatch, "token", "revoke", "ci-bot", "--users", users) == 2


def test_serving_a_public_address_needs_a_users_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SUMMIT_USERS_FILE", raising=False)
    schedule = str(DATA / "two-sessions.yaml")
    with pytest.raises(SystemExit) as err:
        summit(
            monkeypatch,
            "run",
            schedule,
            "--state-dir",
            str(tmp_path),
            "--dashboard",
            "0",
            "--dashboard-host",
            "0.0.0.0",
        )
    assert err.value.code == 2
    assert "without a users file" in capsys.readouterr().err
    empty = tmp_path / "users.yaml"
    empty.write_text("users: {}\n")
    with pytest.raises(SystemExit):
        summit(monkeypatch, "rehearse", schedule, "--dashboard", "0", "--users", str(empty), "--no-progress")
    assert "no users yet" in capsys.readouterr().err
