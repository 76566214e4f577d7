"""The CLI refuses bad arguments and awkward situations with one clear line, never a traceback:
a closed pipe, impossible speeds, bad or busy ports, a non-RTMP ingest; and the standalone YouTube
emulator gives its backup ingest its own application."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from orchestrator.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEDULE = str(ROOT / "tests" / "data" / "two-sessions.yaml")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _summit(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "orchestrator.cli", *args], env=ENV, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_plan_into_a_closed_pipe_ends_quietly() -> None:
    """`summit plan | head -1`: the reader leaves; no BrokenPipeError traceback, the shell's 141."""
    proc = _summit("plan", SCHEDULE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head` that has had its line
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_plan_through_head_in_a_shell() -> None:
    result = subprocess.run(
        f"{sys.executable} -m orchestrator.cli plan {SCHEDULE} | head -1",
        shell=True, env=ENV, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("speed", ["0", "-5", "nan", "inf", "-inf", "abc", "1e400", "100000"])
def test_impossible_speeds_are_refused(speed: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rehearse", SCHEDULE, f"--speed={speed}", "--no-progress"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--speed" in err and "Traceback" not in err, err


@pytest.mark.parametrize("command", ["rehearse", "run"])
@pytest.mark.parametrize("port", ["-1", "65536", "abc", "80.5"])
def test_invalid_dashboard_ports_are_refused(command: str, port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, SCHEDULE, f"--dashboard={port}"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--dashboard" in err and "0-65535" in err, err


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.mark.parametrize("command", ["rehearse", "run"])
def test_a_busy_dashboard_port_is_refused_before_anything_starts(
    command: str, busy_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(tmp_path / "run")
    extra = ["--no-progress", "--run-dir", run] if command == "rehearse" else ["--state-dir", run]
    code = main([command, SCHEDULE, "--dashboard", str(busy_port), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    if command == "rehearse":
        assert f"--dashboard {busy_port}: 127.0.0.1:{busy_port} already in use" in err
    else:  # summit run lists it with every other start-up problem
        assert "summit run cannot start" in err and f"dashboard port {busy_port}: already in use" in err
    assert not (tmp_path / "run").exists()  # nothing started: no journal, no run folder


@pytest.mark.parametrize("url", ["notaurl", "http://h/live", "rtmp://", "rtmp://producer:pw-Zq9x1234@h/live"])
def test_rehearse_refuses_a_bad_rtmp_url_naming_no_secret(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rehearse", SCHEDULE, "--rtmp", url])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--rtmp" in err and "Traceback" not in err and "pw-Zq9x" not in err, err


def test_an_emulator_on_a_busy_port_says_so(busy_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["emulate", "facebook", "--port", str(busy_port), "--rtmp", "rtmp://127.0.0.1:1/live",
                 "--page-id", "1", "--page-token", "EAAGtoken"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"cannot serve on 127.0.0.1:{busy_port}" in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    "args",
    [
        ["--rtmp", "http://example.org/live"],
        ["--rtmp", "rtmp://h/live", "--backup-rtmp", "srt://h:9000"],
        ["--backup-rtmp", "rtmp://h/backup"],
        ["--port", "99999"],
    ],
)
def test_bad_emulator_ingest_arguments_are_refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["emulate", "youtube", "--client-id", "c", "--client-secret", "s", "--refresh-token", "r", *args])
    except SystemExit as exited:
        code = int(str(exited.code))
    err = capsys.readouterr().err
    assert code == 2 and err and "Traceback" not in err, err


async def _backup_of_a_new_stream(*args: str) -> tuple[str, str, str]:
    """Start `summit emulate youtube ARGS`; the primary and backup ingest of a stream it creates,
    and the banner it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "emulate", "youtube",
        "--client-id", "cid", "--client-secret", "csecret", "--refresh-token", "rt-1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=ENV,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        banner = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        async with aiohttp.ClientSession() as http:
            form = {"grant_type": "refresh_token", "client_id": "cid", "client_secret": "csecret",
                    "refresh_token": "rt-1"}  # fmt: skip
            async with http.post(f"{base}/token", data=form) as resp:
                token = (await resp.json())["access_token"]
            body = {"snippet": {"title": "t"}, "cdn": {"ingestionType": "rtmp", "resolution": "720p",
                                                       "frameRate": "30fps"}}  # fmt: skip
            async with http.post(
                f"{base}/youtube/v3/liveStreams", params={"part": "snippet,cdn"}, json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:  # fmt: skip
                info = (await resp.json())["cdn"]["ingestionInfo"]
        return info["ingestionAddress"], info["backupIngestionAddress"], banner
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)


async def test_the_standalone_youtube_emulator_has_its_own_backup_application() -> None:
    primary, backup, banner = await _backup_of_a_new_stream("--rtmp", "rtmp://127.0.0.1:1935/live")
    assert primary == "rtmp://127.0.0.1:1935/live"
    assert backup == "rtmp://127.0.0.1:1935/live-backup"  # same name, another application: no collision
    assert "backup rtmp://127.0.0.1:1935/live-backup" in banner


async def test_the_standalone_youtube_emulator_takes_a_backup_ingest_option() -> None:
    primary, backup, _ = await _backup_of_a_new_stream(
        "--rtmp", "rtmp://127.0.0.1:1935/live", "--backup-rtmp", "rtmp://127.0.0.2:1935/b-live"
    )
    assert (primary, backup) == ("rtmp://127.0.0.1:1935/live", "rtmp://127.0.0.2:1935/b-live")


def test_an_unforeseen_failure_is_one_masked_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--media-dir` names a file, not a folder: the rehearsal cannot make its demo clips. The
    command says so in one line (no traceback), and a held secret in the message is masked."""
    from orchestrator.redaction import Secrets

    held = Secrets(["Zq9xHELD-cli-secret-99"])
    blocker = tmp_path / "Zq9xHELD-cli-secret-99"
    blocker.write_text("not a folder")
    code = main(["rehearse", SCHEDULE, "--no-progress", "--outputs", "files", "--run-dir", str(tmp_path / "run"),
                 "--media-dir", str(blocker), "--speed", "900"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "summit rehearse: failed:" in err, err
    assert "Traceback" not in err and "Zq9xHELD-cli-secret" not in err and len(held) == 1


async def test_the_dashboard_refuses_a_100_kb_header_and_a_deep_command_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 100 KB request header: a 400, one warning line, no traceback (nor the header's bytes).
    A command nested 100 000 deep over the WebSocket: a reply, and the socket still serves."""
    from orchestrator.clock import ManualClock
    from orchestrator.logconfig import configure_logging
    from orchestrator.schedule.loader import load_schedule
    from orchestrator.web.app import serve_dashboard
    from orchestrator.web.hub import DashboardHub

    schedule = load_schedule(SCHEDULE)
    clock = ManualClock(schedule.sessions[0].start)
    log_path = tmp_path / "log.txt"
    with log_path.open("w", encoding="utf-8") as log_file:
        configure_logging("console", "info", stream=log_file)
        runner, url = await serve_dashboard(DashboardHub(schedule, clock, wall=clock.wall))
        try:
            port = int(url.rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /api/state HTTP/1.1\r\nHost: x\r\nX-Big: Bearer ya29." + b"a" * 100_000 + b"\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(4096), 10)
            writer.close()
            async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws") as ws:
                await ws.receive_json(timeout=10)  # the first snapshot
                await ws.send_str("[" * 100_000 + "]" * 100_000)
                deep = await ws.receive_json(timeout=10)
                await ws.send_str('{"id": 2, "command": "ping"}')
                while (pong := await ws.receive_json(timeout=10)).get("type") != "reply":
                    pass
        finally:
            await runner.cleanup()
            configure_logging("console", "warning")
    log = log_path.read_text(encoding="utf-8")
    assert answer.split(b" ", 2)[1] == b"400", answer[:100]
    assert "refused a malformed HTTP request (400" in log and "Traceback" not in log and "ya29" not in log, log
    assert deep["type"] == "reply" and deep["ok"] is False and "refused: a command is at most" in deep["error"]
    assert pong == {"type": "reply", "id": 2, "ok": True, "result": pong["result"]}
