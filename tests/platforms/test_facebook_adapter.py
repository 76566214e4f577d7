"""The Facebook adapter against the emulator: lifecycle with real media, rules, idempotency, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from platform_helpers import (
    PAGE_TOKEN,
    FacebookWorld,
    MemoryJournal,
    Pusher,
    RecordingNotifier,
    events,
    facebook_destination,
    fast_facebook_settings,
    make_session,
)

from orchestrator.clock import Clock, ManualClock, SystemClock
from orchestrator.engine.ports import Platform
from orchestrator.platforms.errors import CredentialsRejected, DestinationFailed, PlatformUnavailable, StreamNotActive
from orchestrator.platforms.facebook import FacebookPlatform, video_key
from orchestrator.platforms.urls import split_stream_url

T0 = datetime(2020, 6, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Clock:
    return getattr(request, "param", SystemClock())


@pytest.fixture
async def platform(
    facebook: FacebookWorld, journal: MemoryJournal, notifier: RecordingNotifier, clock: Clock
) -> AsyncIterator[FacebookPlatform]:
    p = FacebookPlatform(facebook.credentials, journal, facebook.settings, clock=clock, notifier=notifier)
    yield p
    await p.close()


def test_it_is_a_platform(platform: FacebookPlatform) -> None:
    assert isinstance(platform, Platform) and platform.kind == "facebook"


def test_the_key_is_everything_after_the_application() -> None:
    real = split_stream_url("rtmps://live-api-s.facebook.com:443/rtmp/FB-1234-0-AbCd?s_bl=1&s_sw=0&a=Xy")
    assert real.url == "rtmps://live-api-s.facebook.com:443/rtmp"
    assert real.key.get_secret_value() == "FB-1234-0-AbCd?s_bl=1&s_sw=0&a=Xy"  # type: ignore[union-attr]
    local = split_stream_url("rtmp://127.0.0.1:41935/live/FB-1234-0-AbCd?s_bl=1")
    assert local.publish_url().get_secret_value() == "rtmp://127.0.0.1:41935/live/FB-1234-0-AbCd?s_bl=1"
    with pytest.raises(ValueError):
        split_stream_url("https://example.org/live/x")


async def test_a_session_goes_live_and_ends_with_real_media(
    platform: FacebookPlatform, facebook: FacebookWorld, journal: MemoryJournal, logs: list[MutableMapping[str, Any]]
) -> None:
    session, dest = make_session(), facebook_destination()
    prepared = await platform.prepare("s1/fb-en/prepare", session, dest)
    vid = prepared.platform_ids["live_video"]
    video = facebook.emulator.live_video(vid)
    assert video["status"] == "SCHEDULED_UNPUBLISHED" and video["title"] == "Climate (EN)"
    assert prepared.primary.url == facebook.server.url
    key = prepared.primary.key.get_secret_value()  # type: ignore[union-attr]
    assert key.startswith(f"FB-{vid}-0-") and "?s_bl=1" in key
    assert prepared.backup is not None and prepared.backup.url == facebook.server.backup_url
    assert prepared.watch_url == f"https://www.facebook.com/{dest.page}/videos/{vid}/"
    assert journal.recall(video_key("fb-en", "s1")) == vid
    assert not (await platform.health(session, dest)).ok

    primary = Pusher(prepared.primary.publish_url().get_secret_value(), seconds=30)
    backup = Pusher(prepared.backup.publish_url().get_secret_value(), seconds=30)
    try:
        await platform.go_live("s1/fb-en/live", session, dest)
        assert facebook.emulator.live_video(vid)["status"] == "LIVE"
        await platform.go_live("s1/fb-en/live", session, dest)  # again: already live
        health = await platform.health(session, dest)
        assert health.ok and health.status == "LIVE"
        await platform.end("s1/fb-en/end", session, dest)
        await platform.end("s1/fb-en/end", session, dest)
    finally:
        await primary.stop()
        await backup.stop()
    assert facebook.emulator.live_video(vid)["status"] == "LIVE_STOPPED"
    seen = events(logs)
    for name in (
        "facebook_live_video_created",
        "facebook_ingest_ready",
        "facebook_media_arriving",
        "facebook_live_video_live",
        "facebook_live_video_already_live",
        "facebook_live_video_ended",
        "facebook_live_video_already_ended",
    ):
        assert name in seen, name
    assert key.split("?")[0] not in repr(logs) and PAGE_TOKEN not in repr(logs)


async def test_close_to_the_start_it_creates_an_unpublished_video(
    platform: FacebookPlatform, facebook: FacebookWorld
) -> None:
    prepared = await platform.prepare(
        "p", make_session(start=datetime.now(UTC) + timedelta(minutes=5)), facebook_destination()
    )
    assert facebook.emulator.live_video(prepared.platform_ids["live_video"])["status"] == "UNPUBLISHED"


async def test_more_than_7_days_ahead_is_too_early(platform: FacebookPlatform) -> None:
    with pytest.raises(DestinationFailed, match="at most 7 days ahead") as failure:
        await platform.prepare("p", make_session(start=datetime.now(UTC) + timedelta(days=8)), facebook_destination())
    assert failure.value.reason == "tooEarly"


async def test_a_session_longer_than_8_hours_is_refused(platform: FacebookPlatform, facebook: FacebookWorld) -> None:
    with pytest.raises(DestinationFailed, match="ends a live video after 8 h") as failure:
        await platform.prepare("p", make_session(minutes=8 * 60 + 1), facebook_destination())
    assert failure.value.reason == "sessionTooLong" and facebook.emulator.live_video_ids == []


async def test_the_same_action_twice_creates_one_live_video(
    platform: FacebookPlatform, facebook: FacebookWorld
) -> None:
    session, dest = make_session(), facebook_destination()
    results = await asyncio.gather(*(platform.prepare("s1/fb-en/prepare", session, dest) for _ in range(3)))
    assert len({r.platform_ids["live_video"] for r in results}) == 1
    assert len(facebook.emulator.live_video_ids) == 1 and facebook.emulator.calls.count("live_videos.create") == 1


@pytest.mark.parametrize("minutes_ahead", [60, 5], ids=["scheduled", "unpublished"])
async def test_a_video_created_but_never_brought_home_is_adopted_not_created_again(
    platform: FacebookPlatform, facebook: FacebookWorld, journal: MemoryJournal, minutes_ahead: int
) -> None:
    """A kill (or a lost answer) after Facebook created the live video and before it was journalled:
    the retry finds it on the page instead of creating a second one."""
    session = make_session(start=datetime.now(UTC) + timedelta(minutes=minutes_ahead))
    dest = facebook_destination()
    other = make_session(sid="s2", start=datetime.now(UTC) + timedelta(minutes=minutes_ahead), title="Mobility")
    await platform.prepare("s2/fb-en/prepare", other, dest)  # another session's video is not taken
    facebook.emulator.fail_next(403, 200, "(#200) Requires pages_read_engagement", method="live_video.get")
    with pytest.raises(DestinationFailed):
        await platform.prepare("s1/fb-en/prepare", session, dest)
    assert len(facebook.emulator.live_video_ids) == 2 and journal.recall(video_key("fb-en", "s1")) is None
    prepared = await platform.prepare("s1/fb-en/prepare", session, dest)
    assert len(facebook.emulator.live_video_ids) == 2 and facebook.emulator.calls.count("live_videos.create") == 2
    assert prepared.platform_ids["live_video"] == journal.recall(video_key("fb-en", "s1"))
    assert prepared.platform_ids["live_video"] != journal.recall(video_key("fb-en", "s2"))


async def test_a_live_video_deleted_in_the_ui_is_recreated_at_prepare(
    platform: FacebookPlatform,
    facebook: FacebookWorld,
    notifier: RecordingNotifier,
    logs: list[MutableMapping[str, Any]],
) -> None:
    session, dest = make_session(), facebook_destination()
    first = await platform.prepare("p", session, dest)
    facebook.emulator.delete_live_video(first.platform_ids["live_video"])
    again = await platform.prepare("p", session, dest)
    assert again.platform_ids["live_video"] != first.platform_ids["live_video"]
    recreated = [e for e in logs if e["event"] == "facebook_live_video_recreated"]
    assert recreated and "no longer exists on Facebook" in recreated[0]["reason"]
    assert notifier.alerts[0][3] == "fb-en"


async def test_deleted_at_go_live_fails_the_destination_with_advice(
    platform: FacebookPlatform, facebook: FacebookWorld, notifier: RecordingNotifier
) -> None:
    session, dest = make_session(), facebook_destination()
    prepared = await platform.prepare("p", session, dest)
    facebook.emulator.delete_live_video(prepared.platform_ids["live_video"])
    with pytest.raises(DestinationFailed, match="prepare the destination again") as failure:
        await platform.go_live("l", session, dest)
    assert failure.value.reason == "liveVideoDeleted"
    assert notifier.alerts[-1][0] == "error"


async def test_media_that_never_arrives_fails_going_live(
    facebook: FacebookWorld, journal: MemoryJournal, logs: list[MutableMapping[str, Any]]
) -> None:
    settings = fast_facebook_settings(facebook.base_url, media_timeout_s=0.4)
    platform = FacebookPlatform(facebook.credentials, journal, settings)
    session, dest = make_session(), facebook_destination()
    try:
        prepared = await platform.prepare("p", session, dest)
        with pytest.raises(StreamNotActive, match=r"no media reached Facebook's ingest within 0\.4 s"):
            await platform.go_live("l", session, dest)
    finally:
        await platform.close()
    assert facebook.emulator.live_video(prepared.platform_ids["live_video"])["status"] == "SCHEDULED_UNPUBLISHED"
    assert "facebook_media_never_arrived" in events(logs)


@pytest.mark.parametrize("clock", [ManualClock(T0)], indirect=True)
async def test_an_unused_url_is_replaced_before_its_24_hour_expiry(
    platform: FacebookPlatform, facebook: FacebookWorld, clock: ManualClock, logs: list[MutableMapping[str, Any]]
) -> None:
    session, dest = make_session(start=T0 + timedelta(days=1, hours=2)), facebook_destination()
    first = await platform.prepare("p", session, dest)
    clock.advance(timedelta(hours=22))
    assert (await platform.prepare("p", session, dest)).platform_ids == first.platform_ids
    clock.advance(timedelta(hours=1, minutes=1))  # within the hour before expiry
    again = await platform.prepare("p", session, dest)
    assert again.platform_ids["live_video"] != first.platform_ids["live_video"]
    recreated = [e for e in logs if e["event"] == "facebook_live_video_recreated"]
    assert "expires 24 hours after creation" in recreated[0]["reason"]


async def test_a_bad_page_token_is_rejected_without_leaking_it(
    facebook: FacebookWorld, journal: MemoryJournal, logs: list[MutableMapping[str, Any]]
) -> None:
    platform = FacebookPlatform(facebook.credentials, journal, facebook.settings)
    try:
        with pytest.raises(CredentialsRejected) as failure:
            await platform.prepare("p", make_session(), facebook_destination(credentials="wrong-fb"))
    finally:
        await platform.close()
    assert failure.value.reason == "graph190" and "issue a new page token" in str(failure.value)
    assert "EAAGnottherighttoken" not in str(failure.value) + repr(logs)


async def test_transient_graph_errors_are_retried(
    platform: FacebookPlatform, facebook: FacebookWorld, logs: list[MutableMapping[str, Any]]
) -> None:
    facebook.emulator.fail_next(500, 2, count=2, method="live_videos.create")
    facebook.emulator.fail_next(400, 4, message="(#4) Application request limit reached", method="live_video.get")
    prepared = await platform.prepare("p", make_session(), facebook_destination())
    assert prepared.platform_ids["live_video"] in facebook.emulator.live_video_ids
    assert events(logs).count("facebook_retry") == 3


async def test_a_graph_that_keeps_failing_is_unavailable(platform: FacebookPlatform, facebook: FacebookWorld) -> None:
    facebook.emulator.fail_next(503, 2, count=10)
    with pytest.raises(PlatformUnavailable, match="kept failing"):
        await platform.prepare("p", make_session(), facebook_destination())


async def test_permission_errors_fail_the_destination(platform: FacebookPlatform, facebook: FacebookWorld) -> None:
    facebook.emulator.fail_next(403, 200, "(#200) Requires pages_manage_posts permission", method="live_videos.create")
    with pytest.raises(DestinationFailed, match="lacks a permission") as failure:
        await platform.prepare("p", make_session(), facebook_destination())
    assert failure.value.reason == "graph200"
