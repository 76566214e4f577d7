"""No stream key stays in a recording's file name after a SIGKILL: the process running nginx-rtmp
(a rehearsal: the emulated platforms' ingest) is killed mid-publish, nginx dies with it and leaves
the file under its key-based name; the next start on the same folder renames it at once — by what
the server wrote down while recording (a ledger of digests, never a name), else neutrally."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from orchestrator.standins.nginx import LEDGER_FILE, NameLedger, RtmpServer, unidentified_stem

pytestmark = pytest.mark.skipif(not RtmpServer.available(), reason="nginx with the RTMP module is not installed")

KEY = "Zq7-secretKEYpart-42xy"
FLV = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"  # a header and nothing more: still a leftover


def _names(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*")]


async def test_a_server_started_on_leftovers_renames_them_before_anything_else(tmp_path: Path) -> None:
    record = tmp_path / "ingest"
    (record / "live").mkdir(parents=True)
    (record / "backup").mkdir()
    NameLedger(record / LEDGER_FILE).remember("live", "known-key-0123456789", "yt-b123")
    (record / "live" / "known-key-0123456789-1700000000.flv").write_bytes(FLV)
    (record / "live" / f"{KEY}-1700000100.flv").write_bytes(FLV)  # nobody knows this one
    (record / "backup" / f"{KEY}-1700000100.flv").write_bytes(FLV)
    (record / "live" / "cdn-en-1700000200.flv").write_bytes(FLV)  # a destination id: no secret
    server = RtmpServer(record_dir=record, workdir=tmp_path / "nginx", public_names=["cdn-en"])
    await server.start()
    try:
        names = sorted(p.name for p in (record / "live").iterdir())
        backup = [p.name for p in (record / "backup").iterdir()]
    finally:
        await server.stop()
    assert names == sorted(["yt-b123.flv", f"{unidentified_stem(1700000100)}.flv", "cdn-en-1700000200.flv"])
    assert backup == [f"{unidentified_stem(1700000100)}.flv"]
    assert unidentified_stem(1700000100) == "unidentified-20231114T221500Z"
    assert not [n for n in _names(tmp_path) if "known-key" in n or "secretKEY" in n]
    ledger = (record / LEDGER_FILE).read_text()
    assert "known-key" not in ledger and oct((record / LEDGER_FILE).stat().st_mode & 0o777) == "0o600"


SCHEDULE = {
    "event": {"id": "kill-names", "name": {"en": "Kill and names"}, "timezone": "UTC"},
    "destinations": [{"id": "yt-en", "kind": "youtube", "language": "en", "channel": "Drill", "credentials": "yt"}],
    "sessions": [
        {
            "id": "only",
            "title": {"en": "Only"},
            "start": "2020-06-03T10:00:00+00:00",
            "end": "2020-06-03T10:20:00+00:00",
            "floor_language": "en",
            "outputs": ["yt-en"],
            "rundown": [{"kind": "slate", "text": "Welcome", "duration": "20m"}],
        }
    ],
}


def _spawn(root: Path) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "orchestrator.cli", "--log-format", "json", "rehearse", str(root / "s.yaml"),
            "--run-dir", str(root / "run"), "--media-dir", str(root / "media"), "--outputs", "platforms",
            "--participants", "none", "--no-progress", "--speed", "120"]  # fmt: skip
    log = (root / "summit.jsonl").open("a")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, text=True, cwd=root, env=dict(os.environ))


def _log(root: Path) -> str:
    path = root / "summit.jsonl"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _keyed_recordings(live: Path) -> list[str]:
    """Stream names of the files nginx is writing under its own name (`<name>-<unix time>.flv`)."""
    return [p.name.rsplit("-", 1)[0] for p in live.glob("*-*.flv") if p.name.rsplit("-", 1)[1][:-4].isdigit()]


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:g} s")
        time.sleep(0.1)


@pytest.mark.slow
def test_a_rehearsal_killed_mid_publish_leaves_no_key_in_a_file_name_once_started_again(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SCHEDULE))
    run, live = tmp_path / "run", tmp_path / "run" / "ingest" / "live"
    proc = _spawn(tmp_path)
    try:
        _wait(lambda: live.is_dir() and _keyed_recordings(live), 90, "no publish recorded")
        (key,) = _keyed_recordings(live)
        assert key != "yt-en" and len(key) >= 12  # the emulated YouTube stream key
        _wait(lambda: (run / "ingest" / LEDGER_FILE).exists(), 20, "the server never noted the publish")
        time.sleep(0.5)  # some media in the file
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # nginx died with its parent and closed the file under the key's name: nobody renamed it
    _wait(lambda: not subprocess.run(["pgrep", "-f", str(run / "ingest")], capture_output=True).stdout, 10,
          "nginx outlived the killed rehearsal")  # fmt: skip
    assert [n for n in _names(run) if key in n]

    proc = _spawn(tmp_path)
    try:
        # renamed before the server takes any publish: by the time the rehearsal says it started
        _wait(lambda: _log(tmp_path).count('"rehearsal_started"') >= 2, 60, "the second rehearsal did not start")
        assert not [n for n in _names(run) if key in n]
        while proc.poll() is None:  # until the second run ends, at no moment does the key come back
            assert not [n for n in _names(run) if key in n]
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(120)
    names = _names(run)
    assert not [n for n in names if key in n], names
    assert (run / "report.json").exists()
    assert [n for n in names if n.startswith("ingest/live/yt-")]  # identified by the ledger, not neutral
    log_text = _log(tmp_path)
    assert key not in log_text and '"rtmp_recording_left_over"' in log_text
