"""Generic RTMP/SRT and file recording destinations."""

from __future__ import annotations

from pathlib import Path

import pytest
from platform_helpers import make_session

from orchestrator.engine.ports import Platform
from orchestrator.platforms.credentials import CredentialStore
from orchestrator.platforms.errors import DestinationFailed
from orchestrator.platforms.file import FilePlatform
from orchestrator.platforms.rtmp import RtmpPlatform
from orchestrator.schedule.model import FileDestination, RtmpDestination


async def test_static_url_and_key_from_the_credential_store(secrets_file: Path) -> None:
    platform = RtmpPlatform(CredentialStore(secrets_file))
    assert isinstance(platform, Platform)
    dest = RtmpDestination.model_validate(
        dict(
            kind="rtmp",
            id="arirang",
            language="en",
            url="rtmps://ingest.example.net/app",
            backup_url="rtmp://backup.example.net/app",
            key="arirang",
        )
    )
    prepared = await platform.prepare("p", make_session(), dest)
    assert prepared.primary.publish_url().get_secret_value() == "rtmps://ingest.example.net/app/arirang-secret-key-0042"
    assert prepared.backup is not None and prepared.backup.url == "rtmp://backup.example.net/app"
    health = await platform.health(make_session(), dest)
    assert health.ok and health.status == "unmonitored"


async def test_a_missing_key_fails_the_destination(secrets_file: Path) -> None:
    dest = RtmpDestination.model_validate(
        dict(kind="rtmp", id="cdn", language="en", url="rtmp://cdn.example.net/live", key="nope")
    )
    with pytest.raises(DestinationFailed, match="SUMMIT_CRED_NOPE_KEY"):
        await RtmpPlatform(CredentialStore(secrets_file)).prepare("p", make_session(), dest)


async def test_a_keyless_srt_destination(secrets_file: Path) -> None:
    dest = RtmpDestination.model_validate(
        dict(kind="rtmp", id="sat", language="ko", url="srt://uplink.example.net:9000?mode=caller")
    )
    prepared = await RtmpPlatform(CredentialStore(secrets_file)).prepare("p", make_session(), dest)
    assert prepared.primary.key is None and prepared.primary.url == "srt://uplink.example.net:9000?mode=caller"


async def test_recordings_follow_the_template(tmp_path: Path) -> None:
    platform = FilePlatform(tmp_path / "recordings", "cac-2020")
    assert isinstance(platform, Platform)
    session = make_session("climate")
    dest = FileDestination.model_validate(dict(kind="file", id="rec-ko", language="ko"))
    prepared = await platform.prepare("p", session, dest)
    path = tmp_path / "recordings" / "cac-2020" / "climate" / "rec-ko.flv"
    assert prepared.primary.url == str(path) and path.parent.is_dir()

    assert (await platform.health(session, dest)).status == "absent"
    path.write_bytes(b"FLV" + bytes(100))
    assert (await platform.health(session, dest)).ok
    assert (await platform.health(session, dest)).status == "stalled"  # no growth since the last look


@pytest.mark.parametrize(
    ("template", "message"),
    [("{event}/{speaker}.flv", "unknown placeholder {speaker}"), ("../../{session}.flv", "leads outside")],
)
async def test_bad_templates_are_refused(tmp_path: Path, template: str, message: str) -> None:
    dest = FileDestination.model_validate(dict(kind="file", id="rec", language="en", path=template))
    with pytest.raises(DestinationFailed, match=message):
        await FilePlatform(tmp_path, "cac-2020").prepare("p", make_session(), dest)
