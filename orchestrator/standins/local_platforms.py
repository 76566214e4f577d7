"""Local stand-ins for every platform an event uses: one nginx-rtmp server and both emulators on
loopback, with credentials minted for every credential name the schedule's destinations use.

A rehearsal runs the real adapters against these (no real credentials needed):

    async with await start_local_platforms(schedule.destinations, clock=clock) as local:
        platforms = local.platforms(journal, recordings_dir=run_dir, event_id=schedule.event.id)
        ...

YouTube destinations get one channel per credential name (one OAuth client, as a Google Cloud
project would be); Facebook destinations one page per credential name; generic RTMP destinations
are redirected to the local server (`<server>/live/<destination id>`).

After the run, what arrived for each output (the server records with a `record_dir`):

    files = await local.collect_recordings(outputs, into=run_dir / "recordings")
    # {(session, destination): run_dir/recordings/<session>/<destination>.flv}

`outputs` are `RecordedOutput`s: the emulators know which recording fed which broadcast or live
video (by the `platform_ids` the adapter handed back); a generic RTMP destination's recording is
the publish under its id within the output's attach..end window. No stream key is needed, and
none is in any file name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
from orchestrator.redaction import Secrets
from orchestrator.schedule.model import FacebookDestination, YouTubeDestination
from orchestrator.standins.emulators.common import digits, random_id
from orchestrator.standins.emulators.facebook import FacebookEmulator, FacebookEmulatorConfig, start_facebook_emulator
from orchestrator.standins.emulators.ingest import StatMonitor
from orchestrator.standins.emulators.youtube import YouTubeEmulator, YouTubeEmulatorConfig, start_youtube_emulator
from orchestrator.standins.nginx import RtmpServer

log = structlog.get_logger(__name__)

# A publish begins a moment after its output is attached; the attach time comes from the runner's
# record of the action, the publish time from nginx's notification (both wall clock).
_WINDOW_SLACK_S = 1.0


@dataclass(frozen=True)
class RecordedOutput:
    """One session's output on one destination, as the rehearsal saw it run.

    `kind` is the destination's kind ("youtube", "facebook", "rtmp"; others, e.g. "file", record
    themselves and are skipped). `platform_ids` is `PreparedDestination.platform_ids` as the
    adapter returned it ({"broadcast", "stream", "channel"} for YouTube, {"live_video", "page"} for
    Facebook, nothing for RTMP). `attached_wall`/`ended_wall` are the wall-clock times
    (`time.time()` scale) the output was attached and its broadcast ended, None if unknown: a
    recording must start within them (give both for generic RTMP destinations: their stream name
    is the destination id, the same for every session)."""

    session: str
    destination: str
    kind: str
    platform_ids: Mapping[str, str] = field(default_factory=dict)
    attached_wall: float | None = None
    ended_wall: float | None = None

    def within(self, started: float) -> bool:
        t0 = self.attached_wall - _WINDOW_SLACK_S if self.attached_wall is not None else float("-inf")
        t1 = self.ended_wall + _WINDOW_SLACK_S if self.ended_wall is not None else float("inf")
        return t0 <= started <= t1


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
        secrets: Secrets | None = None,
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
            secrets=secrets,
        )

    async def collect_recordings(
        self, outputs: Iterable[RecordedOutput], into: Path | str, *, timeout: float = 5.0
    ) -> dict[tuple[str, str], Path]:
        """Move each output's first recording (primary ingest) to `into/<session>/<destination>.flv`.

        Waits (up to `timeout`) for recordings still being closed, so call it once every publisher
        has stopped. Returns {(session, destination): path} for the outputs that have one; a
        recording goes to one output only (outputs are served in the order they were attached)."""
        await self.server.wait_recordings_done(timeout=timeout)
        into = Path(into)
        found: dict[tuple[str, str], Path] = {}
        taken: set[Path] = set()
        by_time = sorted(outputs, key=lambda o: o.attached_wall if o.attached_wall is not None else float("inf"))
        for o in by_time:
            mine = [r for r in self._recordings_for(o) if r[1] not in taken and o.within(r[0])]
            if not mine:
                log.info("local_recording_missing", session=o.session, destination=o.destination, kind=o.kind)
                continue
            _started, path = min(mine)
            taken.add(path)
            target = self.server.move_recording(path, into / o.session / f"{o.destination}.flv")
            found[(o.session, o.destination)] = target
        return found

    def _recordings_for(self, o: RecordedOutput) -> list[tuple[float, Path]]:
        """(start, path) of the recordings the platform says arrived for this output."""
        if o.kind == "youtube" and o.platform_ids.get("broadcast"):
            paths = self.youtube.recordings_of(o.platform_ids["broadcast"])
        elif o.kind == "facebook" and o.platform_ids.get("live_video"):
            paths = self.facebook.recordings_of(o.platform_ids["live_video"])
        elif o.kind == "rtmp":  # redirected here as <server url>/<destination id>
            paths = [r.path for r in self.server.recordings(app=self.server.app, name=o.destination)]
        else:
            return []
        started = {r.path: r.started for r in self.server.recordings()}
        return [(started[p], p) for p in paths if p in started]

    def issued_secrets(self) -> list[str]:
        """Every secret the stand-ins generated or handed out (credentials, tokens, stream keys)."""
        return sorted({*self.youtube.issued_secrets(), *self.facebook.issued_secrets()})

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
    record_dir: Path | str | None = None,
) -> LocalPlatforms:
    """Start what `destinations` need. `youtube`/`facebook` override adapter settings (e.g. polls).
    Without a `server`, one is started (recording to `record_dir`, when given) and stopped by
    `close()`; a given server records if it was made with a `record_dir`."""
    own = server is None
    if server is None:
        server = RtmpServer(record_dir=record_dir)
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
        recordings=server,
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
        recordings=server,
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
