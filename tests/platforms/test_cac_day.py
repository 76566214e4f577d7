"""A whole day of the CAC Global Summit 2020 (3 June: five sessions, the Korean and the English
YouTube channel, the English Facebook page on the climate session, the Arirang feed) driven through
the platform adapters against the local emulators a rehearsal uses, with real media pushed all day."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from platform_helpers import FAST_FACEBOOK, FAST_YOUTUBE, MemoryJournal, Pusher, RecordingNotifier

from orchestrator.engine.ports import Platform, PreparedDestination
from orchestrator.platforms.factory import close_platforms
from orchestrator.schedule.loader import load_schedule
from orchestrator.schedule.model import Schedule, Session
from orchestrator.standins.local_platforms import start_local_platforms
from orchestrator.standins.nginx import RtmpServer

SCHEDULE = Path(__file__).resolve().parents[2] / "schedules" / "cac-2020.yaml"


def day_moved_to_now(schedule: Schedule, day: str) -> list[Session]:
    """The day's sessions, moved so the first starts in 30 minutes (spacing kept)."""
    sessions = [s for s in schedule.sessions if s.start.date().isoformat() == day]
    shift = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30) - sessions[0].start
    return [s.model_copy(update={"start": s.start + shift, "end": s.end + shift}) for s in sessions]


@pytest.fixture
async def world(rtmp_server: RtmpServer, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    schedule = load_schedule(SCHEDULE)
    local = await start_local_platforms(
        schedule.destinations, server=rtmp_server, transition_delay_s=0.2, youtube=FAST_YOUTUBE, facebook=FAST_FACEBOOK
    )
    journal, notifier = MemoryJournal(), RecordingNotifier()
    platforms = local.platforms(journal, recordings_dir=tmp_path, event_id=schedule.event.id, notifier=notifier)
    try:
        yield {
            "schedule": schedule,
            "local": local,
            "platforms": platforms,
            "journal": journal,
            "notifier": notifier,
        }
    finally:
        await close_platforms(platforms)
        await local.close()


async def test_a_whole_day_of_the_cac_summit(world: dict[str, Any], logs: list[MutableMapping[str, Any]]) -> None:
    schedule: Schedule = world["schedule"]
    day = day_moved_to_now(schedule, "2020-06-03")
    assert [s.id for s in day] == [
        "climate-environment",
        "quarantine",
        "education",
        "city-sharing",
        "citizen-participation",
    ]
    platforms: dict[str, Platform] = world["platforms"]
    pushers: dict[str, Pusher] = {}  # by publish URL: an output keeps pushing while its key stays
    keys: dict[str, set[str]] = {}

    async def each(verb: str, session: Session) -> list[Any]:
        calls = []
        for did in session.outputs:
            dest = schedule.destination(did)
            calls.append(getattr(platforms[dest.kind], verb)(f"{session.id}/{did}/{verb}", session, dest))
        return await asyncio.gather(*calls)

    async def prepare(session: Session) -> None:
        for prepared in await each("prepare", session):
            assert isinstance(prepared, PreparedDestination)
            url = prepared.primary.publish_url().get_secret_value()
            keys.setdefault(prepared.destination_id, set()).add(url)
            if url not in pushers:
                pushers[url] = Pusher(url, seconds=60)

    try:
        await prepare(day[0])
        await each("go_live", day[0])
        for before, session in itertools.pairwise(day):
            await prepare(session)  # T−30: while the previous session is still on air
            await each("end", before)
            await each("go_live", session)
            for did in ("yt-ko", "yt-en"):
                health = await platforms["youtube"].health(session, schedule.destination(did))
                assert health.ok, health.detail
        await each("end", day[-1])
    finally:
        for pusher in pushers.values():
            await pusher.stop()

    yt, fb = world["local"].youtube, world["local"].facebook
    broadcasts = [yt.broadcast(b) for b in yt.broadcast_ids]
    assert len(broadcasts) == 10 and {b["status"]["lifeCycleStatus"] for b in broadcasts} == {"complete"}
    titles: dict[str, list[str]] = {b["snippet"]["channelId"]: [] for b in broadcasts}
    for b in broadcasts:
        titles[b["snippet"]["channelId"]].append(b["snippet"]["title"])
    assert sorted(titles.values()) == sorted(
        [[s.title.get("en") for s in day], [s.title.get("ko") for s in day]]
    )  # each channel got the day in its own language
    assert len(keys["yt-ko"]) == len(keys["yt-en"]) == 1  # one reusable stream per channel: one key all day
    assert len(yt.stream_ids) == 2
    assert keys["arirang"] == {world["local"].server.url + "/arirang"}  # the partner feed stays on this machine
    (video,) = fb.live_video_ids
    assert fb.live_video(video)["status"] == "LIVE_STOPPED" and len(keys["fb-en"]) == 1
    spent = [int(v) for k, v in world["journal"].values.items() if k.startswith("youtube/quota/")]
    assert spent == [yt.quota_used] and yt.quota_used < 10_000  # our count agrees with the platform's
    assert world["notifier"].alerts == []
    assert [e for e in logs if e["log_level"] in ("warning", "error")] == []
