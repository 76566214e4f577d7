"""Media faults in a real run (system clock, real programme, real nginx-rtmp): the RTMP server
restarted mid-session, the backup ingest carrying the output while the primary is down, and a
recordings disk that fills up. The run goes on; nothing else is disturbed; the operators are told."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from orchestrator.clock import SystemClock
from orchestrator.outputs import PlatformOutputs
from orchestrator.platforms.credentials import CredentialStore
from orchestrator.schedule.loader import parse_schedule_text
from orchestrator.schedule.model import Schedule
from orchestrator.standins.nginx import RtmpServer
from orchestrator.system import SystemSettings, build_system

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.skipif(not RtmpServer.available(), reason="nginx with the RTMP module is not installed"),
]

KEY = "partner-key-51d0c2"


def _schedule(destinations: list[dict[str, object]], *, lead_s: float = 3.0, length_s: float = 14.0) -> Schedule:
    start = datetime.now(UTC) + timedelta(seconds=lead_s)
    doc = {
        "event": {"id": "media-faults", "name": {"en": "Media faults"}, "timezone": "UTC"},
        "destinations": destinations,
        "sessions": [
            {
                "id": "a",
                "title": {"en": "A"},
                "start": start.isoformat(),
                "end": (start + timedelta(seconds=length_s)).isoformat(),
                "floor_language": "en",
                "outputs": [d["id"] for d in destinations],
                "rundown": [{"kind": "slate", "text": "On air", "duration": f"{length_s:g}s"}],
            }
        ],
    }
    return parse_schedule_text(yaml.safe_dump(doc), "media-faults.yaml")


async def _kill_nginx(server: RtmpServer) -> None:
    """nginx dies (the server, not our stand-in's bookkeeping): its publishers are cut at once."""
    proc = server._proc
    assert proc is not None
    proc.kill()
    await proc.wait()


async def _start_nginx_again(server: RtmpServer) -> None:
    """The same nginx, same configuration and ports, started again (an operator's restart)."""
    workdir = server._workdir
    assert workdir is not None
    server._proc = await asyncio.create_subprocess_exec(
        server._nginx, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", str(workdir / "error.log"),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert await server._wait_ready(), "nginx did not start again"


async def test_server_restarted_and_backup_carrying_the_output(tmp_path: Path) -> None:
    primary, backup = RtmpServer(record_dir=tmp_path / "a"), RtmpServer(record_dir=tmp_path / "b")
    await primary.start()
    await backup.start()
    try:
        schedule = _schedule([{"id": "cdn-en", "kind": "rtmp", "language": "en", "url": primary.url,
                               "backup_url": backup.url, "key": "cdn"}])  # fmt: skip
        settings = SystemSettings(journal_path=tmp_path / "j.sqlite", recordings_dir=tmp_path / "rec",
                                  media_dir=tmp_path / "media")  # fmt: skip
        outputs = PlatformOutputs(CredentialStore(values={"cdn": {"key": KEY}}))
        async with build_system(schedule, SystemClock(), outputs, settings) as system:
            run = asyncio.ensure_future(system.run())
            await primary.wait_for_publisher(KEY, timeout=20)
            await backup.wait_for_publisher(KEY, app=backup.app, timeout=20)
            on_backup: list[bool] = []

            async def watch_backup() -> None:
                while not run.done():
                    on_backup.append(KEY in await backup.publishers())
                    await asyncio.sleep(0.2)

            watcher = asyncio.ensure_future(watch_backup())
            await asyncio.sleep(2.0)
            await _kill_nginx(primary)  # the primary is down: the backup carries the output …
            await asyncio.sleep(2.5)
            await _start_nginx_again(primary)  # … until the primary is back, and pushed to again
            await primary.wait_for_publisher(KEY, timeout=10)
            snapshot = await run
            await watcher
        assert {r.outcome for r in snapshot.results.values()} == {"ok"}, snapshot.results
        # the backup never dropped while the primary was down and back
        first = on_backup.index(True)
        assert all(on_backup[first : len(on_backup) - 6]), on_backup
        await backup.wait_recordings_done()
        assert len(backup.recordings(name=KEY)) == 1  # one unbroken publish on the backup
        # the output's report says the primary was lost, and so does an alert, without the key
        out = snapshot.outputs[("a", "cdn-en")]
        assert out.errors and all(KEY not in e for e in out.errors)
        alerts = [a.message for a in snapshot.alerts]
        assert any("a/cdn-en" in a for a in alerts) and all(KEY not in a for a in alerts), alerts
    finally:
        await primary.stop()
        await backup.stop()


@contextlib.contextmanager
def _tiny_disk(path: Path, size: str) -> object:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


async def test_a_full_recordings_disk_is_reported_and_disturbs_nothing_else(tmp_path: Path) -> None:
    server = RtmpServer()
    await server.start()
    try:
        schedule = _schedule(
            [
                {"id": "rec-en", "kind": "file", "language": "en"},
                {"id": "cdn-en", "kind": "rtmp", "language": "en", "url": server.url, "key": "cdn"},
            ],
            length_s=10.0,
        )
        with _tiny_disk(tmp_path / "rec", "24k"):
            settings = SystemSettings(journal_path=tmp_path / "j.sqlite", recordings_dir=tmp_path / "rec",
                                      media_dir=tmp_path / "media")  # fmt: skip
            outputs = PlatformOutputs(CredentialStore(values={"cdn": {"key": KEY}}))
            async with build_system(schedule, SystemClock(), outputs, settings) as system:
                snapshot = await system.run()
                records = system.journal.alerts()
                alerts = [a.message for a in records]
        # the RTMP output ran its whole session; the run ended normally
        assert snapshot.results["a/cdn-en/end"].outcome == "ok" and snapshot.state("a").value == "ended"
        assert snapshot.outputs[("a", "cdn-en")].errors == ()
        # the file output's trouble is named: which destination, and that the disk is full
        rec = snapshot.outputs[("a", "rec-en")]
        assert rec.errors and "no space left" in " ".join(rec.errors).lower(), rec.errors
        assert any("a/rec-en" in a and "no space left" in a.lower() for a in alerts), alerts
        # ... and told while it happens (the disk is full within the first second of ten), not only at the end
        off_air = snapshot.sessions["a"].off_air
        assert off_air is not None
        assert any(
            "no space left" in r.message.lower()
            and r.destination == "rec-en"
            and datetime.fromisoformat(r.at) < off_air - timedelta(seconds=5)
            for r in records
        ), records
    finally:
        await server.stop()
