"""The dashboard over real HTTP and WebSocket on loopback."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from orchestrator.logconfig import configure_logging
from orchestrator.planning.state import SessionState
from orchestrator.schedule.model import Schedule
from orchestrator.web.app import serve_dashboard
from tests.web.helpers import KEY, MASKED, Stage
from tests.web.test_hub import live_climate


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The project's real log set-up (with its masking), writing JSON lines where the test reads them."""
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    yield stream
    configure_logging("console", "warning")


@pytest.fixture
async def served(two_sessions: Schedule, log_stream: io.StringIO) -> AsyncIterator[tuple[Stage, str, web.AppRunner]]:
    stage = Stage(two_sessions)
    stage.hub.broadcaster.tick_s = 0.2  # keep waits short
    live_climate(stage)
    runner, url = await serve_dashboard(stage.hub)
    yield stage, url, runner
    await runner.cleanup()
    stage.close()


async def next_snapshot(ws: aiohttp.ClientWebSocketResponse, timeout: float = 2.0) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type == WSMsgType.TEXT, msg
        body = json.loads(msg.data)
        if body["type"] == "snapshot":
            return body["data"]


async def test_page_state_and_assets_never_carry_the_key(served: tuple[Stage, str, web.AppRunner]) -> None:
    stage, url, _ = served
    stage.bus.alert("error", f"ingest refused key {KEY}", session="climate", destination="rec-ko")
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/") as r:
            page = await r.text()
            assert r.status == 200 and r.content_type == "text/html"
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
            assert 'id="onair"' in page and "/static/app.js" in page
        for asset in ("/static/app.js", "/static/style.css"):
            async with http.get(url + asset) as r:
                assert r.status == 200
                assert KEY not in await r.text()
        async with http.get(url + "/api/state") as r:
            raw = await r.text()
            assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    assert KEY not in page and KEY not in raw
    state = json.loads(raw)
    assert state["on_air"]["title"]["ko"] == "기후·환경"  # UTF-8 text, not \\u escapes
    assert "기후·환경" in raw
    ingest = next(d["ingest"] for d in state["destinations"] if d["id"] == "rec-ko")
    assert ingest.endswith("/" + MASKED)
    assert state["alerts"][0]["message"] == f"ingest refused key {MASKED}"


async def test_websocket_pushes_a_snapshot_on_connect_and_on_change(served: tuple[Stage, str, web.AppRunner]) -> None:
    stage, url, _ = served
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws") as ws:
        first = await next_snapshot(ws)
        assert first["on_air"]["id"] == "climate"
        stage.bus.alert("warning", "booth ko-en: no interpreter audio", session="climate")
        stage.clock.advance(1.0)  # the hub's clock is the stage's: the next push is due once it moves
        for _ in range(10):
            snap = await next_snapshot(ws)
            if snap["alerts"]:
                break
        assert snap["alerts"][0]["message"] == "booth ko-en: no interpreter audio"
        assert KEY not in json.dumps(snap)
        # the command seam answers on the same socket
        await ws.send_str(json.dumps({"id": 9, "command": "ping"}))
        while (reply := json.loads((await ws.receive(timeout=2)).data))["type"] != "reply":
            pass
        assert reply == {"type": "reply", "id": 9, "ok": True, "result": {"pong": reply["result"]["pong"]}}
        assert reply["result"]["pong"].endswith("+09:00")


async def test_a_page_from_another_site_cannot_open_the_socket(served: tuple[Stage, str, web.AppRunner]) -> None:
    _, url, _ = served
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(url + "/ws", headers={"Origin": "http://evil.example"})
        assert err.value.status == 403
        async with http.ws_connect(url + "/ws", headers={"Origin": url}) as ws:
            assert (await next_snapshot(ws))["event"]["id"] == "test-two"


async def test_shutdown_closes_the_sockets(two_sessions: Schedule) -> None:
    stage = Stage(two_sessions)
    runner, url = await serve_dashboard(stage.hub)
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws") as ws:
        await next_snapshot(ws)
        await asyncio.wait_for(runner.cleanup(), 5)
        msg = await ws.receive(timeout=2)
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert not stage.hub.broadcaster.running and not stage.hub.broadcaster.clients
    stage.close()


async def test_logs_name_the_dashboard_and_never_the_key(
    served: tuple[Stage, str, web.AppRunner], log_stream: io.StringIO
) -> None:
    stage, url, _ = served
    stage.bus.alert("error", f"YouTube said: stream key {KEY} is not active", session="climate")
    stage.move("climate", SessionState.ENDED)
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws") as ws:
        await next_snapshot(ws)
    await asyncio.sleep(0.05)
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    events = {line["event"] for line in lines}
    assert {"dashboard_started", "dashboard_client_connected", "alert"} <= events
    started = next(line for line in lines if line["event"] == "dashboard_started")
    assert started["url"] == url
    assert KEY not in log_stream.getvalue()
