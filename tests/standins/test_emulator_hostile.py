"""Hostile requests to the emulators get the platform's own 4xx error body, never a 500.

Each case is one the real API answers with a client error; the emulators run in-process with an
ingest monitor that sees no media (nothing here publishes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from orchestrator.standins.emulators.facebook import FacebookEmulatorConfig, start_facebook_emulator
from orchestrator.standins.emulators.ingest import StatMonitor
from orchestrator.standins.emulators.youtube import YouTubeEmulatorConfig, start_youtube_emulator
from orchestrator.standins.nginx import PublishedStream

PAGE_ID, PAGE_TOKEN = "1234567890", "EAAG-page-token-hostile"
CLIENT_ID, CLIENT_SECRET, REFRESH = "cid.apps", "csecret-hostile", "rt-hostile-1"


async def _nothing_arrives() -> list[PublishedStream]:
    return []


@dataclass
class Served:
    base: str
    http: aiohttp.ClientSession
    headers: dict[str, str]


@pytest.fixture
async def yt() -> AsyncIterator[Served]:
    config = YouTubeEmulatorConfig(CLIENT_ID, CLIENT_SECRET, REFRESH, rtmp_url="rtmp://127.0.0.1:1/live")
    _emu, runner, base = await start_youtube_emulator(config, monitor=StatMonitor(_nothing_arrives))
    try:
        async with aiohttp.ClientSession() as http:
            form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            async with http.post(f"{base}/token", data={**form, "refresh_token": REFRESH}) as resp:
                token = (await resp.json())["access_token"]
            yield Served(base, http, {"Authorization": f"Bearer {token}"})
    finally:
        await runner.cleanup()


@pytest.fixture
async def fb() -> AsyncIterator[Served]:
    config = FacebookEmulatorConfig(page_id=PAGE_ID, page_token=PAGE_TOKEN, rtmp_url="rtmp://127.0.0.1:1/live")
    _emu, runner, base = await start_facebook_emulator(config, monitor=StatMonitor(_nothing_arrives))
    try:
        async with aiohttp.ClientSession() as http:
            yield Served(base, http, {"Authorization": f"OAuth {PAGE_TOKEN}"})
    finally:
        await runner.cleanup()


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


_BROADCAST = "/youtube/v3/liveBroadcasts"
_INSERT = {"part": "snippet,status"}
_GOOD_SNIPPET = {"title": "t", "scheduledStartTime": "2030-01-01T00:00:00Z"}

# (method, path, query, raw body, content type)
YOUTUBE_CASES: dict[str, tuple[str, str, dict[str, str], bytes | None]] = {
    "nested JSON": ("POST", _BROADCAST, _INSERT, _nested(100_000).encode()),
    "array as body": ("POST", _BROADCAST, _INSERT, b"[1, 2, 3]"),
    "number as body": ("POST", _BROADCAST, _INSERT, b"42"),
    "string as body": ("POST", _BROADCAST, _INSERT, b'"snippet"'),
    "snippet an array": ("POST", _BROADCAST, _INSERT, b'{"snippet": [], "status": {"privacyStatus": "private"}}'),
    "huge year": (
        "POST",
        _BROADCAST,
        _INSERT,
        json.dumps(
            {
                "snippet": {**_GOOD_SNIPPET, "scheduledStartTime": "99999999999-01-01T00:00:00Z"},
                "status": {"privacyStatus": "private"},
            }
        ).encode(),
    ),
    "title a number": (
        "POST",
        _BROADCAST,
        _INSERT,
        json.dumps({"snippet": {**_GOOD_SNIPPET, "title": 1e308}, "status": {"privacyStatus": "private"}}).encode(),
    ),
    "NaN in body": ("POST", _BROADCAST, _INSERT, b'{"snippet": {"title": NaN}, "status": {}}'),
    "not UTF-8": ("POST", _BROADCAST, _INSERT, b'{"snippet": {"title": "\xff\xfe"}}'),
    "maxResults=abc": ("GET", _BROADCAST, {"part": "id", "mine": "true", "maxResults": "abc"}, None),
    "maxResults huge": ("GET", _BROADCAST, {"part": "id", "mine": "true", "maxResults": "9" * 400}, None),
    "broadcastStatus=5": ("GET", _BROADCAST, {"part": "id", "broadcastStatus": "5"}, None),
    "bind without id": ("POST", _BROADCAST + "/bind", {"part": "id"}, None),
    "transition to 5": ("POST", _BROADCAST + "/transition", {"part": "id", "id": "x", "broadcastStatus": "5"}, None),
    "pageToken garbage": ("GET", _BROADCAST, {"part": "id", "mine": "true", "pageToken": "%%%\x00"}, None),
    "streams nested": ("POST", "/youtube/v3/liveStreams", {"part": "snippet,cdn"}, _nested(5000).encode()),
}


@pytest.mark.parametrize("case", list(YOUTUBE_CASES))
async def test_youtube_answers_hostile_requests_with_googles_4xx(yt: Served, case: str) -> None:
    verb, path, query, body = YOUTUBE_CASES[case]
    headers = {**yt.headers, "Content-Type": "application/json"}
    async with yt.http.request(verb, yt.base + path, params=query, data=body, headers=headers) as resp:
        text = await resp.text()
    assert 400 <= resp.status < 500, (case, resp.status, text[:300])
    error = json.loads(text)["error"]
    assert error["code"] == resp.status and error["errors"][0]["reason"] and error["message"], text
    assert "Traceback" not in text


_LIVE = f"/v26.0/{PAGE_ID}/live_videos"
FACEBOOK_CASES: dict[str, tuple[str, str, dict[str, str], bytes | None, str]] = {
    "nested JSON": ("POST", _LIVE, {}, _nested(100_000).encode(), "application/json"),
    "array as body": ("POST", _LIVE, {}, b"[1, 2]", "application/json"),
    "number as body": ("POST", _LIVE, {}, b"42", "application/json"),
    "huge planned_start_time": (
        "POST",
        _LIVE,
        {},
        b"status=SCHEDULED_UNPUBLISHED&planned_start_time=" + b"9" * 30,
        "application/x-www-form-urlencoded",
    ),
    "huge ISO planned_start_time": (
        "POST",
        _LIVE,
        {},
        b"status=SCHEDULED_UNPUBLISHED&planned_start_time=99999-01-01T00:00:00Z",
        "application/x-www-form-urlencoded",
    ),
    "negative planned_start_time": (
        "POST",
        _LIVE,
        {},
        b"status=SCHEDULED_UNPUBLISHED&planned_start_time=-99999999999999",
        "application/x-www-form-urlencoded",
    ),
    "broadcast_status=5": ("GET", _LIVE, {"broadcast_status": "5"}, None, ""),
    "broadcast_status=notjson": ("GET", _LIVE, {"broadcast_status": "notjson"}, None, ""),
    'broadcast_status={"a":1}': ("GET", _LIVE, {"broadcast_status": '{"a": 1}'}, None, ""),
    "limit=abc": ("GET", _LIVE, {"limit": "abc"}, None, ""),
    "limit=-1": ("GET", _LIVE, {"limit": "-1"}, None, ""),
    "limit huge": ("GET", _LIVE, {"limit": "9" * 5000}, None, ""),
    "fields nonsense": ("GET", _LIVE, {"fields": "id,nonsense"}, None, ""),
    "not UTF-8 form": ("POST", _LIVE, {}, b"title=\xff\xfe&status=UNPUBLISHED", "application/x-www-form-urlencoded"),
}


@pytest.mark.parametrize("case", list(FACEBOOK_CASES))
async def test_facebook_answers_hostile_requests_with_graphs_4xx(fb: Served, case: str) -> None:
    verb, path, query, body, ctype = FACEBOOK_CASES[case]
    headers = {**fb.headers, **({"Content-Type": ctype} if ctype else {})}
    async with fb.http.request(verb, fb.base + path, params=query, data=body, headers=headers) as resp:
        text = await resp.text()
    assert 400 <= resp.status < 500, (case, resp.status, text[:300])
    error = json.loads(text)["error"]
    assert error["type"] and isinstance(error["code"], int) and error["message"] and error["fbtrace_id"], text
    assert "Traceback" not in text


FAULT_BODIES = [b"not json", b"[1]", b"42", b'{"status": "abc"}', b'{"status": 99999999999999999999}',
                b'{"count": "x"}', b'{"status": 500, "reason": 5}', _nested(100_000).encode()]  # fmt: skip


@pytest.mark.parametrize("body", FAULT_BODIES, ids=range(len(FAULT_BODIES)))
@pytest.mark.parametrize("platform", ["youtube", "facebook"])
async def test_fault_control_refuses_bad_json_with_400(yt: Served, fb: Served, platform: str, body: bytes) -> None:
    served = yt if platform == "youtube" else fb
    async with served.http.post(
        served.base + "/_emulator/faults", data=body, headers={"Content-Type": "application/json"}
    ) as resp:
        text = await resp.text()
    assert resp.status == 400, (resp.status, text[:300])
    assert json.loads(text)["error"] and "Traceback" not in text


TOKEN_BODIES = [b"grant_type=refresh_token&client_id=\xff\xfe", b"x" * (2 * 1024 * 1024), b"%%%&&&===", b"{}"]


@pytest.mark.parametrize("body", TOKEN_BODIES, ids=["not UTF-8", "2 MB", "garbage", "JSON"])
async def test_the_token_endpoint_refuses_bad_forms_with_oauths_400(yt: Served, body: bytes) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with yt.http.post(yt.base + "/token", data=body, headers=headers) as resp:
        text = await resp.text()
    assert 400 <= resp.status < 500, (resp.status, text[:300])
    assert "error" in json.loads(text) and "Traceback" not in text


async def test_a_good_request_still_works(yt: Served, fb: Served) -> None:
    """The validation layer refuses only what is wrong."""
    body = {"snippet": _GOOD_SNIPPET, "status": {"privacyStatus": "private"}}
    async with yt.http.post(yt.base + _BROADCAST, params=_INSERT, json=body, headers=yt.headers) as resp:
        assert resp.status == 200, await resp.text()
    async with fb.http.get(fb.base + _LIVE, params={"broadcast_status": '["LIVE"]', "limit": "5"},
                           headers=fb.headers) as resp:  # fmt: skip
        assert resp.status == 200 and (await resp.json()) == {"data": []}
    fault = {"status": 503, "reason": "backendError", "count": 1}
    async with yt.http.post(yt.base + "/_emulator/faults", json=fault) as resp:
        assert resp.status == 200 and (await resp.json())["pending"] == 1


@pytest.mark.parametrize(
    ("text", "depth"),
    [("[]", 1), ('[[1],{"a":[2]}]', 3), ('"[[[["', 0), ('{"a\\"[":[1]}', 2), ('"open [[[', 0),
     ('["a\\\\",[[1]]]', 3), ("[" * 1000, 1000), ("x", 0)],
)  # fmt: skip
def test_nesting_is_counted_outside_strings_only(text: str, depth: int) -> None:
    from orchestrator.web.commands import max_nesting

    assert max_nesting(text) == depth
    assert max_nesting(text, stop_above=2) == min(depth, 3)
