"""Local stand-ins for every platform an event uses: one nginx-rtmp server and both emulators on
loopback, with credentials minted for every credential name the schedule's destinations use.

A rehearsal runs the real adapters against these (no real credentials needed):

    async with await start_local_platforms(schedule.destinations, clock=clock) as local:
        platforms = local.platforms(journal, recordings_dir=run_dir, event_id=schedule.event.id)
        ...

YouTube destinations get one channel per credential name (one OAuth client, as a Google Cloud
project would be); Facebook destinations one page per credential name; generic RTMP destinations
are redirected to the local server (`<server>/live/<destination id>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
from aiohttp import web

from orchestrator.clock import Clock
from orchestrator.engine.ports import Journal, Notifier, Platform
from orchestrator.platforms.credentials import CredentialStore
from orchestrator.platforms.factory import make_platforms
from orchestrator.platforms.settings import FacebookSettings, YouTubeSettings
from orchestrator.schedule.model import FacebookDestination, YouTubeDestination
from orchestrator.standins.emulators.common import digits, random_id
from orchestrator.standins.emulators.facebook import FacebookEmulator, FacebookEmulatorConfig, start_facebook_emulator
from orchestrator.standins.emulators.ingest import StatMonitor
from orchestrator.standins.emulators.youtube import YouTubeEmulator, YouTubeEmulatorConfig, start_youtube_emulator
from orchestrator.standins.nginx import RtmpServer

log = structlog.get_logger(__name__)


@dataclass
class LocalPlatforms:
    server: RtmpServer
    youtube: YouTubeEmulator
    facebook: FacebookEmulator
    youtube_url: str
    facebook_url: str
    credentials: CredentialStore
    youtube_settings: YouTubeSettings
    facebook_settings: FacebookSettings
    _runners: list[web.AppRunner] = field(default_factory=list)
    _own_server: bool = False

    def platforms(
        self,
        journal: Journal,
        *,
        recordings_dir: Path | str,
        event_id: str,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
    ) -> dict[str, Platform]:
        return make_platforms(
            credentials=self.credentials,
            journal=journal,
            recordings_dir=recordings_dir,
            event_id=event_id,
            youtube=self.youtube_settings,
            facebook=self.facebook_settings,
            clock=clock,
            notifier=notifier,
            rtmp_redirect=self.server.url,
        )

    async def close(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if self._own_server:
            await self.server.stop()

    async def __aenter__(self) -> LocalPlatforms:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def start_local_platforms(
    destinations: Sequence[Any],
    *,
    server: RtmpServer | None = None,
    clock: Clock | None = None,
    transition_delay_s: float = 1.0,
    youtube: dict[str, Any] | None = None,
    facebook: dict[str, Any] | None = None,
) -> LocalPlatforms:
    """Start what `destinations` need. `youtube`/`facebook` override adapter settings (e.g. polls)."""
    own = server is None
    if server is None:
        server = RtmpServer()
        await server.start()
    values: dict[str, dict[str, str]] = {}
    client_id, client_secret = f"{digits(12)}-emulated.apps.googleusercontent.com", "GOCSPX-" + random_id(28)
    channels: dict[str, str] = {}  # refresh token → channel title
    for d in destinations:
        if isinstance(d, YouTubeDestination) and d.credentials not in values:
            refresh = "1//emulated-" + random_id(40)
            values[d.credentials] = {"client_id": client_id, "client_secret": client_secret, "refresh_token": refresh}
            channels[refresh] = d.name or d.channel
    pages: dict[str, tuple[str, str]] = {}  # page id → (token, name)
    for d in destinations:
        if isinstance(d, FacebookDestination) and d.credentials not in values:
            page_id = d.page if d.page.isdigit() else digits(15)
            token = "EAAG" + random_id(60, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
            values[d.credentials] = {"page_id": page_id, "page_token": token}
            pages[page_id] = (token, d.name or d.page)
    monitor = StatMonitor.for_server(server)
    first_refresh, *more = list(channels) or ["1//emulated-unused"]
    yt_emulator, yt_runner, yt_url = await start_youtube_emulator(
        YouTubeEmulatorConfig(
            client_id,
            client_secret,
            first_refresh,
            server.url,
            server.backup_url,
            channel_title=channels.get(first_refresh, "Emulated channel"),
            more_channels={r: channels[r] for r in more},
            transition_delay_s=transition_delay_s,
        ),
        monitor=monitor,
        clock=clock,
    )
    first_page, *other_pages = list(pages) or [digits(15)]
    fb_emulator, fb_runner, fb_url = await start_facebook_emulator(
        FacebookEmulatorConfig(
            first_page,
            pages.get(first_page, ("EAAG-unused", ""))[0],
            server.url,
            server.backup_url,
            page_name=pages.get(first_page, ("", "Emulated page"))[1],
            more_pages={p: pages[p] for p in other_pages},
        ),
        monitor=monitor,
        clock=clock,
    )
    log.info("local_platforms_started", youtube=yt_url, facebook=fb_url, rtmp=server.url, credentials=sorted(values))
    return LocalPlatforms(
        server=server,
        youtube=yt_emulator,
        facebook=fb_emulator,
        youtube_url=yt_url,
        facebook_url=fb_url,
        credentials=CredentialStore(values=values),
        youtube_settings=YouTubeSettings(**{"api_base": yt_url, "token_url": yt_url + "/token", **(youtube or {})}),
        facebook_settings=FacebookSettings(**{"graph_base": fb_url, **(facebook or {})}),
        _runners=[yt_runner, fb_runner],
        _own_server=own,
    )
