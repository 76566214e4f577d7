"""The YouTube adapter against the emulator: lifecycle with real media, idempotency, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest
from platform_helpers import (
    CLIENT_SECRET,
    REFRESH_TOKEN,
    MemoryJournal,
    Pusher,
    RecordingNotifier,
    YouTubeWorld,
    events,
    fast_youtube_settings,
    make_session,
    youtube_destination,
)

from orchestrator.engine.ports import Platform
from orchestrator.platforms.errors import (
    CredentialsRejected,
    DestinationFailed,
    PlatformUnavailable,
    QuotaExhausted,
    StreamNotActive,
)
from orchestrator.platforms.youtube import YouTubePlatform, broadcast_key


@pytest.fixture
async def platform(
    youtube: YouTubeWorld, journal: MemoryJournal, notifier: RecordingNotifier
) -> AsyncIterator[YouTubePlatform]:
    p = YouTubePlatform(youtube.credentials, journal, youtube.settings, notifier=notifier)
    yield p
    await p.close()


def no_secrets_in(entries: list[MutableMapping[str, Any]], *texts: str) -> None:
    dump = repr(entries)
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, *texts):
        assert secret not in dump


def test_it_is_a_platform(platform: YouTubePlatform) -> None:
    assert isinstance(platform, Platform) and platform.kind == "youtube"


async def test_a_session_goes_live_and_completes_with_real_media(
    platform: YouTubePlatform, youtube: YouTubeWorld, logs: list[MutableMapping[str, Any]]
) -> None:
    session, dest = make_session(), youtube_destination()
    prepared = await platform.prepare("s1/yt-en/prepare", session, dest)

    assert prepared.primary.url == youtube.server.url and prepared.backup is not None
    assert prepared.backup.url == youtube.server.backup_url
    key = prepared.primary.key.get_secret_value()  # type: ignore[union-attr]
    broadcast = youtube.emulator.broadcast(prepared.platform_ids["broadcast"])
    assert broadcast["snippet"]["title"] == "Climate (EN)"
    assert broadcast["snippet"]["description"] == "An English description"
    assert broadcast["snippet"]["scheduledStartTime"] == session.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert broadcast["status"]["lifeCycleStatus"] == "ready" and broadcast["status"]["privacyStatus"] == "public"
    assert broadcast["contentDetails"]["boundStreamId"] == prepared.platform_ids["stream"]
    assert prepared.watch_url == f"https://www.youtube.com/watch?v={broadcast['id']}"
    health = await platform.health(session, dest)
    assert not health.ok and health.status == "ready"

    pusher = Pusher(prepared.primary.publish_url().get_secret_value(), seconds=30)
    try:
        await platform.go_live("s1/yt-en/live", session, dest)
        assert youtube.emulator.broadcast(broadcast["id"])["status"]["lifeCycleStatus"] == "live"
        await platform.go_live("s1/yt-en/live", session, dest)  # again: already live, no error
        health = await platform.health(session, dest)
        assert health.ok and health.status == "ok" and "Resolution mismatch" in health.detail
        await platform.end("s1/yt-en/end", session, dest)
        await platform.end("s1/yt-en/end", session, dest)  # again: already complete
    finally:
        await pusher.stop()
    assert youtube.emulator.broadcast(broadcast["id"])["status"]["lifeCycleStatus"] == "complete"
    seen = events(logs)
    for name in (
        "youtube_token_refreshed",
        "youtube_broadcast_created",
        "youtube_stream_created",
        "youtube_broadcast_bound",
        "youtube_stream_active",
        "youtube_broadcast_live",
        "youtube_broadcast_already_live",
        "youtube_broadcast_completed",
        "youtube_broadcast_already_complete",
    ):
        assert name in seen, name
    no_secrets_in(logs, key)


async def test_with_a_monitor_stream_it_goes_live_through_testing(
    youtube: YouTubeWorld, journal: MemoryJournal, logs: list[MutableMapping[str, Any]]
) -> None:
    settings = fast_youtube_settings(youtube.base_url, monitor_stream=True)
    platform = YouTubePlatform(youtube.credentials, journal, settings)
    session, dest = make_session(), youtube_destination()
    try:
        prepared = await platform.prepare("p", session, dest)
        pusher = Pusher(prepared.backup.publish_url().get_secret_value(), seconds=30)  # type: ignore[union-attr]
        try:
            await platform.preview("v", session, dest)
            assert (
                youtube.emulator.broadcast(prepared.platform_ids["broadcast"])["status"]["lifeCycleStatus"] == "testing"
            )
            await platform.go_live("l", session, dest)
        finally:
            await pusher.stop()
    finally:
        await platform.close()
    transitions = [e["to"] for e in logs if e["event"] == "youtube_broadcast_transition"]
    assert transitions == ["testing", "live"]


async def test_go_live_waits_for_media_that_arrives_late(
    platform: YouTubePlatform, youtube: YouTubeWorld, logs: list[MutableMapping[str, Any]]
) -> None:
    session, dest = make_session(), youtube_destination()
    prepared = await platform.prepare("p", session, dest)
    live = asyncio.create_task(platform.go_live("l", session, dest))
    await asyncio.sleep(0.5)
    assert not live.done()
    pusher = Pusher(prepared.primary.publish_url().get_secret_value(), seconds=30)
    try:
        await asyncio.wait_for(live, 10)
    finally:
        await pusher.stop()
    assert "youtube_stream_waiting" in events(logs) and "youtube_broadcast_live" in events(logs)


async def test_stream_never_active_fails_the_destination_clearly(
    youtube: YouTubeWorld, journal: MemoryJournal, logs: list[MutableMapping[str, Any]]
) -> None:
    settings = fast_youtube_settings(youtube.base_url, stream_active_timeout_s=0.5)
    platform = YouTubePlatform(youtube.credentials, journal, settings)
    session, dest = make_session(), youtube_destination()
    try:
        prepared = await platform.prepare("p", session, dest)
        with pytest.raises(StreamNotActive) as failure:
            await platform.go_live("l", session, dest)
    finally:
        await platform.close()
    assert failure.value.destination == "yt-en" and failure.value.session == "s1"
    assert "no media reached YouTube's ingest within 0.5 s" in str(failure.value)
    assert youtube.emulator.broadcast(prepared.platform_ids["broadcast"])["status"]["lifeCycleStatus"] == "ready"
    assert "youtube_stream_never_active" in events(logs)


# -- idempotency ------------------------------------------------------------------------------


async def test_the_same_action_twice_creates_one_broadcast(platform: YouTubePlatform, youtube: YouTubeWorld) -> None:
    session, dest = make_session(), youtube_destination()
    first, second = await asyncio.gather(
        platform.prepare("s1/yt-en/prepare", session, dest), platform.prepare("s1/yt-en/prepare", session, dest)
    )
    third = await platform.prepare("s1/yt-en/prepare", session, dest)
    assert first.platform_ids == second.platform_ids == third.platform_ids
    assert len(youtube.emulator.broadcast_ids) == 1 and len(youtube.emulator.stream_ids) == 1
    assert youtube.emulator.calls.count("liveBroadcasts.insert") == 1


async def test_a_restart_reuses_what_the_journal_remembers(
    youtube: YouTubeWorld, journal: MemoryJournal, logs: list[MutableMapping[str, Any]]
) -> None:
    session, dest = make_session(), youtube_destination()
    before = YouTubePlatform(youtube.credentials, journal, youtube.settings)
    first = await before.prepare("p", session, dest)
    await before.close()
    after = YouTubePlatform(youtube.credentials, journal, youtube.settings)  # a new process, same journal
    again = await after.prepare("p", session, dest)
    await after.close()
    assert again.platform_ids == first.platform_ids
    assert again.primary.key.get_secret_value() == first.primary.key.get_secret_value()  # type: ignore[union-attr]
    assert len(youtube.emulator.broadcast_ids) == 1
    assert "youtube_broadcast_reused" in events(logs)


async def test_a_broadcast_lost_by_the_journal_is_adopted_not_duplicated(
    youtube: YouTubeWorld, logs: list[MutableMapping[str, Any]]
) -> None:
    session, dest = make_session(), youtube_destination()
    for journal in (MemoryJournal(), MemoryJournal()):  # the second journal knows nothing (crash before writing)
        platform = YouTubePlatform(youtube.credentials, journal, youtube.settings)
        await platform.prepare("p", session, dest)
        await platform.close()
    assert len(youtube.emulator.broadcast_ids) == 1 and len(youtube.emulator.stream_ids) == 1
    assert "youtube_broadcast_adopted" in events(logs) and "youtube_stream_adopted" in events(logs)


async def test_one_reusable_stream_per_destination_or_one_per_session(youtube: YouTubeWorld) -> None:
    s1, s2 = make_session("s1"), make_session("s2", title="Quarantine")
    shared = YouTubePlatform(youtube.credentials, MemoryJournal(), youtube.settings)
    a, b = await shared.prepare("a", s1, youtube_destination()), await shared.prepare("b", s2, youtube_destination())
    await shared.close()
    assert (
        a.platform_ids["stream"] == b.platform_ids["stream"]
        and a.platform_ids["broadcast"] != b.platform_ids["broadcast"]
    )

    own = YouTubePlatform(youtube.credentials, MemoryJournal(), youtube.settings)
    dest = youtube_destination("yt-ko", "seoul-ko", stream_per_session=True)
    c, d = await own.prepare("c", s1, dest), await own.prepare("d", s2, dest)
    await own.close()
    assert c.platform_ids["stream"] != d.platform_ids["stream"]
    assert c.primary.key.get_secret_value() != d.primary.key.get_secret_value()  # type: ignore[union-attr]


# -- faults -----------------------------------------------------------------------------------


async def test_a_broadcast_deleted_in_the_ui_is_recreated_with_a_clear_log_line(
    platform: YouTubePlatform,
    youtube: YouTubeWorld,
    journal: MemoryJournal,
    notifier: RecordingNotifier,
    logs: list[MutableMapping[str, Any]],
) -> None:
    session, dest = make_session(), youtube_destination()
    first = await platform.prepare("p", session, dest)
    youtube.emulator.delete_broadcast(first.platform_ids["broadcast"])
    again = await platform.prepare("p", session, dest)
    assert again.platform_ids["broadcast"] != first.platform_ids["broadcast"]
    assert again.platform_ids["stream"] == first.platform_ids["stream"]  # same key: the output carries on
    assert journal.recall(broadcast_key("yt-en", "s1")) == again.platform_ids["broadcast"]
    recreated = [e for e in logs if e["event"] == "youtube_broadcast_recreated"]
    assert recreated and "no longer exists on YouTube" in recreated[0]["reason"]
    assert notifier.alerts and notifier.alerts[0][0] == "warning" and notifier.alerts[0][3] == "yt-en"


async def test_deleted_before_going_live_is_recreated_and_goes_live(
    platform: YouTubePlatform, youtube: YouTubeWorld
) -> None:
    session, dest = make_session(), youtube_destination()
    prepared = await platform.prepare("p", session, dest)
    youtube.emulator.delete_broadcast(prepared.platform_ids["broadcast"])
    pusher = Pusher(prepared.primary.publish_url().get_secret_value(), seconds=30)
    try:
        await platform.go_live("l", session, dest)
    finally:
        await pusher.stop()
    (live,) = youtube.emulator.broadcast_ids
    assert youtube.emulator.broadcast(live)["status"]["lifeCycleStatus"] == "live"


async def test_401_refreshes_the_token_once(
    platform: YouTubePlatform, youtube: YouTubeWorld, logs: list[MutableMapping[str, Any]]
) -> None:
    session, dest = make_session(), youtube_destination()
    await platform.prepare("p", session, dest)
    youtube.emulator.revoke_access_tokens()
    await platform.prepare("p", session, dest)
    seen = events(logs)
    assert seen.count("youtube_token_refreshed") == 2 and "youtube_token_refused_refreshing" in seen


async def test_401_after_a_fresh_token_fails_the_destination(platform: YouTubePlatform, youtube: YouTubeWorld) -> None:
    youtube.emulator.fail_next(401, count=2)
    with pytest.raises(CredentialsRejected, match="rejected fresh credentials of 'seoul-en'"):
        await platform.prepare("p", make_session(), youtube_destination())


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_429_and_5xx_back_off_and_succeed(
    platform: YouTubePlatform, youtube: YouTubeWorld, status: int, logs: list[MutableMapping[str, Any]]
) -> None:
    youtube.emulator.fail_next(status, count=2, method="liveBroadcasts.insert")
    prepared = await platform.prepare("p", make_session(), youtube_destination())
    assert prepared.platform_ids["broadcast"] in youtube.emulator.broadcast_ids
    assert events(logs).count("youtube_retry") == 2
    assert len(youtube.emulator.broadcast_ids) == 1


async def test_a_platform_that_keeps_failing_is_reported_unavailable(
    platform: YouTubePlatform, youtube: YouTubeWorld
) -> None:
    youtube.emulator.fail_next(500, count=10)
    with pytest.raises(PlatformUnavailable, match="kept failing: HTTP 500 backendError"):
        await platform.prepare("p", make_session(), youtube_destination())


async def test_quota_exhausted_fails_the_destination(
    platform: YouTubePlatform, youtube: YouTubeWorld, logs: list[MutableMapping[str, Any]]
) -> None:
    youtube.emulator.quota_used = youtube.emulator.config.daily_quota - 10
    with pytest.raises(QuotaExhausted, match="quota of this project is spent") as failure:
        await platform.prepare("p", make_session(), youtube_destination())
    assert failure.value.reason == "quotaExceeded"
    assert "youtube_quota_exhausted" in events(logs)


async def test_quota_warning_before_the_budget_runs_out(
    youtube: YouTubeWorld, journal: MemoryJournal, notifier: RecordingNotifier, logs: list[MutableMapping[str, Any]]
) -> None:
    settings = fast_youtube_settings(youtube.base_url, daily_quota=300, quota_warning_at=0.5)
    platform = YouTubePlatform(youtube.credentials, journal, settings, notifier=notifier)
    try:
        await platform.prepare("a", make_session("s1"), youtube_destination())  # 150 units and a few lists
        await platform.prepare("b", make_session("s2"), youtube_destination())
    finally:
        await platform.close()
    low = [e for e in logs if e["event"] == "youtube_quota_low"]
    assert len(low) == 1 and low[0]["spent"] >= 150 and low[0]["daily_quota"] == 300
    assert any("YouTube quota" in a[1] for a in notifier.alerts)
    assert any(k.startswith("youtube/quota/") for k in journal.values)  # survives a restart


async def test_wrong_credentials_are_rejected(
    youtube: YouTubeWorld, journal: MemoryJournal, logs: list[MutableMapping[str, Any]]
) -> None:
    platform = YouTubePlatform(youtube.credentials, journal, youtube.settings)
    try:
        with pytest.raises(CredentialsRejected) as failure:
            await platform.prepare("p", make_session(), youtube_destination(credentials="wrong-yt"))
    finally:
        await platform.close()
    assert failure.value.reason == "invalid_grant" and "re-authorise the channel" in str(failure.value)
    assert "not-the-token" not in str(failure.value)
    no_secrets_in(logs, "not-the-token")


async def test_missing_credentials_name_the_variables(platform: YouTubePlatform) -> None:
    with pytest.raises(DestinationFailed, match="SUMMIT_CRED_NOBODY_CLIENT_ID") as failure:
        await platform.prepare("p", make_session(), youtube_destination(credentials="nobody"))
    assert failure.value.reason == "credentialsMissing"


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda e: setattr(e.config, "live_streaming_enabled", False), "liveStreamingNotEnabled"),
        (
            lambda e: setattr(e.config, "scopes", ("https://www.googleapis.com/auth/youtube.upload",)),
            "insufficientPermissions",
        ),
    ],
)
async def test_403_permission_problems_fail_the_destination_loudly(
    platform: YouTubePlatform, youtube: YouTubeWorld, setup: Any, reason: str, logs: list[MutableMapping[str, Any]]
) -> None:
    setup(youtube.emulator)
    with pytest.raises(DestinationFailed) as failure:
        await platform.prepare("p", make_session(), youtube_destination())
    assert failure.value.reason == reason and failure.value.destination == "yt-en"
    assert str(failure.value).startswith("destination 'yt-en', session 's1':")
    assert any(e["event"] == "youtube_destination_failed" and e["log_level"] == "error" for e in logs)
