"""No stream key stays in a recording's file name, even when nginx ends before telling us the
file is finished (stopped with a publish still open, killed, crashed)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest

from orchestrator.standins.nginx import RtmpServer

pytestmark = pytest.mark.skipif(not RtmpServer.available(), reason="nginx with the RTMP module is not installed")

KEY = "FB-1234567890123456-1-SecretPartOfTheKey42"


async def _push(url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc=size=160x90:rate=15", "-f", "lavfi", "-i", "sine=frequency=440",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-c:a", "aac", "-f", "flv", url,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("app", ["live", "backup"])
async def test_a_recording_nginx_never_reported_is_named_by_its_namer(tmp_path: Path, app: str) -> None:
    server = RtmpServer(record_dir=tmp_path / "ingest")
    await server.start()
    asked: list[tuple[str, str]] = []

    def namer(rec_app: str, name: str, started: float, ended: float) -> str | None:
        asked.append((rec_app, name))
        return f"fb-1234567890123456{'-backup' if rec_app == 'backup' else ''}" if name == KEY else None

    server.name_recordings(namer)
    pusher = await _push(f"{server.url if app == 'live' else server.backup_url}/{KEY}")
    try:
        await server.wait_for_publisher(KEY, app=app, timeout=30)
        await asyncio.sleep(1.0)  # some media in the file
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)  # nginx gone without a word: no record_done
        await server.stop()
    finally:
        with contextlib.suppress(ProcessLookupError):
            pusher.kill()
        await pusher.wait()
    files = [p.name for p in (tmp_path / "ingest").rglob("*") if p.is_file()]
    assert files and not [f for f in files if "SecretPart" in f], files
    assert (app, KEY) in asked
    recorded = server.recordings(app=app, name=KEY)
    assert [r.path.name for r in recorded] == [f"fb-1234567890123456{'-backup' if app == 'backup' else ''}.flv"]
