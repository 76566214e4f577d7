"""Where a run's destinations go: the outputs strategies of the composition root.

A live run and a rehearsal differ only in their clock and in one of these:

- `PlatformOutputs`: the real platforms (YouTube, Facebook, RTMP/SRT, files) with real credentials;
- `FileOutputs`: every destination recorded to a file of its own, in its own language;
- `RtmpRedirectOutputs`: every destination pushed to `<url>/<destination id>` on a server the user runs;
- `orchestrator.standins.outputs.EmulatedOutputs`: the real adapters against local emulators of
  both platform APIs on a local nginx-rtmp, whose recordings are read back (rehearsals).

A strategy opens its platforms inside the system's exit stack and, after the run, says where each
output's recording is (for the report).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator.clock import Clock
from orchestrator.engine.events import EventBus
from orchestrator.engine.ports import Journal, Notifier, Platform
from orchestrator.engine.view import RunSnapshot
from orchestrator.platforms.credentials import CredentialStore
from orchestrator.platforms.factory import close_platforms, for_destinations, make_platforms
from orchestrator.platforms.file import FilePlatform
from orchestrator.platforms.rtmp import RtmpPlatform
from orchestrator.platforms.settings import FacebookSettings, YouTubeSettings
from orchestrator.redaction import Secrets
from orchestrator.schedule.model import Destination, FileDestination, RtmpDestination, Schedule

Recordings = dict[tuple[str, str], str]  # (session, destination) → where its output was recorded


@dataclass(frozen=True)
class OutputsContext:
    """What a strategy may use to build its platforms."""

    schedule: Schedule
    clock: Clock
    journal: Journal
    notifier: Notifier
    recordings_dir: Path

    @property
    def secrets(self) -> Secrets | None:
        """The run's secrets, which the bus masks every message with: an adapter adds each token it
        obtains at run time, so it is masked by value everywhere (None: a notifier that is no bus)."""
        return self.notifier.secrets if isinstance(self.notifier, EventBus) else None


@dataclass(frozen=True)
class Wiring:
    destinations: Mapping[str, Destination]  # what each destination id is in this run
    platforms: Mapping[str, Platform]  # destination id → the adapter serving it


class Outputs(Protocol):
    name: str

    async def open(self, ctx: OutputsContext, stack: AsyncExitStack) -> Wiring:
        """Start what the destinations need (closed by `stack`) and say who serves each."""

    async def recordings(self, snapshot: RunSnapshot) -> Recordings:
        """After the run: where each prepared output's recording is, if it has one."""


def file_recordings(snapshot: RunSnapshot) -> Recordings:
    """File destinations name their own path as the ingest (a path is no secret)."""
    return {key: out.ingest for key, out in snapshot.outputs.items() if snapshot.destinations[key[1]].kind == "file"}


@dataclass
class PlatformOutputs:
    """The real platforms (a live run)."""

    credentials: CredentialStore
    youtube: YouTubeSettings | None = None
    facebook: FacebookSettings | None = None
    name: str = "platforms"

    async def open(self, ctx: OutputsContext, stack: AsyncExitStack) -> Wiring:
        by_kind = make_platforms(
            credentials=self.credentials,
            journal=ctx.journal,
            recordings_dir=ctx.recordings_dir,
            event_id=ctx.schedule.event.id,
            youtube=self.youtube or YouTubeSettings(),
            facebook=self.facebook or FacebookSettings(),
            clock=ctx.clock,
            notifier=ctx.notifier,
            secrets=ctx.secrets,
        )
        stack.push_async_callback(close_platforms, by_kind)
        return Wiring(
            {d.id: d for d in ctx.schedule.destinations}, for_destinations(by_kind, ctx.schedule.destinations)
        )

    async def recordings(self, snapshot: RunSnapshot) -> Recordings:
        return file_recordings(snapshot)


@dataclass
class FileOutputs:
    """Every destination recorded to a file of its own, in its own language."""

    name: str = "files"

    async def open(self, ctx: OutputsContext, stack: AsyncExitStack) -> Wiring:
        destinations = {
            d.id: FileDestination(id=d.id, name=d.name or d.id, kind="file", language=d.language)
            for d in ctx.schedule.destinations
        }
        platform = FilePlatform(ctx.recordings_dir, ctx.schedule.event.id)
        return Wiring(destinations, {did: platform for did in destinations})

    async def recordings(self, snapshot: RunSnapshot) -> Recordings:
        return file_recordings(snapshot)


@dataclass
class RtmpRedirectOutputs:
    """Every destination pushed to `<url>/<destination id>` (the stream name is no secret)."""

    url: str
    name: str = "rtmp"

    async def open(self, ctx: OutputsContext, stack: AsyncExitStack) -> Wiring:
        destinations = {
            d.id: RtmpDestination(id=d.id, name=d.name, kind="rtmp", language=d.language, url=self.url)
            for d in ctx.schedule.destinations
        }
        platform = RtmpPlatform(CredentialStore(values={}), redirect_to=self.url)
        return Wiring(destinations, {did: platform for did in destinations})

    async def recordings(self, snapshot: RunSnapshot) -> Recordings:
        return {key: f"{self.url.rstrip('/')}/{key[1]}" for key in snapshot.outputs}
