"""The YouTube emulator speaks the contract: discovery-document validation, OAuth, state machines,
quota, faults — each answered with the body the real API gives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from platform_helpers import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, REFRESH_TOKEN_KO, Pusher, YouTubeWorld, eventually

from orchestrator.clock import ManualClock
from orchestrator.standins.emulators.common import serve
from orchestrator.standins.emulators.discovery import Discovery
from orchestrator.standins.emulators.youtube import YouTubeEmulator, YouTubeEmulatorConfig
from orchestrator.standins.nginx import PublishedStream

BROADCAST = {
    "snippet": {"title": "World Mayors' Meeting", "scheduledStartTime": "2020-06-02T13:00:00Z"},
    "status": {"privacyStatus": "unlisted"},
    "contentDetails": {"monitorStream": {"enableMonitorStream": False}},
}
STREAM = {"snippet": {"title": "EN"}, "cdn": {"ingestionType": "rtmp", "resolution": "720p", "frameRate": "30fps"}}


class Api:
    """A bare HTTP client, so the tests see exactly what goes over the wire."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base, self.token = http, base, ""

    async def refresh(self, **overrides: str) -> tuple[int, dict[str, Any]]:
        form = {
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
            **overrides,
        }
        async with self.http.post(self.base + "/token", data=form) as resp:
            body = await resp.json()
            if resp.status == 200:
                self.token = body["access_token"]
            return resp.status, body

    async def call(
        self, verb: str, path: str, params: dict[str, str], body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"} if (token or self.token) else {}
        async with self.http.request(
            verb, f"{self.base}/youtube/v3/{path}", params=params, json=body, headers=headers
        ) as resp:
            text = await resp.text()
            return resp.status, (await resp.json(content_type=None)) if text else None


@pytest.fixture
async def api(youtube: YouTubeWorld) -> Any:
    async with aiohttp.ClientSession() as http:
        client = Api(http, youtube.base_url)
        assert (await client.refresh())[0] == 200
        yield client


def reason(body: dict[str, Any]) -> str:
    return str(body["error"]["errors"][0]["reason"])


# -- OAuth ------------------------------------------------------------------------------------


async def test_token_refresh_issues_hour_long_bearer_tokens(youtube: YouTubeWorld) -> None:
    async with aiohttp.ClientSession() as http:
        status, body = await Api(http, youtube.base_url).refresh()
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "https://www.googleapis.com/auth/youtube"


@pytest.mark.parametrize(
    ("override", "status", "error"),
    [
        ({"refresh_token": "1//stolen"}, 400, "invalid_grant"),
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "other.apps.googleusercontent.com"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
    ],
)
async def test_wrong_credentials_are_refused_like_google(
    youtube: YouTubeWorld, override: dict[str, str], status: int, error: str
) -> None:
    async with aiohttp.ClientSession() as http:
        got_status, body = await Api(http, youtube.base_url).refresh(**override)
    assert (got_status, body["error"]) == (status, error)
    assert "error_description" in body


async def test_api_calls_need_a_valid_bearer_token(api: Api) -> None:
    status, body = await api.call("GET", "liveBroadcasts", {"part": "id", "mine": "true"}, token="")
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED" and reason(body) == "required"
    status, body = await api.call("GET", "liveBroadcasts", {"part": "id", "mine": "true"}, token="ya29.forged")
    assert status == 401 and reason(body) == "authError"
    assert body["error"]["errors"][0]["location"] == "Authorization"


async def test_access_tokens_expire_after_an_hour(rtmp_server: Any) -> None:
    clock = ManualClock(datetime(2020, 6, 2, tzinfo=UTC))
    config = YouTubeEmulatorConfig(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, rtmp_server.url)
    emulator = YouTubeEmulator(config, monitor=_NoMedia(), clock=clock)
    runner, base = await serve(emulator.app())
    try:
        async with aiohttp.ClientSession() as http:
            client = Api(http, base)
            await client.refresh()
            assert (await client.call("GET", "liveStreams", {"part": "id", "mine": "true"}))[0] == 200
            clock.advance(timedelta(seconds=3601))
            status, body = await client.call("GET", "liveStreams", {"part": "id", "mine": "true"})
            assert status == 401 and reason(body) == "authError"
    finally:
        await runner.cleanup()


class _NoMedia:
    async def stream(self, app_url: str, name: str) -> PublishedStream | None:
        return None


async def test_insufficient_scope_is_403_insufficient_permissions(rtmp_server: Any) -> None:
    config = YouTubeEmulatorConfig(
        CLIENT_ID,
        CLIENT_SECRET,
        REFRESH_TOKEN,
        rtmp_server.url,
        scopes=("https://www.googleapis.com/auth/youtube.upload",),
    )
    runner, base = await serve(YouTubeEmulator(config, monitor=_NoMedia()).app())
    try:
        async with aiohttp.ClientSession() as http:
            client = Api(http, base)
            await client.refresh()
            status, body = await client.call("GET", "liveBroadcasts", {"part": "id", "mine": "true"})
    finally:
        await runner.cleanup()
    assert status == 403 and reason(body) == "insufficientPermissions"


# -- the discovery document -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "path", "params", "body", "status", "why", "where"),
    [
        ("GET", "liveBroadcasts", {"part": "id", "mine": "true", "colour": "red"}, None, 400, "badRequest", None),
        ("GET", "liveBroadcasts", {"mine": "true"}, None, 400, "required", "part"),
        ("GET", "liveBroadcasts", {"part": "snippet,thumbnails", "mine": "true"}, None, 400, "unknownPart", "part"),
        (
            "GET",
            "liveBroadcasts",
            {"part": "id", "broadcastStatus": "soon"},
            None,
            400,
            "invalidParameter",
            "broadcastStatus",
        ),
        ("GET", "liveBroadcasts", {"part": "id", "mine": "yes"}, None, 400, "invalidParameter", "mine"),
        (
            "GET",
            "liveStreams",
            {"part": "id", "mine": "true", "maxResults": "51"},
            None,
            400,
            "invalidParameter",
            "maxResults",
        ),
        ("POST", "liveBroadcasts/transition", {"part": "status", "id": "x"}, None, 400, "required", "broadcastStatus"),
        (
            "POST",
            "liveBroadcasts/transition",
            {"part": "status", "id": "x", "broadcastStatus": "on-air"},
            None,
            400,
            "invalidParameter",
            "broadcastStatus",
        ),
        ("POST", "liveBroadcasts", {"part": "snippet,status"}, {**BROADCAST, "colour": "red"}, 400, "badRequest", None),
        (
            "POST",
            "liveBroadcasts",
            {"part": "snippet,status"},
            {**BROADCAST, "status": {"privacyStatus": "secret"}},
            400,
            "invalid",
            None,
        ),
        (
            "POST",
            "liveBroadcasts",
            {"part": "snippet,status"},
            {**BROADCAST, "snippet": {"title": 42}},
            400,
            "invalid",
            None,
        ),
        ("PATCH", "liveBroadcasts", {"part": "id"}, None, 404, "notFound", None),
        ("GET", "liveBroadcasts/everything", {"part": "id"}, None, 404, "notFound", None),
        (
            "GET",
            "liveBroadcasts",
            {"part": "id", "mine": "true", "broadcastStatus": "all"},
            None,
            400,
            "incompatibleParameters",
            None,
        ),
    ],
)
async def test_requests_off_the_discovery_document_get_the_real_error(
    api: Api, verb: str, path: str, params: dict[str, str], body: Any, status: int, why: str, where: str | None
) -> None:
    got, answer = await api.call(verb, path, params, body)
    assert got == status
    error = answer["error"]
    assert error["code"] == status and error["message"] and reason(answer) == why
    assert set(error["errors"][0]) >= {"message", "domain", "reason"}
    if where:
        assert error["errors"][0]["location"] == where and error["errors"][0]["locationType"] == "parameter"


def test_part_names_come_from_the_discovery_document() -> None:
    doc = Discovery.load()
    assert doc.method("liveBroadcasts.insert").parts >= {"id", "snippet", "contentDetails", "status"}
    assert "contentDetails" in doc.method("liveStreams.insert").parts  # "content_details" in its description
    assert "thumbnails" not in doc.method("liveBroadcasts.list").parts
    assert doc.route("POST", "youtube/v3/liveBroadcasts/bind").id == "youtube.liveBroadcasts.bind"  # type: ignore[union-attr]


async def test_fields_selects_a_partial_response(api: Api) -> None:
    await api.call("POST", "liveBroadcasts", {"part": "snippet,status,contentDetails"}, BROADCAST)
    status, body = await api.call(
        "GET",
        "liveBroadcasts",
        {"part": "snippet,status", "mine": "true", "fields": "items(id,status/lifeCycleStatus)"},
    )
    assert status == 200
    assert list(body) == ["items"] and set(body["items"][0]) == {"id", "status"}
    assert body["items"][0]["status"] == {"lifeCycleStatus": "created"}


# -- state machines ---------------------------------------------------------------------------


async def test_broadcast_insert_validates_what_youtube_requires(api: Api) -> None:
    status, body = await api.call(
        "POST",
        "liveBroadcasts",
        {"part": "snippet,status"},
        {"snippet": {"title": "x"}, "status": {"privacyStatus": "public"}},
    )
    assert status == 400 and reason(body) == "scheduledStartTimeRequired"
    assert body["error"]["errors"][0]["domain"] == "youtube.liveBroadcast"


async def test_transitions_without_media_are_refused(api: Api) -> None:
    _, b = await api.call("POST", "liveBroadcasts", {"part": "snippet,status,contentDetails"}, BROADCAST)
    _, s = await api.call("POST", "liveStreams", {"part": "snippet,cdn,status"}, STREAM)
    assert b["status"]["lifeCycleStatus"] == "created"
    assert s["status"]["streamStatus"] == "ready" and s["status"]["healthStatus"]["status"] == "noData"
    ingest = s["cdn"]["ingestionInfo"]
    assert ingest["ingestionAddress"].startswith("rtmp://127.0.0.1:") and len(ingest["streamName"]) == 24

    status, body = await api.call(
        "POST", "liveBroadcasts/transition", {"part": "status", "id": b["id"], "broadcastStatus": "live"}
    )
    assert status == 403 and reason(body) == "invalidTransition"  # not bound yet
    status, bound = await api.call(
        "POST", "liveBroadcasts/bind", {"part": "id,contentDetails,status", "id": b["id"], "streamId": s["id"]}
    )
    assert status == 200 and bound["status"]["lifeCycleStatus"] == "ready"
    assert bound["contentDetails"]["boundStreamId"] == s["id"]
    status, body = await api.call(
        "POST", "liveBroadcasts/transition", {"part": "status", "id": b["id"], "broadcastStatus": "live"}
    )
    assert status == 403 and reason(body) == "errorStreamInactive"
    status, body = await api.call(
        "POST", "liveBroadcasts/transition", {"part": "status", "id": b["id"], "broadcastStatus": "complete"}
    )
    assert status == 403 and reason(body) == "invalidTransition"
    status, body = await api.call("POST", "liveBroadcasts/bind", {"part": "id", "id": b["id"], "streamId": "nope"})
    assert status == 404 and reason(body) == "liveStreamNotFound"


async def test_stream_is_active_only_while_media_arrives_and_the_broadcast_goes_live(
    api: Api, youtube: YouTubeWorld
) -> None:
    _, b = await api.call(
        "POST",
        "liveBroadcasts",
        {"part": "snippet,status,contentDetails"},
        {**BROADCAST, "contentDetails": {"monitorStream": {"enableMonitorStream": True}}},
    )
    _, s = await api.call("POST", "liveStreams", {"part": "snippet,cdn,status"}, STREAM)
    await api.call("POST", "liveBroadcasts/bind", {"part": "id", "id": b["id"], "streamId": s["id"]})
    ingest = s["cdn"]["ingestionInfo"]
    pusher = Pusher(f"{ingest['ingestionAddress']}/{ingest['streamName']}", seconds=30)
    try:
        await youtube.server.wait_for_publisher(ingest["streamName"])
        status = await eventually(lambda: stream_status(api, s["id"], "active"))
        assert status and status["streamStatus"] == "active"
        # 320x180 arrives on a 720p stream: YouTube warns, health "ok"
        assert status["healthStatus"]["status"] == "ok"
        assert [i["type"] for i in status["healthStatus"]["configurationIssues"]] == ["resolutionMismatch"]

        async def transition(to: str) -> tuple[int, Any]:
            return await api.call(
                "POST", "liveBroadcasts/transition", {"part": "status", "id": b["id"], "broadcastStatus": to}
            )

        assert (await transition("live"))[0] == 403  # monitor stream on: testing first
        code, body = await transition("testing")
        assert code == 200 and body["status"]["lifeCycleStatus"] == "testStarting"
        await asyncio.sleep(0.3)
        code, body = await transition("live")
        assert code == 200 and body["status"]["lifeCycleStatus"] == "liveStarting"
        code, body = await transition("live")
        assert code == 403 and reason(body) == "redundantTransition"
        await asyncio.sleep(0.3)
        _, listed = await api.call("GET", "liveBroadcasts", {"part": "snippet,status", "id": b["id"]})
        assert listed["items"][0]["status"]["lifeCycleStatus"] == "live"
        assert "actualStartTime" in listed["items"][0]["snippet"]
        assert (await transition("complete"))[1]["status"]["lifeCycleStatus"] == "complete"
        assert reason((await transition("complete"))[1]) == "redundantTransition"
    finally:
        await pusher.stop()
    await youtube.server.wait_until_gone(ingest["streamName"])
    assert await eventually(lambda: stream_status(api, s["id"], "inactive"))


async def stream_status(api: Api, stream_id: str, wanted: str) -> dict[str, Any] | None:
    _, listed = await api.call("GET", "liveStreams", {"part": "status", "id": stream_id})
    status: dict[str, Any] = listed["items"][0]["status"]
    return status if status["streamStatus"] == wanted else None


# -- quota and faults -------------------------------------------------------------------------


async def test_quota_is_charged_per_method_until_spent(api: Api, youtube: YouTubeWorld) -> None:
    youtube.emulator.config.daily_quota = 102
    assert (await api.call("POST", "liveBroadcasts", {"part": "snippet,status"}, BROADCAST))[0] == 200
    assert (await api.call("POST", "liveStreams", {"part": "snippet,cdn"}, STREAM))[0] == 200
    assert youtube.emulator.quota_used == 100
    assert (await api.call("GET", "liveStreams", {"part": "id", "mine": "true"}))[0] == 200  # 1 unit
    status, body = await api.call("POST", "liveBroadcasts", {"part": "snippet,status"}, BROADCAST)
    assert status == 403 and reason(body) == "quotaExceeded"
    assert body["error"]["errors"][0]["domain"] == "youtube.quota"
    assert (await api.call("GET", "liveStreams", {"part": "id", "mine": "true"}))[0] == 200  # the last unit


async def test_injected_faults_answer_the_next_matching_calls(api: Api, youtube: YouTubeWorld) -> None:
    youtube.emulator.fail_next(500, count=2, method="liveStreams.list")
    youtube.emulator.fail_next(429, method="liveBroadcasts.insert", retry_after=2)
    status, body = await api.call("GET", "liveBroadcasts", {"part": "id", "mine": "true"})
    assert status == 200  # another method: unaffected
    for _ in range(2):
        status, body = await api.call("GET", "liveStreams", {"part": "id", "mine": "true"})
        assert status == 500 and reason(body) == "backendError"
    assert (await api.call("GET", "liveStreams", {"part": "id", "mine": "true"}))[0] == 200
    async with api.http.post(
        f"{api.base}/youtube/v3/liveBroadcasts",
        params={"part": "snippet,status"},
        json=BROADCAST,
        headers={"Authorization": f"Bearer {api.token}"},
    ) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "2"
        assert reason(await resp.json()) == "rateLimitExceeded"


async def test_a_broadcast_deleted_in_the_ui_is_gone(api: Api, youtube: YouTubeWorld) -> None:
    _, b = await api.call("POST", "liveBroadcasts", {"part": "snippet,status"}, BROADCAST)
    async with api.http.delete(f"{api.base}/_emulator/broadcasts/{b['id']}") as resp:
        assert resp.status == 204
    _, listed = await api.call("GET", "liveBroadcasts", {"part": "id", "id": b["id"]})
    assert listed["items"] == []
    status, body = await api.call("POST", "liveBroadcasts/bind", {"part": "id", "id": b["id"], "streamId": "x"})
    assert status == 404 and reason(body) == "liveBroadcastNotFound"


async def test_delete_answers_204_and_lists_page(api: Api) -> None:
    ids = [(await api.call("POST", "liveBroadcasts", {"part": "snippet,status"}, BROADCAST))[1]["id"] for _ in range(3)]
    status, page = await api.call("GET", "liveBroadcasts", {"part": "id", "mine": "true", "maxResults": "2"})
    assert status == 200 and len(page["items"]) == 2 and page["pageInfo"]["totalResults"] == 3
    _, rest = await api.call(
        "GET", "liveBroadcasts", {"part": "id", "mine": "true", "pageToken": page["nextPageToken"]}
    )
    assert [i["id"] for i in page["items"] + rest["items"]] == ids
    assert await api.call("DELETE", "liveBroadcasts", {"id": ids[0]}) == (204, None)


async def test_each_refresh_token_is_its_own_channel(api: Api) -> None:
    _, english = await api.call("POST", "liveBroadcasts", {"part": "snippet,status"}, BROADCAST)
    korean = Api(api.http, api.base)
    assert (await korean.refresh(refresh_token=REFRESH_TOKEN_KO))[0] == 200
    _, mine = await korean.call("GET", "liveBroadcasts", {"part": "id", "mine": "true"})
    assert mine["items"] == []
    status, body = await korean.call("POST", "liveBroadcasts/bind", {"part": "id", "id": english["id"]})
    assert status == 404 and reason(body) == "liveBroadcastNotFound"
    _, channel = await korean.call("GET", "channels", {"part": "snippet", "mine": "true"})
    assert channel["items"][0]["snippet"]["title"] == "Emulated Korean channel"
    assert channel["items"][0]["id"] != english["snippet"]["channelId"]
