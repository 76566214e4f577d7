"""One `Platform` per destination kind, wired from settings: what the composition root needs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orchestrator.clock import Clock
from orchestrator.engine.ports import Journal, Notifier, Platform
from orchestrator.platforms.credentials import CredentialStore
from orchestrator.platforms.facebook import FacebookPlatform
from orchestrator.platforms.file import FilePlatform
from orchestrator.platforms.rtmp import RtmpPlatform
from orchestrator.platforms.settings import FacebookSettings, YouTubeSettings
from orchestrator.platforms.youtube import YouTubePlatform
from orchestrator.redaction import Secrets


def make_platforms(
    *,
    credentials: CredentialStore,
    journal: Journal,
    recordings_dir: Path | str,
    event_id: str,
    youtube: YouTubeSettings | None = None,
    facebook: FacebookSettings | None = None,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    rtmp_redirect: str | None = None,
    secrets: Secrets | None = None,
) -> dict[str, Platform]:
    """Platforms keyed by destination kind ("youtube", "facebook", "rtmp", "file"); `secrets` (the
    run's) receives every credential and token the HTTP adapters obtain."""
    return {
        "youtube": YouTubePlatform(credentials, journal, youtube, clock=clock, notifier=notifier, secrets=secrets),
        "facebook": FacebookPlatform(credentials, journal, facebook, clock=clock, notifier=notifier, secrets=secrets),
        "rtmp": RtmpPlatform(credentials, redirect_to=rtmp_redirect),
        "file": FilePlatform(recordings_dir, event_id),
    }


def for_destinations(platforms: dict[str, Platform], destinations: Sequence[Any]) -> dict[str, Platform]:
    """The same platforms keyed by destination id (as the runner wants them)."""
    return {d.id: platforms[d.kind] for d in destinations}


async def close_platforms(platforms: dict[str, Platform]) -> None:
    """Close the HTTP sessions the adapters opened."""
    for platform in platforms.values():
        close = getattr(platform, "close", None)
        if close is not None:
            await close()
