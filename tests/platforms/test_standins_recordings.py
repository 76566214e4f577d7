"""What arrived for which broadcast: nginx-rtmp tells the stand-in of each finished recording, the
emulators say which broadcast or live video it fed, and the files carry no stream key in their
names. Real parts: nginx, both emulators, the real adapters, real H.264/AAC pushed with PyAV."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from platform_helpers import (
    FAST_FACEBOOK,
    FAST_YOUTUBE,
    MemoryJournal,
    Pusher,
    facebook_destination,
    make_session,
    youtube_destination,
)

from orchestrator.engine.ports import Platform, PreparedDestination
from orchestrator.platforms.factory import close_platforms
from orchestrator.schedule.model import RtmpDestination
from orchestrator.standins.local_platforms import LocalPlatforms, RecordedOutput, start_local_platforms
from orchestrator.standins.nginx import RtmpServer, flv_duration

# -- fast ----------------------------------------------------------------------------------------


def _write_flv(path: Path, seconds: float) -> None:
    with av.open(str(path), "w", format="flv") as out:
        video = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 64, 36, "yuv420p"
        for i in range(int(seconds * 30)):
            frame = av.VideoFrame.from_ndarray(np.zeros((36, 64, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, fractions.Fraction(1, 30)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)


def test_flv_duration_is_the_last_tags_timestamp(tmp_path: Path) -> None:
    _write_flv(tmp_path / "a.flv", 2.0)
    duration = flv_duration(tmp_path / "a.flv")
    assert duration is not None and 1.9 <= duration <= 2.0
    (tmp_path / "b.flv").write_bytes(b"not an flv at all")
    assert flv_duration(tmp_path / "b.flv") is None
    assert flv_duration(tmp_path / "missing.flv") is None


def test_a_recorded_output_window_has_a_little_slack() -> None:
    o = RecordedOutput("s1", "d", "rtmp", attached_wall=100.0, ended_wall=200.0)
    assert o.within(99.5) and o.within(150) and o.within(200.5)
    assert not o.within(98.0) and not o.within(202.0)
    assert RecordedOutput("s1", "d", "rtmp").within(0.0)  # no window known: anything goes


# -- slow: the RTMP server ----------------------------------------------------------------------


@pytest.mark.slow
async def test_the_server_learns_each_recording_from_nginx_and_names_it(tmp_path: Path) -> None:
    async with RtmpServer(record_dir=tmp_path / "rec", workdir=tmp_path / "w") as server:
        server.name_recordings(lambda app, name, started, ended: "cam" if name == "SECRET-KEY" else None)
        before = time.time()
        for _ in range(2):  # two publishes under one key: two files, both named by the namer
            pusher = Pusher(server.url + "/SECRET-KEY?token=1", seconds=1.0)
            await server.wait_for_publisher("SECRET-KEY")
            await pusher.task
            assert await server.wait_recordings_done(timeout=5)
        pusher = Pusher(server.url + "/plain", seconds=30)  # still publishing when the server stops
        await server.wait_for_publisher("plain")
        await asyncio.sleep(0.5)
    with contextlib.suppress(Exception):  # its connection was dropped by stop()
        await pusher.stop()
    keyed = server.recordings(name="SECRET-KEY")
    assert [r.path.name for r in keyed] == ["cam.flv", "cam-2.flv"]
    assert all(r.app == "live" and before <= r.started < r.ended for r in keyed)
    assert keyed[0].ended <= keyed[1].started + 0.2  # in order, one after the other
    assert 0.7 < keyed[0].ended - keyed[0].started < 3  # the start is where the media began
    # the publish cut by stop() was ended first, so its recording is known too (nginx's own name)
    (plain,) = server.recordings(name="plain")
    assert plain.path.is_file() and plain.path.name.startswith("plain-")
    assert not any("SECRET" in p.name for p in (tmp_path / "rec").rglob("*"))
    moved = server.move_recording(keyed[0].path, tmp_path / "out" / "x.flv")
    assert moved.is_file() and server.recordings(name="SECRET-KEY")[0].path == moved


# -- slow: emulators, adapters, collect_recordings ----------------------------------------------


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalPlatforms]:
    destinations = [
        youtube_destination(),
        facebook_destination(),
        RtmpDestination(kind="rtmp", id="partner", language="en", url="rtmp://partner.example/live"),
    ]
    async with RtmpServer(record_dir=tmp_path / "ingest", workdir=tmp_path / "nginx") as server:
        platforms = await start_local_platforms(
            destinations, server=server, transition_delay_s=0.2, youtube=FAST_YOUTUBE, facebook=FAST_FACEBOOK
        )
        async with platforms:
            yield platforms


def _url(target: object) -> str:
    return target.publish_url().get_secret_value()  # type: ignore[attr-defined]


def _keys(*prepared: PreparedDestination) -> set[str]:
    keys = set()
    for p in prepared:
        for target in (p.primary, p.backup):
            if target is not None and target.key is not None:
                keys.add(target.key.get_secret_value().split("?", 1)[0])
    return keys


@pytest.mark.slow
async def test_each_broadcast_gets_its_own_recording_and_no_key_is_in_a_file_name(
    local: LocalPlatforms, tmp_path: Path
) -> None:
    """Two back-to-back sessions on one persistent YouTube stream key, Facebook with its backup
    ingest, and a generic RTMP destination (redirected here under its id) in both sessions."""
    platforms = local.platforms(MemoryJournal(), recordings_dir=tmp_path / "files", event_id="ev")
    try:
        await _two_sessions(local, platforms, tmp_path)
    finally:
        await close_platforms(platforms)


async def _two_sessions(local: LocalPlatforms, platforms: dict[str, Platform], tmp_path: Path) -> None:
    yt, fb, rtmp = platforms["youtube"], platforms["facebook"], platforms["rtmp"]
    start = datetime.now(UTC) + timedelta(minutes=30)
    s1, s2 = make_session("s1", start=start, minutes=60), make_session("s2", start=start + timedelta(hours=1))
    dest_yt, dest_fb = youtube_destination(), facebook_destination()
    dest_rtmp = RtmpDestination(kind="rtmp", id="partner", language="en", url="rtmp://partner.example/live")
    # Both sessions are prepared ahead, as the plan does: two broadcasts bound to one stream.
    yt1 = await yt.prepare("s1/yt-en/prepare", s1, dest_yt)
    yt2 = await yt.prepare("s2/yt-en/prepare", s2, dest_yt)
    assert yt1.platform_ids["stream"] == yt2.platform_ids["stream"]
    assert yt1.platform_ids["broadcast"] != yt2.platform_ids["broadcast"]
    fb1 = await fb.prepare("s1/fb-en/prepare", s1, dest_fb)
    assert fb1.backup is not None
    r1 = await rtmp.prepare("s1/partner/prepare", s1, dest_rtmp)
    r2 = await rtmp.prepare("s2/partner/prepare", s2, dest_rtmp)
    assert _url(r1.primary) == f"{local.server.url}/partner"

    outputs: list[RecordedOutput] = []
    # session 1: every ingest, backups included
    attached = time.time()
    pushers = [Pusher(_url(t), seconds=30) for t in (yt1.primary, yt1.backup, fb1.primary, fb1.backup, r1.primary)]
    await yt.go_live("s1/yt-en/live", s1, dest_yt)
    await fb.go_live("s1/fb-en/live", s1, dest_fb)
    await asyncio.sleep(1.0)
    for p in pushers:  # the output is detached, then the broadcast ended
        await p.stop()
    await yt.end("s1/yt-en/end", s1, dest_yt)
    await fb.end("s1/fb-en/end", s1, dest_fb)
    ended = time.time()
    outputs += [
        RecordedOutput("s1", "yt-en", "youtube", yt1.platform_ids, attached, ended),
        RecordedOutput("s1", "fb-en", "facebook", fb1.platform_ids, attached, ended),
        RecordedOutput("s1", "partner", "rtmp", r1.platform_ids, attached, ended),
    ]
    # session 2, right after, on the same YouTube stream key and the same RTMP name
    attached = time.time()
    pushers = [Pusher(_url(t), seconds=30) for t in (yt2.primary, r2.primary)]
    await yt.go_live("s2/yt-en/live", s2, dest_yt)
    await asyncio.sleep(1.0)
    for p in pushers:
        await p.stop()
    await yt.end("s2/yt-en/end", s2, dest_yt)
    ended = time.time()
    outputs += [
        RecordedOutput("s2", "yt-en", "youtube", yt2.platform_ids, attached, ended),
        RecordedOutput("s2", "partner", "rtmp", r2.platform_ids, attached, ended),
    ]
    assert await local.server.wait_recordings_done()

    # The emulators say which recording fed which broadcast, primary and backup apart.
    b1, b2 = yt1.platform_ids["broadcast"], yt2.platform_ids["broadcast"]
    video = fb1.platform_ids["live_video"]
    (yt_first,), (yt_second,) = local.youtube.recordings_of(b1), local.youtube.recordings_of(b2)
    assert yt_first != yt_second
    assert yt_first.name == f"yt-{b1}.flv" and yt_second.name == f"yt-{b2}.flv"
    (yt_backup,) = local.youtube.recordings_of(b1, backup=True)
    assert yt_backup.parent.name == "backup" and local.youtube.recordings_of(b2, backup=True) == []
    (fb_primary,), (fb_backup,) = local.facebook.recordings_of(video), local.facebook.recordings_of(video, backup=True)
    assert fb_primary.name == f"fb-{video}.flv" and fb_backup.name == f"fb-{video}-backup.flv"
    keys = _keys(yt1, yt2, fb1)
    assert len(keys) == 3  # one YouTube stream key, Facebook's primary and backup keys

    def no_key_in_names() -> None:
        for path in tmp_path.rglob("*"):
            assert not any(key in path.name for key in keys), path.name

    no_key_in_names()

    found = await local.collect_recordings(outputs, tmp_path / "recordings")
    into = tmp_path / "recordings"
    assert found == {(o.session, o.destination): into / o.session / f"{o.destination}.flv" for o in outputs}, found
    assert found[("s1", "yt-en")].stat().st_size > 10_000
    for path in found.values():
        with av.open(str(path)) as f:
            assert f.streams.video[0].codec_context.name == "h264"
            assert f.streams.audio[0].codec_context.name == "aac"
            assert f.duration is not None and f.duration / 1e6 > 0.5
    # each session's file is its own publish: the second session's began after the first ended
    assert local.youtube.recordings_of(b1) == [found[("s1", "yt-en")]]
    assert local.youtube.recordings_of(b2) == [found[("s2", "yt-en")]]
    partner = local.server.recordings(name="partner")
    assert [r.path for r in partner] == [found[("s1", "partner")], found[("s2", "partner")]]
    assert partner[0].ended <= partner[1].started
    # the backups stay in the record dir, named after their broadcast and live video
    left = sorted(p.relative_to(tmp_path / "ingest").as_posix() for p in (tmp_path / "ingest").rglob("*.flv"))
    assert left == sorted([f"backup/yt-{b1}-backup.flv", f"backup/fb-{video}-backup.flv"])
    no_key_in_names()
