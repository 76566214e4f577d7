"""A participants adapter on a real web server, a real event bus, journal and live-source registry
(the media plane's), on a manual clock an hour before the first session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from orchestrator.clock import ManualClock
from orchestrator.engine.events import EventBus, RunEvent
from orchestrator.engine.journal import SqliteJournal
from orchestrator.media.live import RemoteSourceRegistry
from orchestrator.participants.http import participant_routes
from orchestrator.participants.service import Participants
from orchestrator.participants.settings import ParticipantSettings
from orchestrator.planning.plan import PlanSettings, plan
from orchestrator.schedule.model import Schedule

SECRET = "a-test-link-secret-that-is-long-enough"


@dataclass
class Served:
    participants: Participants
    base_url: str
    clock: ManualClock
    events: list[RunEvent]
    live: RemoteSourceRegistry
    journal: SqliteJournal

    def url(self, person: str) -> str:
        return next(link.url(self.base_url) for p, link in self.participants.book.links() if p.id == person)

    def token(self, person: str) -> str:
        return next(link.token for p, link in self.participants.book.links() if p.id == person)


@pytest.fixture
def host_addresses() -> tuple[str, ...]:
    """Where the server gathers ICE host candidates; a test module may override it."""
    return ("127.0.0.1",)


@pytest.fixture
async def served(two_sessions: Schedule, tmp_path: Path, host_addresses: tuple[str, ...]) -> AsyncIterator[Served]:
    the_plan = plan(two_sessions, PlanSettings(media_root=str(tmp_path)))
    clock = ManualClock(min(s.start for s in two_sessions.sessions) - timedelta(hours=1))
    bus = EventBus(clock)
    events: list[RunEvent] = []
    bus.subscribe(events.append)
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    live = RemoteSourceRegistry()
    settings = ParticipantSettings(link_secret=SecretStr(SECRET), host_addresses=host_addresses, stats_every_s=0.5)
    participants = Participants(two_sessions, the_plan, clock, bus, journal, live, settings, heartbeat=live.heartbeat)
    participants.start()
    app = web.Application()
    participant_routes(participants)(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Served(participants, f"http://127.0.0.1:{port}", clock, events, live, journal)
    finally:
        await participants.close()
        await runner.cleanup()
        await live.close()
        journal.close()
