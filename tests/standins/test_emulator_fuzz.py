"""Hypothesis against the emulators' edges: any JSON body, any query parameters, never a 5xx.

The emulators serve in a background thread's loop; examples are plain blocking HTTP calls."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.standins.emulators.facebook import FacebookEmulatorConfig, start_facebook_emulator
from orchestrator.standins.emulators.ingest import StatMonitor
from orchestrator.standins.emulators.youtube import YouTubeEmulatorConfig, start_youtube_emulator
from orchestrator.standins.nginx import PublishedStream

PAGE_ID, PAGE_TOKEN = "1234567890", "EAAG-fuzz-page-token"


async def _nothing() -> list[PublishedStream]:
    return []


class Served:
    """Both emulators on loopback, in a loop of their own; `token` is a valid YouTube access token."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners: list[Any] = []
        self.yt, self.fb = self._call(self._start())
        form = {"grant_type": "refresh_token", "client_id": "cid", "client_secret": "cs", "refresh_token": "rt"}
        _status, body = request(
            "POST", self.yt + "/token", urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
        )
        self.token = json.loads(body)["access_token"]

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _start(self) -> tuple[str, str]:
        monitor = StatMonitor(_nothing)
        _y, yr, yt = await start_youtube_emulator(
            YouTubeEmulatorConfig("cid", "cs", "rt", "rtmp://127.0.0.1:1/live"), monitor=monitor
        )
        _f, fr, fb = await start_facebook_emulator(
            FacebookEmulatorConfig(PAGE_ID, PAGE_TOKEN, "rtmp://127.0.0.1:1/live"), monitor=monitor
        )
        self.runners += [yr, fr]
        return yt, fb

    async def _stop(self) -> None:
        for r in self.runners:
            await r.cleanup()

    def close(self) -> None:
        self._call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def request(
    verb: str, url: str, body: bytes | None, ctype: str | None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    req = urllib.request.Request(
        url, data=body, method=verb, headers={**({"Content-Type": ctype} if ctype else {}), **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    s = Served()
    yield s
    s.close()


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(
    ["snippet", "status", "contentDetails", "cdn", "title", "scheduledStartTime", "privacyStatus", "x"]
)
bodies = st.dictionaries(keys, json_values | st.dictionaries(keys, json_values, max_size=4), max_size=4) | json_values
values = (
    st.text(max_size=40)
    | st.integers().map(str)
    | st.sampled_from(["", "LIVE", '["LIVE"]', "[1]", "true", "snippet,cdn", "id", "9" * 30, "-1", "1e9", "null"])
)
youtube_params = st.dictionaries(
    st.sampled_from(["part", "id", "mine", "maxResults", "pageToken", "broadcastStatus", "fields", "streamId"]),
    values,
    max_size=4,
)
facebook_params = st.dictionaries(
    st.sampled_from(["fields", "limit", "broadcast_status", "status", "planned_start_time", "title",
                     "end_live_video", "enable_backup_ingest"]),
    values,
    max_size=4,
)  # fmt: skip
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(
    path=st.sampled_from(
        ["liveBroadcasts", "liveStreams", "liveBroadcasts/bind", "liveBroadcasts/transition", "channels"]
    ),
    verb=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    query=youtube_params,
    body=bodies,
)
def test_youtube_never_answers_5xx(served: Served, path: str, verb: str, query: dict[str, str], body: Any) -> None:
    url = f"{served.yt}/youtube/v3/{path}?{urllib.parse.urlencode(query)}"
    raw = json.dumps(body).encode() if verb in ("POST", "PUT") else None
    status, text = request(
        verb, url, raw, "application/json" if raw else None, {"Authorization": f"Bearer {served.token}"}
    )
    assert status < 500, (status, text[:300])
    if status >= 400:
        assert json.loads(text)["error"]["code"] == status


@FUZZ
@given(
    node=st.sampled_from([PAGE_ID, f"{PAGE_ID}/live_videos", "me/live_videos", f"{PAGE_ID}/live_videos/", "123"]),
    verb=st.sampled_from(["GET", "POST", "DELETE"]),
    query=facebook_params,
    as_json=st.booleans(),
    body=bodies,
)
def test_facebook_never_answers_5xx(
    served: Served, node: str, verb: str, query: dict[str, str], as_json: bool, body: Any
) -> None:
    url = f"{served.fb}/v26.0/{node}?{urllib.parse.urlencode({**query, 'access_token': PAGE_TOKEN})}"
    raw, ctype = None, None
    if verb == "POST":
        raw, ctype = (
            (json.dumps(body).encode(), "application/json")
            if as_json
            else (
                urllib.parse.urlencode({k: str(v) for k, v in query.items()}).encode(),
                "application/x-www-form-urlencoded",
            )
        )
    status, text = request(verb, url, raw, ctype)
    assert status < 500, (status, text[:300])
    if status >= 400:
        error = json.loads(text)["error"]
        assert isinstance(error["code"], int) and error["message"]
