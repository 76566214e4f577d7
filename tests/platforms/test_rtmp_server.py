from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from platform_helpers import Pusher

from orchestrator.standins.nginx import RtmpServer, RtmpServerError, parse_stat


async def test_starts_on_free_loopback_ports_and_stops_by_pid(tmp_path: Path) -> None:
    server = RtmpServer(workdir=tmp_path / "w")
    await server.start()
    try:
        assert server.url.startswith("rtmp://127.0.0.1:") and server.url.endswith("/live")
        assert server.backup_url.endswith("/backup")
        assert server.pid is not None and server.running
        assert await server.publishers() == set()
    finally:
        await server.stop()
    assert not server.running


async def test_a_missing_module_is_named(tmp_path: Path) -> None:
    with pytest.raises(RtmpServerError, match="libnginx-mod-rtmp"):
        await RtmpServer(module=str(tmp_path / "nope.so")).start()


async def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RtmpServerError, match="not started"):
        _ = RtmpServer().url


async def test_publishers_follow_real_media_and_record(tmp_path: Path) -> None:
    async with RtmpServer(record_dir=tmp_path / "rec") as server:
        pusher = Pusher(server.url + "/cam1", seconds=20)
        stream = await server.wait_for_publisher("cam1", timeout=10)
        assert stream.video_codec == "H264" and stream.audio_codec == "AAC"
        assert (stream.width, stream.height, stream.sample_rate) == (320, 180, 48000)
        assert await server.publishers() == {"cam1"}
        assert await server.publishers(server.backup_app) == set()
        await asyncio.sleep(1.0)
        await pusher.stop()
        await server.wait_until_gone("cam1", timeout=10)
    recordings = list((tmp_path / "rec" / "live").glob("cam1*.flv"))  # one folder per application
    assert recordings and recordings[0].stat().st_size > 10_000


def test_parse_stat_ignores_streams_without_a_publisher() -> None:
    xml = """<rtmp><server><application><name>live</name><live>
      <stream><name>waiting</name><time>10</time><nclients>1</nclients></stream>
      <stream><name>on</name><time>2500</time><bytes_in>99</bytes_in><publishing/><active/></stream>
    </live></application></server></rtmp>"""
    streams = parse_stat(xml)
    assert [(s.app, s.name, s.seconds, s.bytes_in) for s in streams] == [("live", "on", 2.5, 99)]
