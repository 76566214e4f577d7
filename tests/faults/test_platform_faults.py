"""Platform faults during a whole (compressed) run, with the real adapters against the emulators on
a local nginx-rtmp: transient errors (500, 429 with Retry-After, an expired token's 401, requests
that time out) are retried without a second broadcast; a permanent one (403) fails that destination
only, with a clear alert, and is journalled as failed (so a restart retries it), never as done."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from orchestrator.engine.view import RunSnapshot
from orchestrator.outputs import OutputsContext, Recordings, Wiring, file_recordings
from orchestrator.platforms.factory import close_platforms, for_destinations
from orchestrator.rehearsal import rehearsal_clock
from orchestrator.schedule.loader import parse_schedule_text
from orchestrator.schedule.model import Schedule
from orchestrator.standins.local_platforms import LocalPlatforms, start_local_platforms
from orchestrator.standins.nginx import RtmpServer
from orchestrator.system import SystemSettings, build_system, make_plan

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.skipif(not RtmpServer.available(), reason="nginx with the RTMP module is not installed"),
]


def _schedule() -> Schedule:
    start = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
    doc = {
        "event": {"id": "faulty", "name": {"en": "Faults"}, "timezone": "UTC"},
        "destinations": [
            {"id": "yt-en", "kind": "youtube", "language": "en", "channel": "Main", "credentials": "yt-main"},
            {"id": "fb-en", "kind": "facebook", "language": "en", "page": "Summit page", "credentials": "fb-main"},
            {"id": "rec-en", "kind": "file", "language": "en"},
        ],
        "sessions": [
            {
                "id": "a",
                "title": {"en": "A"},
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=10)).isoformat(),
                "floor_language": "en",
                "outputs": ["yt-en", "fb-en", "rec-en"],
                "rundown": [{"kind": "slate", "text": "Hello", "duration": "10m"}],
            }
        ],
    }
    return parse_schedule_text(yaml.safe_dump(doc), "faulty.yaml")


class SlowProxy:
    """Forwards to the YouTube emulator; holds the first `slow` requests past the adapter's time-out."""

    def __init__(self, target: str, slow: int, hold_s: float) -> None:
        self.target, self.slow, self.hold_s = target, slow, hold_s
        self.held = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._http = aiohttp.ClientSession()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if "/youtube/v3/" in request.path and self.held < self.slow:
            self.held += 1
            await asyncio.sleep(self.hold_s)  # the adapter has given up by now
        assert self._http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._http.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as resp:
            payload = await resp.read()
            keep = {k: v for k, v in resp.headers.items() if k.lower() in ("content-type", "retry-after")}
            return web.Response(status=resp.status, body=payload, headers=keep)


@dataclass
class FaultyOutputs:
    """The real adapters against the local emulators, with faults queued before the run."""

    name: str = "faulty-platforms"
    local: LocalPlatforms | None = None
    proxy: SlowProxy | None = None

    async def open(self, ctx: OutputsContext, stack: AsyncExitStack) -> Wiring:
        server = RtmpServer()
        await server.start()
        stack.push_async_callback(server.stop)
        fast = {"poll_interval_s": 0.2, "stream_active_timeout_s": 20.0, "healthy_timeout_s": 1.0,
                "backoff_initial_s": 0.2, "request_timeout_s": 1.0}  # fmt: skip
        local = await start_local_platforms(
            ctx.schedule.destinations, server=server, clock=ctx.clock, transition_delay_s=0.2, youtube=fast,
            facebook={"poll_interval_s": 0.2, "media_timeout_s": 20.0, "backoff_initial_s": 0.2},
        )  # fmt: skip
        stack.push_async_callback(local.close)
        self.proxy = SlowProxy(local.youtube_url, slow=2, hold_s=2.5)
        stack.push_async_callback(self.proxy.close)
        local.youtube_settings = local.youtube_settings.model_copy(update={"api_base": await self.proxy.start()})
        yt, fb = local.youtube, local.facebook
        yt.fail_next(500, count=2, method="liveBroadcasts.insert")
        yt.fail_next(429, method="liveStreams.insert", retry_after=0.3)
        yt.fail_next(401, method="liveBroadcasts.bind")  # the access token died: refreshed, asked again
        fb.fail_next(403, 200, "(#200) Requires pages_manage_posts permission", count=10, method="live_videos.create")
        by_kind = local.platforms(ctx.journal, recordings_dir=ctx.recordings_dir, event_id=ctx.schedule.event.id,
                                  clock=ctx.clock, notifier=ctx.notifier)  # fmt: skip
        stack.push_async_callback(close_platforms, by_kind)
        self.local = local
        return Wiring(
            {d.id: d for d in ctx.schedule.destinations}, for_destinations(by_kind, ctx.schedule.destinations)
        )

    async def recordings(self, snapshot: RunSnapshot) -> Recordings:
        return file_recordings(snapshot)


async def test_transient_faults_are_retried_and_a_permanent_one_fails_its_destination_only(tmp_path: Path) -> None:
    schedule = _schedule()
    settings = SystemSettings(journal_path=tmp_path / "j.sqlite", recordings_dir=tmp_path / "rec",
                              media_dir=tmp_path / "media")  # fmt: skip
    the_plan = make_plan(schedule, settings)
    clock = rehearsal_clock(the_plan, 300, start_in_s=1.0, gap_s=0.5)
    outputs = FaultyOutputs()
    async with build_system(schedule, clock, outputs, settings, the_plan=the_plan) as system:
        snapshot = await system.run()
        journal = system.journal
        results = snapshot.results
        assert outputs.local is not None and outputs.proxy is not None
        # YouTube: every fault was met by a retry; one broadcast, and it went live and completed
        yt = {a: r.outcome for a, r in results.items() if "/yt-en/" in a}
        assert set(yt.values()) == {"ok"}, {a: results[a].detail for a in yt}
        assert len(outputs.local.youtube.broadcast_ids) == 1
        assert outputs.local.youtube.faults.pending == 0 and outputs.proxy.held == 2
        # Facebook refused for good: its destination failed, with an alert that says why and where
        assert results["a/fb-en/prepare"].outcome == "failed"
        alerts = [a.message for a in journal.alerts()]
        assert any("fb-en" in m and "pages_manage_posts" in m for m in alerts), alerts
        assert not journal.done("a/fb-en/prepare") and journal.outcome("a/fb-en/prepare") == "failed"
        # … and nothing else was disturbed
        assert results["a/rec-en/end"].outcome == "ok" and results["a/end"].outcome == "ok"
        assert snapshot.state("a").value == "ended"
        # retries happen inside one attempt: the journal has one, ok
        assert [t.outcome for t in journal.attempts("a/yt-en/prepare")] == ["ok"]
