"""`doctor` says exactly what is wrong with each destination, before the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from platform_helpers import (
    CLIENT_SECRET,
    PAGE_TOKEN,
    REFRESH_TOKEN,
    FacebookWorld,
    YouTubeWorld,
    facebook_destination,
    fast_facebook_settings,
    fast_youtube_settings,
    make_session,
    youtube_destination,
)

from orchestrator.platforms.doctor import Finding, doctor
from orchestrator.schedule.model import FileDestination, RtmpDestination, Session
from orchestrator.standins.nginx import free_port


def sessions_on(*destinations: str, hours: float = 1.5) -> list[Session]:
    start = datetime.now(UTC) + timedelta(hours=2)
    return [
        make_session(sid, start=start + timedelta(hours=3 * i), minutes=hours * 60).model_copy(
            update={"outputs": list(destinations)}
        )
        for i, sid in enumerate(("opening", "climate"))
    ]


def by(findings: list[Finding], destination: str, check: str) -> Finding:
    return next(f for f in findings if f.destination == destination and f.check == check)


async def test_a_healthy_setup_has_no_errors(youtube: YouTubeWorld, facebook: FacebookWorld, tmp_path: Path) -> None:
    destinations = [
        youtube_destination(),
        facebook_destination(),
        RtmpDestination.model_validate(
            dict(kind="rtmp", id="arirang", language="en", url=youtube.server.url, key="arirang")
        ),
        FileDestination.model_validate(dict(kind="file", id="rec-en", language="en")),
    ]
    findings = await doctor(
        destinations,
        credentials=youtube.credentials,
        youtube=youtube.settings,
        facebook=facebook.settings,
        sessions=sessions_on("yt-en", "fb-en", "arirang", "rec-en"),
        event_id="cac-2020",
        recordings_dir=tmp_path / "recordings",
    )
    assert [f for f in findings if f.level != "ok"] == []
    assert "channel 'Emulated channel'" in by(findings, "yt-en", "reachability").message
    assert by(findings, "yt-en", "quota").message.count("units needed") == 1
    assert "'Emulated page'" in by(findings, "fb-en", "credentials").message
    assert by(findings, "arirang", "reachability").level == "ok"
    assert "GB free" in by(findings, "rec-en", "storage").message


async def test_every_problem_is_named(youtube: YouTubeWorld, facebook: FacebookWorld, tmp_path: Path) -> None:
    closed = free_port()
    destinations = [
        youtube_destination("yt-en", "wrong-yt"),
        youtube_destination("yt-ko", "nobody"),
        facebook_destination("fb-en", "wrong-fb"),
        RtmpDestination.model_validate(
            dict(kind="rtmp", id="cdn", language="en", url=f"rtmp://127.0.0.1:{closed}/live", key="missing")
        ),
        FileDestination.model_validate(dict(kind="file", id="rec", language="en", path="../{session}.flv")),
    ]
    findings = await doctor(
        destinations,
        credentials=youtube.credentials,
        youtube=youtube.settings,
        facebook=facebook.settings,
        sessions=sessions_on("fb-en", "rec", hours=9),
        recordings_dir=tmp_path,
    )
    assert "invalid_grant" in by(findings, "yt-en", "credentials").message
    assert "SUMMIT_CRED_NOBODY_CLIENT_SECRET" in by(findings, "yt-ko", "credentials").message
    assert "issue a new page token" in by(findings, "fb-en", "credentials").message
    assert "Facebook ends a live video after 8 h" in by(findings, "fb-en", "config").message
    assert "SUMMIT_CRED_MISSING_KEY" in by(findings, "cdn", "credentials").message
    assert f"cannot connect to 127.0.0.1:{closed}" in by(findings, "cdn", "reachability").message
    assert "leads outside the recordings directory" in by(findings, "rec", "config").message
    assert all(f.level == "error" for f in findings if f.destination != "*")
    text = "\n".join(map(str, findings))
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, PAGE_TOKEN, "EAAGnottherighttoken", "not-the-token"):
        assert secret not in text


async def test_scopes_live_streaming_and_quota(youtube: YouTubeWorld) -> None:
    youtube.emulator.config.scopes = ("https://www.googleapis.com/auth/youtube.readonly",)
    findings = await doctor([youtube_destination()], credentials=youtube.credentials, youtube=youtube.settings)
    assert "re-authorise the channel with that scope" in by(findings, "yt-en", "scopes").message

    youtube.emulator.config.scopes = ("https://www.googleapis.com/auth/youtube",)
    youtube.emulator.config.live_streaming_enabled = False
    findings = await doctor([youtube_destination()], credentials=youtube.credentials, youtube=youtube.settings)
    assert "live streaming is not enabled" in by(findings, "yt-en", "permissions").message

    youtube.emulator.config.live_streaming_enabled = True
    small = fast_youtube_settings(youtube.base_url, daily_quota=300)
    findings = await doctor(
        [youtube_destination("yt-en"), youtube_destination("yt-ko", "seoul-ko")],
        credentials=youtube.credentials,
        youtube=small,
        sessions=sessions_on("yt-en", "yt-ko"),
    )
    quota = by(findings, "yt-en, yt-ko", "quota")  # both channels' credentials share one project
    assert quota.level == "error" and "ask Google for more quota" in quota.message


async def test_unreachable_platforms(youtube: YouTubeWorld, facebook: FacebookWorld) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    findings = await doctor(
        [youtube_destination(), facebook_destination()],
        credentials=youtube.credentials,
        youtube=fast_youtube_settings(nowhere, retries=1),
        facebook=fast_facebook_settings(nowhere, retries=1),
    )
    assert "cannot reach the token endpoint" in by(findings, "yt-en", "reachability").message
    assert "cannot reach the Graph API" in by(findings, "fb-en", "reachability").message


async def test_a_secrets_file_readable_by_others_is_flagged(youtube: YouTubeWorld) -> None:
    assert youtube.credentials.secrets_file is not None
    youtube.credentials.secrets_file.chmod(0o644)
    findings = await doctor([], credentials=youtube.credentials)
    assert findings == [
        Finding(
            "*",
            "credentials",
            "warning",
            f"{youtube.credentials.secrets_file} is readable by other users: chmod 600 it",
        )
    ]
