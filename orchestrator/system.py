"""The composition root: one place where the whole system is built, for a live run, a rehearsal
and the tests alike.

    async with build_system(schedule, clock, outputs, settings) as system:
        system.subscribe(observer)            # the live table, a report collector, …
        await system.serve_dashboard(8765)    # optional
        snapshot = await system.run()

A live run and a rehearsal differ only in their `clock` (`SystemClock`, or a `CompressedClock` over
the plan) and their `outputs` strategy (`orchestrator.outputs`). Everything else — the plan, the
journal, the event bus and the secrets it scrubs, the media plane with its live sources, the
platform adapters and the runner — is wired here once. A new part (participants, the control room)
plugs in here and nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import structlog

from orchestrator.clock import Clock
from orchestrator.engine.control import Control, replayed_plan
from orchestrator.engine.events import AlertRaised, EventBus, LogObserver, Observer, RunEvent
from orchestrator.engine.journal import JournalWatcher, SqliteJournal
from orchestrator.engine.ports import ReturnFeeds
from orchestrator.engine.runner import Runner, RunnerSettings
from orchestrator.engine.view import RunSnapshot
from orchestrator.media.live import RemoteSourceRegistry
from orchestrator.media.plane import AvMediaPlane
from orchestrator.media.settings import MediaSettings
from orchestrator.outputs import Outputs, OutputsContext, Recordings
from orchestrator.participants.service import Participants
from orchestrator.participants.settings import ParticipantSettings
from orchestrator.planning.plan import Plan, PlanSettings, plan
from orchestrator.redaction import Secrets
from orchestrator.schedule.model import Schedule
from orchestrator.web.auth import AccessOptions

if TYPE_CHECKING:
    from aiohttp import web

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SystemSettings:
    journal_path: Path  # the SQLite journal ("nothing is lost if the process is killed")
    recordings_dir: Path = Path("recordings")  # file destinations
    media_dir: Path = Path("media")  # clips named by the schedule
    only: frozenset[str] = frozenset()  # run only these sessions (empty: all)
    media: MediaSettings = field(default_factory=MediaSettings)
    runner: RunnerSettings = field(default_factory=RunnerSettings)
    # people joining by their links (None: nobody can join; remote segments show their fallback)
    participants: ParticipantSettings | None = None


def make_plan(schedule: Schedule, settings: SystemSettings) -> Plan:
    """The plan a system built with these settings runs (a rehearsal needs it to make its clock)."""
    return plan(schedule, PlanSettings(media_root=str(settings.media_dir)), only=set(settings.only) or None)


@dataclass
class System:
    schedule: Schedule
    plan: Plan
    clock: Clock
    bus: EventBus
    secrets: Secrets
    journal: SqliteJournal
    media: AvMediaPlane
    live: RemoteSourceRegistry
    runner: Runner
    outputs: Outputs
    stack: AsyncExitStack
    control: Control  # the control room's commands (the dashboard's API, and what a restart keeps of them)
    participants: Participants | None = None
    dashboard_url: str | None = None
    dashboard_app: web.Application | None = None  # what is served there (its routes, for the auth matrix)

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        return self.bus.subscribe(observer)

    async def serve_dashboard(self, port: int, host: str | None = None, access: AccessOptions | None = None) -> str:
        """The operators' dashboard on HOST:PORT (0: any free port), fed by the run's events; who
        may reach it: `access` (default: no users, loopback only; its session key is kept beside
        the journal)."""
        from orchestrator.web import api
        from orchestrator.web.app import serve_dashboard
        from orchestrator.web.hub import DashboardHub

        hub = DashboardHub(
            self.schedule, self.clock, secrets=self.secrets, plan=self.plan, destinations=self.runner.destinations
        )
        self.subscribe(hub)
        if self.participants is not None:  # started before the hub listened: it lists everyone from now
            self.participants.announce()
        control = self.control
        # the operators write to participants through the API; the participants adapter is the channel
        extensions = [api.extension(api.ControlApi(control, hub, self.journal, self.media, text=self.participants))]
        if self.participants is not None:  # the join pages and WHIP on the same server
            from orchestrator.participants.http import participant_routes

            extensions.append(participant_routes(self.participants))
        access = access or AccessOptions()
        web_runner, url = await serve_dashboard(
            hub,
            host=host or access.host,
            port=port,
            access=access.build(Path(self.journal.path).parent),
            extensions=extensions,
        )
        self.stack.push_async_callback(web_runner.cleanup)
        self.dashboard_url = url
        self.dashboard_app = web_runner.app
        return url

    async def run(self) -> RunSnapshot:
        log.info(
            "system_run_started",
            event_id=self.schedule.event.id,
            sessions=len(self.plan.cue_sheets),
            actions=len(self.plan.actions),
            outputs=self.outputs.name,
            journal=self.journal.path,
        )
        return await self.runner.run()

    async def recordings(self, snapshot: RunSnapshot) -> Recordings:
        """Where each output went, once the run is over; the media plane is closed first, so every
        output has finished writing before it is read back."""
        await self.media.close()
        return await self.outputs.recordings(snapshot)


@asynccontextmanager
async def build_system(
    schedule: Schedule,
    clock: Clock,
    outputs: Outputs,
    settings: SystemSettings,
    *,
    the_plan: Plan | None = None,
    log_events: bool = True,
) -> AsyncIterator[System]:
    """Wire the whole system; everything it started is stopped when the block is left."""
    the_plan = the_plan or make_plan(schedule, settings)
    # The schedule's ids are public: a redirect's stream name equal to a destination id is no secret.
    secrets = Secrets(
        public=[schedule.event.id, *(s.id for s in schedule.sessions), *(d.id for d in schedule.destinations)]
    )
    bus = EventBus(clock, secrets)
    if log_events:
        bus.subscribe(LogObserver())
    async with AsyncExitStack() as stack:
        journal = SqliteJournal(settings.journal_path)
        stack.callback(journal.close)
        bus.subscribe(_journal_alerts(journal))
        journal.watch(_journal_trouble(bus, journal.path))
        flusher = asyncio.ensure_future(_keep_flushing(journal))  # what a full disk refused, tried again
        stack.callback(flusher.cancel)
        live = RemoteSourceRegistry(settings.media)  # the studio feed, remote speakers, live booths
        stack.push_async_callback(live.close)
        loudness = {d.id: d.loudness_target() for d in schedule.destinations}
        media = AvMediaPlane(clock, settings.media, live=live, publish=bus.publish, notifier=bus, loudness=loudness)
        stack.push_async_callback(media.close)
        ctx = OutputsContext(schedule, clock, journal, bus, settings.recordings_dir)
        wiring = await outputs.open(ctx, stack)
        overrides = journal.overrides()  # a restart keeps what the operators did
        the_plan = replayed_plan(the_plan, overrides, journal.actions())
        runner = Runner(
            schedule,
            the_plan,
            clock=clock,
            media=media,
            platforms=wiring.platforms,
            destinations=wiring.destinations,
            journal=journal,
            bus=bus,
            settings=settings.runner,
        )
        control = Control(runner, media, journal, bus, clock)
        control.restore(overrides, journal.alerts())
        participants = None
        if settings.participants is not None:
            # the media plane gives the return feeds once it implements the ReturnFeeds port
            feeds = cast(ReturnFeeds, media) if hasattr(media, "return_feed") else None
            participants = Participants(
                schedule, the_plan, clock, bus, journal, live, settings.participants, feeds=feeds,
                heartbeat=live.heartbeat,
            )  # fmt: skip
            participants.start()
            stack.push_async_callback(participants.close)
        yield System(
            schedule, the_plan, clock, bus, secrets, journal, media, live, runner, outputs, stack, control, participants
        )


def _journal_trouble(bus: EventBus, path: str) -> JournalWatcher:
    """A journal the disk refuses is an alert while it lasts (the run goes on), and when it is over."""
    name = Path(path).name

    def tell(problem: str | None, waiting: int) -> None:
        if problem is None:
            log.warning("journal_written_again", journal=path)
            bus.alert("info", f"the journal {name} is written again: nothing waits in memory any more")
            return
        log.error("journal_write_failed", journal=path, problem=problem, waiting=waiting)
        bus.alert(
            "error",
            f"the journal {name} cannot be written ({problem}): the run goes on, {waiting} records wait in memory; "
            "free its disk — a restart before then would not know what was done since",
        )

    return tell


async def _keep_flushing(journal: SqliteJournal, every_s: float = 2.0) -> None:
    while True:
        await asyncio.sleep(every_s)
        if journal.waiting:
            journal.flush()


def _journal_alerts(journal: SqliteJournal) -> Observer:
    """Every alert goes into the journal (already masked by the bus), so the as-run log keeps it."""

    def observe(event: RunEvent) -> None:
        if isinstance(event, AlertRaised) and not event.restored:
            journal.record_alert(
                level=event.level,
                message=event.message,
                at=event.at.isoformat(),
                session=event.session,
                destination=event.destination,
            )

    return observe
