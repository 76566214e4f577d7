"""The Facebook emulator speaks the Graph API: paths, tokens, error bodies, statuses and rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from platform_helpers import PAGE_ID, PAGE_TOKEN, FacebookWorld, Pusher, eventually

from orchestrator.clock import ManualClock
from orchestrator.standins.emulators.common import serve
from orchestrator.standins.emulators.facebook import FacebookEmulator, FacebookEmulatorConfig
from orchestrator.standins.nginx import PublishedStream

T0 = datetime(2020, 6, 2, 12, 0, tzinfo=UTC)


class Graph:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base

    async def get(self, path: str, token: str | None = PAGE_TOKEN, **params: str) -> tuple[int, Any]:
        if token is not None:
            params["access_token"] = token
        async with self.http.get(f"{self.base}/v26.0/{path}", params=params) as resp:
            return resp.status, await resp.json()

    async def post(self, path: str, token: str | None = PAGE_TOKEN, **form: str) -> tuple[int, Any]:
        query = {"access_token": token} if token is not None else {}
        async with self.http.post(f"{self.base}/v26.0/{path}", params=query, data=form) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def graph(facebook: FacebookWorld) -> AsyncIterator[Graph]:
    async with aiohttp.ClientSession() as http:
        yield Graph(http, facebook.base_url)


class FakeArrivals:
    """Stands in for the RTMP server when a test moves a manual clock by hours."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    async def stream(self, app_url: str, name: str) -> PublishedStream | None:
        if name not in self.names:
            return None
        return PublishedStream(app="live", name=name, seconds=1, bytes_in=1, video_codec="H264", audio_codec="AAC")


@pytest.fixture
async def manual_world() -> AsyncIterator[tuple[Graph, FacebookEmulator, ManualClock, FakeArrivals]]:
    clock, arrivals = ManualClock(T0), FakeArrivals()
    config = FacebookEmulatorConfig(PAGE_ID, PAGE_TOKEN, "rtmp://127.0.0.1:1935/live", watch_interval_s=0.05)
    emulator = FacebookEmulator(config, monitor=arrivals, clock=clock)
    runner, base = await serve(emulator.app())
    async with aiohttp.ClientSession() as http:
        yield Graph(http, base), emulator, clock, arrivals
    await runner.cleanup()


def key_of(url: str) -> str:
    return url.split("/live/", 1)[1].split("?", 1)[0]


async def test_create_scheduled_live_video_with_backup_ingest(graph: Graph, facebook: FacebookWorld) -> None:
    start = int((datetime.now(UTC) + timedelta(minutes=30)).timestamp())
    status, created = await graph.post(
        f"{PAGE_ID}/live_videos",
        status="SCHEDULED_UNPUBLISHED",
        title="Mayors",
        planned_start_time=str(start),
        enable_backup_ingest="true",
    )
    assert status == 200
    assert set(created) == {
        "id",
        "stream_url",
        "secure_stream_url",
        "stream_secondary_urls",
        "secure_stream_secondary_urls",
    }
    url = created["secure_stream_url"]
    assert url.startswith(facebook.server.url + "/FB-" + created["id"] + "-0-") and "?s_bl=1&" in url
    assert created["secure_stream_secondary_urls"][0].startswith(facebook.server.backup_url + "/FB-")
    status, video = await graph.get(created["id"] + "/", fields="status,planned_start_time,title")
    assert status == 200 and video["status"] == "SCHEDULED_UNPUBLISHED" and video["title"] == "Mayors"
    assert video["planned_start_time"] == datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"status": "LIVE"}, "Param status must be one of"),
        ({"status": "SCHEDULED_UNPUBLISHED"}, "planned_start_time is required"),
        ({"status": "SCHEDULED_UNPUBLISHED", "planned_start_time": "+8 days"}, "UNIX timestamp"),
    ],
)
async def test_bad_parameters_are_graph_100_errors(graph: Graph, form: dict[str, str], message: str) -> None:
    status, body = await graph.post(f"{PAGE_ID}/live_videos", **form)
    assert status == 400
    assert body["error"]["code"] == 100 and body["error"]["type"] == "OAuthException"
    assert body["error"]["message"].startswith("(#100) ") and message in body["error"]["message"]
    assert body["error"]["fbtrace_id"]


@pytest.mark.parametrize("lead", [timedelta(minutes=5), timedelta(days=7, minutes=1)])
async def test_scheduling_outside_10_minutes_to_7_days_is_refused(graph: Graph, lead: timedelta) -> None:
    when = str(int((datetime.now(UTC) + lead).timestamp()))
    status, body = await graph.post(f"{PAGE_ID}/live_videos", status="SCHEDULED_UNPUBLISHED", planned_start_time=when)
    assert status == 400 and "7 days" in body["error"]["message"]


async def test_tokens_are_checked_wherever_they_travel(graph: Graph) -> None:
    status, body = await graph.get(PAGE_ID, token="EAAGforged")
    assert status == 400 and body["error"]["code"] == 190 and body["error"]["type"] == "OAuthException"
    status, body = await graph.get(PAGE_ID, token=None)
    assert status == 400 and body["error"]["code"] == 104
    status, page = await graph.get(PAGE_ID)
    assert status == 200 and page == {"id": PAGE_ID, "name": "Emulated page"}
    async with graph.http.get(
        f"{graph.base}/v26.0/{PAGE_ID}", headers={"Authorization": f"OAuth {PAGE_TOKEN}"}
    ) as resp:
        assert resp.status == 200
    status, created = await graph.post(f"{PAGE_ID}/live_videos", token=None, access_token=PAGE_TOKEN)  # in the form
    assert status == 200 and created["id"]


async def test_unknown_objects_fields_and_paths(graph: Graph) -> None:
    status, body = await graph.get("1234567890")
    assert status == 400 and (body["error"]["code"], body["error"]["error_subcode"]) == (100, 33)
    assert body["error"]["type"] == "GraphMethodException" and "does not exist" in body["error"]["message"]
    _, created = await graph.post(f"{PAGE_ID}/live_videos")
    status, body = await graph.get(created["id"], fields="status,colour")
    assert status == 400 and "nonexisting field (colour) on node type (LiveVideo)" in body["error"]["message"]
    status, body = await graph.get(f"{created['id']}/comments")
    assert status == 400 and body["error"]["code"] == 2500
    async with graph.http.get(f"{graph.base}/live_videos") as resp:
        assert resp.status == 400 and (await resp.json())["error"]["code"] == 2500


async def test_default_fields_and_delete(graph: Graph) -> None:
    _, created = await graph.post(f"{PAGE_ID}/live_videos", status="UNPUBLISHED")
    _status, video = await graph.get(created["id"])
    assert set(video) == {"id", "status", "stream_url", "secure_stream_url", "embed_html"}
    assert video["status"] == "UNPUBLISHED"
    async with graph.http.delete(f"{graph.base}/v26.0/{created['id']}", params={"access_token": PAGE_TOKEN}) as resp:
        assert await resp.json() == {"success": True}
    assert (await graph.get(created["id"]))[1]["error"]["error_subcode"] == 33


async def test_injected_faults(graph: Graph, facebook: FacebookWorld) -> None:
    facebook.emulator.fail_next(500, 2, count=1, method="live_videos.create")
    status, body = await graph.post(f"{PAGE_ID}/live_videos")
    assert status == 500 and body["error"]["code"] == 2
    assert (await graph.post(f"{PAGE_ID}/live_videos"))[0] == 200


async def test_live_only_once_media_arrives_then_ended(manual_world: Any) -> None:
    graph, _emulator, clock, arrivals = manual_world
    _, created = await graph.post(f"{PAGE_ID}/live_videos", status="UNPUBLISHED", enable_backup_ingest="true")
    vid = created["id"]
    assert (await graph.post(vid + "/", status="LIVE_NOW")) == (200, {"id": vid})
    assert (await graph.get(vid, fields="status"))[1]["status"] == "UNPUBLISHED"  # nothing arrives yet
    arrivals.names.add(key_of(created["secure_stream_secondary_urls"][0]))  # the backup alone is enough
    _, video = await graph.get(vid, fields="status,broadcast_start_time,ingest_streams")
    assert video["status"] == "LIVE" and video["broadcast_start_time"] == "2020-06-02T12:00:00+0000"
    master, backup = video["ingest_streams"]
    assert master["is_master"] and "stream_health" not in master
    assert backup["stream_health"]["video_codec"] == "H264"
    assert (await graph.post(vid + "/", end_live_video="true")) == (200, {"id": vid})
    assert (await graph.get(vid, fields="status"))[1]["status"] == "LIVE_STOPPED"
    clock.advance(timedelta(seconds=6))
    assert (await graph.get(vid, fields="status"))[1]["status"] == "VOD"
    status, body = await graph.post(vid, status="LIVE_NOW")
    assert status == 400 and "has ended" in body["error"]["message"]


async def test_a_broadcast_stops_after_8_hours(manual_world: Any) -> None:
    graph, _emulator, clock, arrivals = manual_world
    _, created = await graph.post(f"{PAGE_ID}/live_videos", status="LIVE_NOW")
    arrivals.names.add(key_of(created["secure_stream_url"]))
    assert (await graph.get(created["id"], fields="status"))[1]["status"] == "LIVE"
    clock.advance(timedelta(hours=7, minutes=59))
    assert (await graph.get(created["id"], fields="status"))[1]["status"] == "LIVE"
    clock.advance(timedelta(minutes=1))
    assert (await graph.get(created["id"], fields="status"))[1]["status"] == "LIVE_STOPPED"
    errors = (await graph.get(created["id"] + "/errors"))[1]["data"]
    assert errors[0]["error_type"] == "LIMIT_EXCEEDED" and "8 hours" in errors[0]["error_message"]


async def test_an_unused_stream_url_expires_after_24_hours(manual_world: Any) -> None:
    graph, _emulator, clock, _arrivals = manual_world
    planned = str(int((T0 + timedelta(days=2)).timestamp()))
    _, scheduled = await graph.post(
        f"{PAGE_ID}/live_videos", status="SCHEDULED_UNPUBLISHED", planned_start_time=planned
    )
    _, unpublished = await graph.post(f"{PAGE_ID}/live_videos", status="UNPUBLISHED")
    clock.advance(timedelta(hours=24))
    assert (await graph.get(scheduled["id"], fields="status"))[1]["status"] == "SCHEDULED_EXPIRED"
    status, body = await graph.post(unpublished["id"], status="LIVE_NOW")
    assert status == 400 and "expired" in body["error"]["message"]
    errors = (await graph.get(unpublished["id"] + "/errors"))[1]["data"]
    assert errors[0]["error_type"] == "STREAM_URL_EXPIRED"


async def test_a_used_stream_url_does_not_expire(manual_world: Any) -> None:
    graph, _emulator, clock, arrivals = manual_world
    _, created = await graph.post(f"{PAGE_ID}/live_videos", status="UNPUBLISHED")
    arrivals.names.add(key_of(created["secure_stream_url"]))
    await graph.get(created["id"])  # the emulator samples what arrives
    arrivals.names.clear()
    clock.advance(timedelta(hours=30))
    assert (await graph.post(created["id"], status="LIVE_NOW"))[0] == 200


async def test_real_media_on_the_rtmp_server_makes_it_live(graph: Graph, facebook: FacebookWorld) -> None:
    _, created = await graph.post(f"{PAGE_ID}/live_videos", status="LIVE_NOW")
    pusher = Pusher(created["secure_stream_url"], seconds=30)  # key with its query string, as Facebook gives it
    try:
        await facebook.server.wait_for_publisher(key_of(created["secure_stream_url"]))

        async def live() -> Any:
            _, video = await graph.get(created["id"], fields="status,ingest_streams")
            return video if video["status"] == "LIVE" else None

        video = await eventually(live)
        assert video and video["ingest_streams"][0]["stream_health"]["audio_codec"] == "AAC"
    finally:
        await pusher.stop()
