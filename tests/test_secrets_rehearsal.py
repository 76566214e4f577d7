"""A whole rehearsal through the emulated platforms, then a hunt for every secret it involved —
credentials, access tokens, stream keys — in everything it left or showed: the JSON log, the
journal's SQLite bytes, the report, every file name, the dashboard's page, JSON, WebSocket frames
and error pages. None may appear."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path

import aiohttp
import pytest

from orchestrator.logconfig import configure_logging
from orchestrator.rehearsal import RehearsalOptions, rehearse
from orchestrator.schedule.loader import load_schedule
from orchestrator.standins.nginx import RtmpServer
from orchestrator.standins.outputs import EmulatedOutputs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not RtmpServer.available(), reason="nginx with the RTMP module is not installed"),
]
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _raw_request(port: int, head: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 10)
    except (ConnectionError, TimeoutError):
        return b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _watch_dashboard(port: int, seen: list[str], done: asyncio.Event) -> None:
    """Everything a browser (or a hostile client) gets from the dashboard while the run lasts."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        while not done.is_set():  # until it is up
            try:
                async with http.get(base + "/") as resp:
                    seen.append(await resp.text())
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        big = await _raw_request(port, b"GET /api/state HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        seen.append(big.decode(errors="replace"))
        assert big[:9] in (b"HTTP/1.0 ", b"HTTP/1.1 ") and big[9:10] == b"4", big[:200]  # refused, clearly
        async with http.ws_connect(base + "/ws") as ws:
            for text in ('{"id": 1, "command": "snapshot"}', "[" * 50_000, '{"id": NaN, "command": "x"}',
                         '{"id": 2, "command": "nope", "args": {}}'):  # fmt: skip
                await ws.send_str(text)
            while not done.is_set():
                try:
                    msg = await ws.receive(timeout=0.5)
                except TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break  # the dashboard is closing: the run is over
                seen.append(msg.data)
                json.loads(msg.data)  # strict JSON, every frame
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(base + "/api/state") as resp:
                        seen.append(await resp.text())
                    async with http.get(base + "/no/such/page") as resp:
                        seen.append(await resp.text())


async def test_no_secret_of_a_rehearsal_reaches_any_output(tmp_path: Path) -> None:
    schedule = load_schedule(ROOT / "schedules" / "cac-2020.yaml")
    run_dir = tmp_path / "run"
    log_path = tmp_path / "summit.jsonl"
    port = _free_port()
    outputs = EmulatedOutputs(run_dir / "ingest")
    seen: list[str] = []
    done = asyncio.Event()
    with log_path.open("w", encoding="utf-8") as log_file:
        configure_logging("json", "debug", stream=log_file)
        try:
            watcher = asyncio.create_task(_watch_dashboard(port, seen, done))
            try:
                report = await rehearse(
                    schedule,
                    RehearsalOptions(speed=600, only={"mayors-meeting"}, run_dir=run_dir,
                                     media_dir=tmp_path / "media", progress=False, dashboard_port=port),
                    outputs=outputs,
                )  # fmt: skip
            finally:
                done.set()
                await watcher
        finally:
            configure_logging("console", "warning")
    assert report["summary"]["failed"] == 0, report["summary"]
    assert outputs.local is not None
    secrets = [s for s in outputs.local.issued_secrets() if len(s) >= 8]
    assert len(secrets) >= 8  # client secret, refresh tokens, access tokens, page token, stream keys

    journal = b"".join(p.read_bytes() for p in run_dir.glob("journal.sqlite*"))
    places = {
        "log": log_path.read_text(encoding="utf-8"),
        "journal": journal.decode("utf-8", errors="replace"),
        "report": Path(report["report_path"]).read_text(encoding="utf-8"),
        "file names": "\n".join(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")),
        "dashboard": "\n".join(seen),
    }
    assert places["log"].count("\n") > 50 and len(seen) > 5  # the run really logged and was watched
    assert "Traceback" not in places["log"]
    leaks = [(where, s[:6] + "…") for s in secrets for where, text in places.items() if s in text]
    assert leaks == [], leaks
