"""The emulators run on their own (`summit emulate youtube|facebook`) and print their base URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import pytest
from platform_helpers import CLIENT_ID, CLIENT_SECRET, PAGE_ID, PAGE_TOKEN, REFRESH_TOKEN, Pusher, eventually

from orchestrator.standins.emulators.facebook import run_facebook_emulator
from orchestrator.standins.emulators.ingest import ProbeMonitor, StatMonitor, app_of
from orchestrator.standins.emulators.youtube import run_youtube_emulator
from orchestrator.standins.nginx import RtmpServer, free_port


async def run_until_printed(
    start: Callable[[], Coroutine[Any, Any, None]], capsys: pytest.CaptureFixture[str]
) -> tuple[asyncio.Task[None], str]:
    task = asyncio.create_task(start())

    async def printed() -> str:
        return capsys.readouterr().out

    out = await eventually(printed, timeout=10)
    assert out, "the emulator printed nothing"
    return task, out.splitlines()[0]


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_youtube_emulator_standalone_with_its_own_rtmp_server(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    task, base = await run_until_printed(
        lambda: run_youtube_emulator(port, None, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN), capsys
    )
    try:
        assert base == f"http://127.0.0.1:{port}"
        form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN}  # fmt: skip
        async with aiohttp.ClientSession() as http, http.post(base + "/token", data=form) as resp:
            assert resp.status == 200
    finally:
        await stop(task)


async def test_facebook_emulator_standalone_against_a_given_rtmp_server(
    capsys: pytest.CaptureFixture[str], rtmp_server: RtmpServer
) -> None:
    port = free_port()
    task, base = await run_until_printed(
        lambda: run_facebook_emulator(port, rtmp_server.url, PAGE_ID, PAGE_TOKEN, rtmp_stat_url=rtmp_server.stat_url),
        capsys,
    )
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{base}/v26.0/{PAGE_ID}/live_videos", data={"access_token": PAGE_TOKEN}) as resp,
        ):
            created = await resp.json()
        assert created["secure_stream_url"].startswith(rtmp_server.url + "/FB-")
    finally:
        await stop(task)


def test_app_of_an_ingest_url() -> None:
    assert app_of("rtmp://127.0.0.1:1935/live?backup=1") == "live"
    assert app_of("rtmps://live-api-s.facebook.com:443/rtmp/") == "rtmp"


async def test_both_monitors_see_real_media(rtmp_server: RtmpServer) -> None:
    stat, probe = StatMonitor.for_url(rtmp_server.stat_url), ProbeMonitor(refresh=0.5)
    assert await stat.stream(rtmp_server.url, "cam") is None
    assert await probe.stream(rtmp_server.url, "cam") is None
    pusher = Pusher(rtmp_server.url + "/cam", seconds=30)
    try:
        await rtmp_server.wait_for_publisher("cam")
        seen = await eventually(lambda: stat.stream(rtmp_server.url, "cam"))
        assert seen is not None and seen.video_codec == "H264"
        probed = await eventually(lambda: probe.stream(rtmp_server.url, "cam"), timeout=15, interval=0.3)
        assert probed is not None and (probed.video_codec, probed.audio_codec, probed.height) == ("H264", "AAC", 180)
    finally:
        await pusher.stop()
        await probe.close()
