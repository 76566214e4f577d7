"""An operator's commands survive `kill -9`: a real `summit run` with its dashboard, an extend and a
hold given through the control API, the process killed while the hold lasts and started again with
the same command. The restarted process keeps the session held (the clip due meanwhile does not
start), lets it go when an operator resumes, and ends the session at its extended time; no
duplicate, nothing missing from the journal."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from orchestrator.engine.journal import SqliteJournal
from orchestrator.standins.nginx import RtmpServer
from tests.faults.killdrill import EVENT_ID, Kill, KillDrill

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.skipif(not RtmpServer.available(), reason="nginx with the RTMP module is not installed"),
]

CLIP_CUE = "a/cue/02-clip"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _post(url: str, body: dict[str, Any] | None = None, timeout_s: float = 15.0) -> dict[str, Any]:
    """POST a command, retrying while the (re)starting process does not listen yet."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.post(url, json=body or {}) as resp:
                    answer: dict[str, Any] = await resp.json()
                    assert resp.status == 200, (url, resp.status, answer)
                    return answer
            except aiohttp.ClientConnectionError:
                assert time.monotonic() < deadline, f"nobody answers {url}"
                await asyncio.sleep(0.1)


def _journal(drill: KillDrill) -> SqliteJournal:
    return SqliteJournal(drill.root / "state" / f"{EVENT_ID}.sqlite")


async def test_a_hold_and_an_extend_survive_kill_9(tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    async with KillDrill(tmp_path, extra_args=("--dashboard", str(port))) as drill:
        wall = time.monotonic()
        drill.write_schedule()
        proc = drill.spawn()
        await asyncio.sleep(max(0.0, (drill.t0 - datetime.now(drill.t0.tzinfo)).total_seconds() + 1.0))
        extended = await _post(f"{api}/sessions/a/extend", {"seconds": 3})
        assert extended["command"] == "extend", extended
        held = await _post(f"{api}/sessions/a/hold")
        assert held["command"] == "hold", held
        await asyncio.sleep(max(0.0, (drill.t0 + timedelta(seconds=6) - datetime.now(drill.t0.tzinfo)).total_seconds()))
        proc.kill()  # SIGKILL, two seconds after the clip's time: the hold kept it back
        proc.wait(10)
        kill = Kill(at_s=6.0, phase="on air (held)", killed_on_air=True)

        proc = drill.spawn()
        await drill._wait_on_air(proc, kill, timeout=15.0)
        assert kill.restart_to_air_s is not None, "the outputs did not come back"
        await asyncio.sleep(1.0)
        journal = _journal(drill)
        try:
            assert not journal.done(CLIP_CUE), "the clip started although the session was held"
        finally:
            journal.close()
        resumed_at = datetime.now(drill.t0.tzinfo)
        resumed = await _post(f"{api}/sessions/a/resume")
        assert resumed["command"] == "resume", resumed
        out, _ = await asyncio.get_running_loop().run_in_executor(None, lambda: proc.communicate(timeout=120))
        lines = out.strip().splitlines()
        result = drill._result([kill], proc.returncode, json.loads(lines[-1]) if lines else {}, time.monotonic() - wall)

    assert result.exit_code == 0, result.summary
    assert result.duplicates == 0, result.duplicate_notes
    assert result.incomplete == [] and result.interrupted == [] and result.failures == []
    assert any("kept as the operators left them: hold on a" in a for a in result.alerts), result.alerts
    journal = _journal(drill)
    try:
        actions = {a.id: a for a in journal.actions()}
        commands = [(o.command, o.outcome) for o in journal.overrides()]
    finally:
        journal.close()
    assert commands == [("extend", "ok"), ("hold", "ok"), ("resume", "ok")]
    clip = actions[CLIP_CUE]
    assert clip.executed is not None and datetime.fromisoformat(clip.executed) >= resumed_at - timedelta(seconds=0.5)
    end = actions["a/end"]
    assert end.executed is not None
    assert datetime.fromisoformat(end.scheduled) == drill.t0 + timedelta(seconds=19)  # 16 s, extended by 3
    assert datetime.fromisoformat(end.executed) >= drill.t0 + timedelta(seconds=19)
