"""Child processes end with the orchestrator however it ends — real processes, real signals.

Each test starts a Python process that starts children the way the system does (nginx through
`RtmpServer`, a publisher through `ProcessWriter`'s fork server, a whole `summit rehearse` or
`summit emulate`), ends that process, and checks that no child is left alive."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestrator.standins.nginx import RtmpServer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
needs_nginx = pytest.mark.skipif(not RtmpServer.available(), reason="nginx with the RTMP module is not installed")


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that a container may lack counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "X")
    return state not in ("Z", "X")


def _wait_ended(pids: list[int], timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def _descendants(pid: int, comm: str | None = None) -> list[int]:
    """Processes below `pid` (by parent links in /proc), optionally only those named `comm`."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        names[int(entry.name)] = name
    found, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return [p for p in found if comm is None or names.get(p) == comm]


def _wait_reading(pid: int, timeout: float = 30.0) -> None:
    """Until `pid` sleeps reading its socket (its kernel wait channel says so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(f"/proc/{pid}/wchan").read_text().strip() == "unix_stream_read_generic":
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never waited on its pipe")


def _python(script: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip


def _kill_and_reap(proc: subprocess.Popen[str], sig: int) -> None:
    proc.send_signal(sig)
    proc.wait(30)


@needs_nginx
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_nginx_ends_with_the_process_that_started_it(sig: int) -> None:
    """SIGKILL runs no code: the kernel's parent-death signal ends nginx. SIGTERM/SIGHUP kill this
    bare script by their default action, which is no cleanup either."""
    proc = _python(
        """
        import asyncio, time
        from orchestrator.logconfig import configure_logging
        from orchestrator.standins.nginx import RtmpServer
        configure_logging("console", "warning")
        async def main():
            server = RtmpServer()
            await server.start()
            print(server.pid, flush=True)
            await asyncio.sleep(3600)
        asyncio.run(main())
        """
    )
    assert proc.stdout is not None
    nginx = int(proc.stdout.readline())
    assert _alive(nginx)
    _kill_and_reap(proc, sig)
    assert _wait_ended([nginx]) == [], "nginx outlived the process that started it"


def test_a_hung_publisher_ends_when_the_orchestrator_is_killed() -> None:
    """The publisher is stopped (SIGSTOP: it cannot read its pipe's end, as when hung in a
    connect); after the orchestrator's SIGKILL the fork server exits and the kernel kills it."""
    proc = _python(
        """
        import time
        from pydantic import SecretStr
        from orchestrator.logconfig import configure_logging
        configure_logging("console", "warning")
        from orchestrator.engine.ports import IngestTarget
        from orchestrator.media.process_writer import ProcessWriter
        from orchestrator.media.publisher import Samples
        from orchestrator.media.settings import MediaSettings
        writer = ProcessWriter(
            session_id="s1", destination_id="d1", label="s1/d1",
            targets=[IngestTarget("rtmp://127.0.0.1:9/live", SecretStr("never-used-key"))],
            kind="rtmp", language="en", samples=Samples(), settings=MediaSettings(),
            request_keyframe=lambda: None,
        )
        while writer._proc is None or writer._proc.pid is None:
            time.sleep(0.01)
        print(writer._proc.pid, flush=True)
        time.sleep(3600)
        """
    )
    assert proc.stdout is not None
    publisher = int(proc.stdout.readline())
    assert _alive(publisher) and publisher not in (proc.pid,)
    _wait_reading(publisher)  # past its start-up (where it asks for the parent-death signal)
    os.kill(publisher, signal.SIGSTOP)
    _kill_and_reap(proc, signal.SIGKILL)
    left = _wait_ended([publisher])
    for pid in left:  # do not leave a stopped process behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert left == [], "a hung publisher outlived the orchestrator"


def _summit(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, start_new_session=True,
    )  # fmt: skip


def _wait_for_nginx(proc: subprocess.Popen[str], timeout: float = 120.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = _descendants(proc.pid, "nginx")
        if found:
            return found
        time.sleep(0.1)
    _out, err = proc.communicate(timeout=30) if proc.poll() is not None else ("", "")
    raise AssertionError(f"no nginx appeared under the process (exit {proc.returncode}): {err[-2000:]}")


@needs_nginx
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_rehearsal_ended_by_any_signal_leaves_no_child(sig: int, tmp_path: Path) -> None:
    proc = _summit(
        "rehearse", str(DATA / "two-sessions.yaml"), "--only", "climate", "--speed", "600", "--no-progress",
        "--outputs", "platforms", "--run-dir", str(tmp_path / "run"), "--media-dir", str(tmp_path / "media"),
        cwd=tmp_path,
    )  # fmt: skip
    try:
        nginx = _wait_for_nginx(proc)
        time.sleep(2.0)  # the run under way: publishers started, emulators serving
        children = _descendants(proc.pid)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _wait_ended(nginx + children) == [], f"children left after {signal.Signals(sig).name}"
    if sig != signal.SIGKILL:
        assert proc.returncode == 128 + sig, err[-2000:]
        assert f"stopped by {signal.Signals(sig).name}" in err
        assert "Traceback" not in err, err[-3000:]


@needs_nginx
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGKILL])
def test_a_standalone_emulator_takes_its_nginx_with_it(sig: int, tmp_path: Path) -> None:
    proc = _summit("emulate", "youtube", "--client-id", "c", "--client-secret", "s", "--refresh-token", "r",
                   cwd=tmp_path)  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("http://127.0.0.1:")
        nginx = _descendants(proc.pid, "nginx")
        assert nginx
        proc.send_signal(sig)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _wait_ended(nginx) == []
    if sig == signal.SIGHUP:
        assert proc.returncode == 0


@needs_nginx
@pytest.mark.slow
def test_a_rehearsal_whose_terminal_closes_stops_in_order(tmp_path: Path) -> None:
    """The live table on a terminal (a pty), the window closed: the terminal is gone (writes fail
    with EIO) and SIGHUP arrives. The rehearsal unwinds anyway — nginx stopped, exit 129, no
    traceback in its log."""
    import pty
    import threading

    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "rehearse", str(DATA / "two-sessions.yaml"), "--only", "climate",
         "--speed", "600", "--outputs", "platforms", "--run-dir", str(tmp_path / "run"),
         "--media-dir", str(tmp_path / "media")],
        stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    os.close(slave)

    def drain() -> None:  # what the terminal shows; a full pty would block the table
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass

    threading.Thread(target=drain, daemon=True).start()
    try:
        nginx = _wait_for_nginx(proc)
        time.sleep(2.0)
        os.close(master)  # the window closes
        proc.send_signal(signal.SIGHUP)  # and the kernel hangs up on the session
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _wait_ended(nginx) == []
    log = (tmp_path / "run" / "summit.log").read_text()
    assert code == 129, log[-3000:]
    assert "stop_signal" in log and "Traceback" not in log, log[-3000:]
